"""`genuine bench features`: wall time, CPU seconds, peak memory and events/s per core of each feature
family and of the whole snapshot, on a simulated lake (figures from devtools/bench/meter.py)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.core.lake import Lake
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.core.session import get_spark
from genuine.devtools.bench.meter import ProcessMeter, Reading, spark_cores
from genuine.devtools.bench.scratch import scratch_config
from genuine.devtools.simulate import run as simulate
from genuine.features.checkpoints import ensure_checkpoint_dir
from genuine.features.registry import FAMILIES, Family
from genuine.features.snapshot import (
    FamilyConfigs,
    FeaturesConfig,
    Inputs,
    assemble,
    cut_inputs,
    default_snapshot_date,
    end_of_day,
    family_frame,
)
from genuine.jobs import features as job
from genuine.jobs import ingest

log = logging.getLogger(__name__)

STEPS = [*FAMILIES, "snapshot", "job"]


def bench_features(cfg: Config, accounts: int, days: int, out: Path, seed: int, steps: list[str] | None = None,
                   reuse: bool = False) -> dict[str, Any]:
    """Simulate (before the JVM starts), ingest the export with the real ingest job (timed as step
    `ingest`), then time each family and the whole snapshot.

    The lake and MLflow store are OUT/lake and OUT/mlflow.db (scratch_config). With `reuse`, a lake this
    command built earlier in `out` for the same accounts, days and seed is measured again without
    simulating and ingesting.
    """
    wanted = check_steps(steps)
    load_step = "ingest"
    cfg = scratch_config(cfg, out)
    export = out / "export"
    marker, spec = out / "bench-input.json", {"accounts": accounts, "days": days, "seed": seed}
    reused = reuse and marker.is_file() and json.loads(marker.read_text()) == spec
    if not reused:
        shutil.rmtree(out / "lake", ignore_errors=True)
        (out / "mlflow.db").unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
    figures: dict[str, Any] = {"accounts": accounts, "days": days, "reused_lake": reused}
    began = time.perf_counter()
    if not reused:
        summary = simulate(cfg, accounts, days, seed, export)        # forks workers: no JVM yet
        figures["simulated_rows"] = summary.events
    figures["simulate_s"] = time.perf_counter() - began

    spark = get_spark(cfg)
    figures["load_avg_start"] = os.getloadavg()
    meter = ProcessMeter.for_spark(spark)
    if not reused:
        figures[load_step] = step_figures(meter.measure(lambda: ingest.run(cfg, export, spark=spark)))
        marker.write_text(json.dumps(spec))
    figures.update(measure_steps(cfg, spark, wanted, meter))
    if not reused:
        figures["steps"] = [load_step, *figures["steps"]]
        _rates(figures, [load_step])
    figures["load_avg_end"] = os.getloadavg()
    log.info("bench features: %s", figures)
    return figures


def check_steps(steps: list[str] | None) -> list[str]:
    """The steps to time (default: every family and the snapshot); an unknown one is a ValueError."""
    wanted = steps or [*FAMILIES, "snapshot"]
    unknown = sorted(set(wanted) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown bench step(s) {unknown}; known: {STEPS}")
    return wanted


def step_figures(r: Reading) -> dict[str, Any]:
    """A step's figures: wall, CPU of the JVM (with its Python workers) and of the driver, their peaks."""
    return {
        "wall_s": r.wall_s,
        "cpu_s_driver": r.cpu_s["driver"],
        "cpu_s_jvm": r.cpu_s["jvm"],
        "peak_rss_mib_driver": r.peak_rss_mib["driver"],
        "peak_rss_mib_jvm": r.peak_rss_mib["jvm"],
        "peaks_per_step": r.peaks_per_span,
    }


def measure_steps(cfg: Config, spark: SparkSession, steps: list[str],
                  meter: ProcessMeter | None = None) -> dict[str, Any]:
    """Time each wanted step on the lake of `cfg`, inputs cut at the default snapshot date.

    Every step reads its inputs from the Delta tables and ends in a `noop` write, so a step's time is
    the work of that family alone (scan, cut, aggregate), without the cost of storing its output. The
    optional `job` step is the real `genuine features` run: snapshot + Delta write + run ledger.
    """
    wanted = check_steps(steps)
    meter = meter or ProcessMeter.for_spark(spark)
    fcfg = cfg.section("features", FeaturesConfig)
    ensure_checkpoint_dir(spark, cfg.lake.root, fcfg.snapshot)
    lake = Lake(spark, cfg)
    frames = {e: lake.read(RAW_TABLE[e]) if lake.exists(RAW_TABLE[e]) else spark.createDataFrame([], s)
              for e, s in RAW_SCHEMAS.items()}
    snapshot_date = default_snapshot_date(frames["interactions"], frames["posts"])
    as_of = end_of_day(snapshot_date)
    scores = job.post_scores(lake, cfg, frames["posts"], "bench")
    inputs = cut_inputs(Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                               frames["reports"], frames["labels"], scores), as_of)
    rows = {e: getattr(inputs, e).count() for e in RAW_SCHEMAS}
    figures: dict[str, Any] = {"cores": spark_cores(spark), "snapshot_date": snapshot_date, "rows": rows,
                               "events": sum(rows.values()), "jvm_max_heap_mib": meter.max_heap_mib}
    cfgs = FamilyConfigs.of(fcfg)

    def family_step(fam: Family) -> Callable[[], None]:
        return lambda: family_frame(fam, inputs, as_of, cfgs).write.format("noop").mode("overwrite").save()

    for fam in FAMILIES:
        if fam in wanted:
            figures[fam] = step_figures(meter.measure(family_step(fam)))
            log.info("bench features: %s %s", fam, figures[fam])

    def whole() -> None:
        parts = [family_frame(fam, inputs, as_of, cfgs) for fam in FAMILIES]
        assemble(parts, snapshot_date, as_of, {}, "bench").write.format("noop").mode("overwrite").save()

    if "snapshot" in wanted:
        figures["snapshot"] = step_figures(meter.measure(whole))
    if "job" in wanted:
        figures["job"] = step_figures(meter.measure(lambda: job.run(cfg, snapshot_date, spark=spark)))
    figures["steps"] = [s for s in STEPS if s in wanted]
    _rates(figures, figures["steps"])
    return figures


def _rates(figures: dict[str, Any], steps: list[str]) -> None:
    """events/s per core (wall) and events per CPU second of the given measured steps, in place."""
    for step in steps:
        m = figures[step]
        m["events_per_s_per_core"] = figures["events"] / m["wall_s"] / figures["cores"] if m["wall_s"] else None
        cpu = m["cpu_s_jvm"] + m["cpu_s_driver"]
        m["events_per_cpu_s"] = figures["events"] / cpu if cpu else None
