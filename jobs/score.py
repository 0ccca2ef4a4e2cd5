"""Score every account of a feature snapshot with the champion model (spark-submit jobs/score.py).

A scoring run is identified by (snapshot, feature table version, model version): re-running it finds
its commit already in the scores table and writes nothing.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.config import Config
from jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)


@dataclass
class ScoreRun:
    run_id: str
    scoring_key: str
    snapshot_date: date
    model_version: str
    rows: int
    version: int | None


def run(cfg: Config, snapshot: date | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> ScoreRun:
    from models.account_model import configure_mlflow
    from models.scoring import SCORES, load_champion, score_with_champion

    with job("score", cfg, {"snapshot": str(snapshot) if snapshot else None}, run_id, spark) as ctx:
        lake = ctx.lake
        fv = ctx.ledger.read("features")
        if fv is None:
            raise ValueError("no feature table: run `genuine features` first")
        feats = lake.read("features", version=fv)
        snap = snapshot or feats.agg(F.max("snapshot_date")).first()[0]
        champ = load_champion(configure_mlflow(cfg.mlflow), cfg.mlflow.account_model)
        key = f"{snap}:features@{fv}:{champ.name}@{champ.version}"
        scores = score_with_champion(feats.where(F.col("snapshot_date") == F.lit(snap)), champ,
                                     feature_table_version=fv, scoring_run_id=ctx.run_id,
                                     scored_at=datetime.now(UTC))
        result = lake.append("scores", scores, schema=SCORES, txn=("score", key))
        ctx.ledger.wrote("scores", result)
        ctx.ledger.count("scored", result.rows)
        log.info("scoring %s: %d rows -> %s (%s)", key, result.rows, lake.uri("scores"),
                 f"version {result.version}" if result.version is not None else result.skipped)
        return ScoreRun(ctx.run_id, key, snap, str(champ.version), result.rows, result.version)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--snapshot", type=date.fromisoformat, default=None)
    args = p.parse_args(argv)
    run(config_from(args), args.snapshot, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
