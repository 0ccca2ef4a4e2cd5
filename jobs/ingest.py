"""Ingest a platform export into the raw Delta tables (spark-submit jobs/ingest.py DIR)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.ingest import IngestReport, ingest
from genuine.jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)


def run(cfg: Config, export_dir: str | Path, run_id: str | None = None,
        spark: SparkSession | None = None) -> IngestReport:
    with job("ingest", cfg, {"export_dir": str(export_dir)}, run_id, spark) as ctx:
        report = ingest(ctx.lake, export_dir, ctx.ledger)
    return report


def parser() -> argparse.ArgumentParser:
    """The entrypoint's arguments (also what the schedules are checked against, tests/schedules)."""
    p = base_parser(__doc__ or "")
    p.add_argument("export_dir")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    report = run(config_from(args), args.export_dir, args.run_id)
    unbalanced = [e for e, c in report.entities.items() if not c.balanced]
    return 1 if unbalanced else 0


if __name__ == "__main__":
    sys.exit(main())
