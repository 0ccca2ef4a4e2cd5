"""Import appeal outcomes (spark-submit jobs/appeal.py FILE): uphold / restore, through the same import as
moderator decisions (enforcement/import_run.py; jobs/review.py --kind appeal runs the same)."""

from __future__ import annotations

import sys
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.decisions import Kind
from genuine.enforcement.import_run import ImportRun, decision_file
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.io import import_decisions

KIND: Kind = "appeal"


def run(cfg: Config, path: str | Path, run_id: str | None = None, spark: SparkSession | None = None) -> ImportRun:
    ecfg = enforcement_config(cfg)
    path = decision_file(path)
    with job(f"{KIND}-import", cfg, {"file": str(path), "kind": KIND}, run_id, spark) as ctx:
        return import_decisions(ctx, path, KIND, ecfg)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("file", type=Path)
    args = p.parse_args(argv)
    run(config_from(args), args.file, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
