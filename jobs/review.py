"""Import moderator decisions (spark-submit jobs/review.py FILE) or appeal outcomes (--kind appeal).

Every line ends applied, recorded as not applied (with why) or rejected to quarantine (with why).
Applied decisions update account_status, add action-log rows (and statements for new restrictions)
and become training labels in raw_labels, the table jobs/train.py reads. Ids are content hashes and
every write carries the transaction ("<kind>-import", run id): re-importing a file adds nothing, and a
killed import retried with the same --run-id completes exactly once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.decisions import Kind
from genuine.enforcement.import_run import ImportRun, decision_file
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.io import import_decisions

log = logging.getLogger(__name__)


def run(cfg: Config, path: str | Path, kind: Kind = "review", run_id: str | None = None,
        spark: SparkSession | None = None) -> ImportRun:
    ecfg = enforcement_config(cfg)
    path = decision_file(path)
    with job(f"{kind}-import", cfg, {"file": str(path), "kind": kind}, run_id, spark) as ctx:
        return import_decisions(ctx, path, kind, ecfg)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("file", type=Path)
    p.add_argument("--kind", choices=["review", "appeal"], default="review")
    args = p.parse_args(argv)
    run(config_from(args), args.file, args.kind, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
