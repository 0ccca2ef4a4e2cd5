"""Score every account of a feature snapshot with the champion model (spark-submit jobs/score.py).

A scoring run is identified by (snapshot, feature table version, model name and version): re-running it
finds its application transaction already in the scores table and writes nothing (it does not even
score: the check comes first).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core import catalog, tracking
from genuine.core.config import Config
from genuine.core.errors import TableNotFound
from genuine.core.lake import Lake, WriteResult
from genuine.jobs.common import base_parser, config_from, job
from genuine.models.scoring import SCORES, load_champion, pick_snapshot, score_with_champion, scoring_key

log = logging.getLogger(__name__)


@dataclass
class ScoreRun:
    run_id: str
    scoring_key: str              # (snapshot, feature table version, model version): the idempotency key
    snapshot_date: date
    feature_table_version: int
    model_name: str
    model_version: str
    rows: int                     # rows written by this run (0 when the scoring run was already committed)
    version: int | None           # scores table version committed, None when nothing was written
    skipped: str | None
    table: str


def run(cfg: Config, snapshot: date | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> ScoreRun:
    with job("score", cfg, {"snapshot": str(snapshot) if snapshot else None}, run_id, spark) as ctx:
        lake = ctx.lake
        fv = ctx.ledger.read("features")
        if fv is None:
            raise TableNotFound(f"no feature table at {cfg.table('features')}: run `genuine features` first")
        feats = lake.read("features", version=fv)
        snap = pick_snapshot(feats, fv, snapshot)
        champ = load_champion(tracking.configure(cfg.mlflow), cfg.mlflow.account_model)
        key = scoring_key(snap, fv, champ.name, champ.version)
        txn = ("score", key)
        if lake.already_committed("scores", txn):
            result = WriteResult(None, 0, "txn already committed")
        elif run_id is not None and _has_rows(lake, snap, run_id):
            # A retry whose first attempt committed under another key (the champion moved since): the run
            # id is the scoring run's, so its rows are never written twice.
            result = WriteResult(None, 0, "run already committed")
        else:
            scores = score_with_champion(feats.where(F.col("snapshot_date") == F.lit(snap)), champ,
                                         feature_table_version=fv, scoring_run_id=ctx.run_id,
                                         scored_at=datetime.now(UTC))
            result = lake.append("scores", scores, schema=SCORES, txn=txn,
                                 partition_by=catalog.table("scores").partition_by)
        ctx.ledger.wrote("scores", result)
        ctx.ledger.count("scored", result.rows)
        log.info("scoring %s: %d rows -> %s (%s)", key, result.rows, lake.uri("scores"),
                 f"version {result.version}" if result.version is not None else result.skipped)
        return ScoreRun(ctx.run_id, key, snap, fv, champ.name, champ.version, result.rows, result.version,
                        result.skipped, lake.uri("scores"))


def _has_rows(lake: Lake, snap: date, scoring_run_id: str) -> bool:
    if not lake.exists("scores"):
        return False
    mine = lake.read("scores").where((F.col("snapshot_date") == F.lit(snap))
                                     & (F.col("scoring_run_id") == F.lit(scoring_run_id)))
    return bool(mine.limit(1).count())


def parser() -> argparse.ArgumentParser:
    """The entrypoint's arguments (also what the schedules are checked against, tests/schedules)."""
    p = base_parser(__doc__ or "")
    p.add_argument("--snapshot", type=date.fromisoformat, default=None, help="snapshot date, default: the latest")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run(config_from(args), args.snapshot, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
