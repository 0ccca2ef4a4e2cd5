"""Import appeal outcomes (spark-submit jobs/appeal.py FILE): uphold / restore, through the same import as
moderator decisions (enforcement/import_run.py; jobs/review.py --kind appeal runs the same).

`file_appeal` records an appeal an account holder filed (the `appeals` table the console lists as open
until an outcome is imported); the platform's intake calls it, the demo files one."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.core.lake import Lake
from genuine.core.schemas import APPEALS
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.decisions import Kind
from genuine.enforcement.ids import stable_id_py
from genuine.enforcement.import_run import ImportRun, decision_file
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.io import import_decisions, merge

KIND: Kind = "appeal"


def run(cfg: Config, path: str | Path, run_id: str | None = None, spark: SparkSession | None = None) -> ImportRun:
    ecfg = enforcement_config(cfg)
    path = decision_file(path)
    with job(f"{KIND}-import", cfg, {"file": str(path), "kind": KIND}, run_id, spark) as ctx:
        return import_decisions(ctx, path, KIND, ecfg)


def file_appeal(lake: Lake, account_id: str, statement: str, filed_at: datetime, source: str,
                appealed_action_id: str | None = None) -> str:
    """Record one filed appeal; its id hashes (account, filed_at): filing the same appeal twice adds nothing."""
    filed_at = filed_at if filed_at.tzinfo else filed_at.replace(tzinfo=UTC)
    micros = int(filed_at.timestamp() * 1_000_000)
    appeal_id = stable_id_py(["appeal-filed", account_id, str(micros)])
    row = (appeal_id, account_id, filed_at, statement, appealed_action_id, source, datetime.now(UTC))
    merge(lake, "appeals", lake.spark.createDataFrame([row], APPEALS), txn=None)
    return appeal_id


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("file", type=Path)
    args = p.parse_args(argv)
    run(config_from(args), args.file, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
