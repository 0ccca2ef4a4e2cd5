"""Audit (spark-submit jobs/audit.py explain ACCOUNT_ID | replay SCORING_RUN_ID).

explain: the chain from an account's actions back to raw evidence, every step read at the Delta version
         the step recorded (feature values through time travel, raw events at the snapshot's inputs).
replay:  re-scores the accounts of a scoring run from the recorded feature table version with the
         recorded model version and compares with the stored scores; exit status 0 only if all match.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.errors import NoScoringRun
from genuine.core.lake import Lake
from genuine.core.session import get_spark
from genuine.enforcement.audit import (
    AuditTrail,
    ReplayResult,
    compare_scores,
    render_replay,
    render_trail,
    replay_result,
)
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.inputs import scoring_run_info
from genuine.enforcement.model_registry import model_facts
from genuine.enforcement.trail import collect_trail
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.io import read_pinned
from genuine.models.scoring import load_model_version, score_with_champion

log = logging.getLogger(__name__)


def explain(cfg: Config, account_id: str, spark: SparkSession | None = None) -> AuditTrail:
    """Collect the audit trail of one account (read-only: no run is recorded)."""
    n_events = enforcement_config(cfg).audit.sample_events
    lake = Lake(spark or get_spark(cfg), cfg)
    # The registry is opened only when a score row names a model version.
    return collect_trail(lake, account_id, lambda name, v: model_facts(tracking.client(cfg.mlflow), name, v),
                         n_events)


def replay(cfg: Config, scoring_run_id: str, run_id: str | None = None,
           spark: SparkSession | None = None, shown: int = 20) -> ReplayResult:
    """Re-score a scoring run from its recorded feature table version and model version."""
    tol = enforcement_config(cfg).audit.score_tolerance
    with job("audit-replay", cfg, {"scoring_run_id": scoring_run_id}, run_id, spark) as ctx:
        lake, ledger = ctx.lake, ctx.ledger
        sv = ledger.read("scores")
        if sv is None:
            raise NoScoringRun("no scores table")
        recorded = lake.read("scores", version=sv).where(F.col("scoring_run_id") == F.lit(scoring_run_id))
        info = scoring_run_info(recorded, scoring_run_id)
        if info.feature_table_version is None:
            raise ValueError(f"scoring run {scoring_run_id} records no feature table version: cannot replay")
        fv = info.feature_table_version
        snapshot = read_pinned(lake, ledger, "features", fv)
        model = load_model_version(tracking.configure(cfg.mlflow), info.model_name, info.model_version)
        feats = snapshot.join(recorded.select("account_id", "snapshot_date").distinct(),
                              ["account_id", "snapshot_date"], "left_semi")
        # Not compared (a replay is not a new scoring); the recorded time keeps the rows identical in shape.
        scored_at = (info.scored_at or datetime.now(UTC))
        scored_at = scored_at.replace(tzinfo=UTC) if scored_at.tzinfo is None else scored_at
        replayed = score_with_champion(feats, model, feature_table_version=fv, scoring_run_id=scoring_run_id,
                                       scored_at=scored_at)
        result = replay_result(compare_scores(recorded, replayed, tol), scoring_run_id,
                               f"{model.name}@{model.version}", fv, tol, shown)
        ledger.count("replayed", result.accounts)
        ledger.count("matched", result.matched)
        log.info("replay of %s: %d of %d match", scoring_run_id, result.matched, result.accounts)
        return result


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("explain").add_argument("account_id")
    sub.add_parser("replay").add_argument("scoring_run_id")
    args = p.parse_args(argv)
    cfg = config_from(args)
    if args.what == "explain":
        trail = explain(cfg, args.account_id)
        sys.stdout.write(render_trail(trail) + "\n")
        return 0 if trail.found else 1
    result = replay(cfg, args.scoring_run_id, args.run_id)
    sys.stdout.write(render_replay(result) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
