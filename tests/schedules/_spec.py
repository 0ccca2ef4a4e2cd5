"""schedules/pipeline.yml, read once for the schedule tests (main environment and the Airflow one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "schedules" / "pipeline.yml"
BUNDLE = ROOT / "databricks.yml"
DAG_FOLDER = ROOT / "schedules" / "airflow"


def spec() -> dict[str, Any]:
    return yaml.safe_load(PIPELINE.read_text())


def expected_args(job: str, task: dict[str, Any], fill: dict[str, str]) -> list[str]:
    """What an orchestrator must pass: the task's arguments, the common ones, the run id of the day."""
    s = spec()
    return [*(a.format(**fill) for a in task["args"]), *(a.format(**fill) for a in s["common_args"]),
            "--run-id", f"{job}-{task['name']}-{fill['date']}"]
