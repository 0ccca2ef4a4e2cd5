"""Platform simulator: a synthetic export in genuine's input contract, with ground truth for evaluation.

See docs/simulator.md for the populations and strategies and the signals each one plants.
"""

from __future__ import annotations

from genuine.devtools.simulator.engine import SimulationSummary, simulate
from genuine.devtools.simulator.params import DEFAULT_SHARES, POPULATIONS, STRATEGIES, STRATEGY_POPULATION
from genuine.devtools.simulator.schema import ENTITIES, EXPORT_SCHEMAS, TRUTH_DIR, TRUTH_FILE, TRUTH_SCHEMA

__all__ = [
    "DEFAULT_SHARES", "ENTITIES", "EXPORT_SCHEMAS", "POPULATIONS", "STRATEGIES", "STRATEGY_POPULATION",
    "SimulationSummary", "TRUTH_DIR", "TRUTH_FILE", "TRUTH_SCHEMA", "simulate",
]
