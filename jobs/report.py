"""Write the run report of one scoring + enforcement run (the last step of `genuine daily` and the demo).

It reads back what the run wrote (its scores, its queue and actions, at the versions recorded in the
ledger) and, given the simulator's ground truth, measures precision and recall; without truth it gives the
volumes. The report is a Markdown file (+ a PNG with truth) that a re-run rewrites with the same content.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.enforcement.run_report import (
    RunReport,
    outcome_counts,
    recorded_decisions,
    summarize,
    write_report,
)
from genuine.jobs.common import job
from genuine.jobs.io import read_pinned

log = logging.getLogger(__name__)

TITLE = "genuine run report"


def run(cfg: Config, scoring_run_id: str, out_dir: Path, truth: Path | None = None,
        breaker_reason: str | None = None, context: dict[str, Any] | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> RunReport:
    params = {"scoring_run_id": scoring_run_id, "out_dir": str(out_dir), "truth": str(truth) if truth else None}
    with job("report", cfg, params, run_id, spark) as ctx:
        lake, ledger = ctx.lake, ctx.ledger
        scores = read_pinned(lake, ledger, "scores").where(F.col("scoring_run_id") == F.lit(scoring_run_id))
        decisions = recorded_decisions(read_pinned(lake, ledger, "review_queue"),
                                       read_pinned(lake, ledger, "action_log"), scoring_run_id)
        truth_df = ctx.spark.read.parquet(str(truth)) if truth is not None else None
        report = summarize(outcome_counts(scores, decisions, truth_df), breaker_reason=breaker_reason)
        ledger.count("accounts_scored", report.summary["accounts_scored"])
        return write_report(report, out_dir, TITLE, {"scoring run": scoring_run_id, **(context or {})})
