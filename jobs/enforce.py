"""Turn one scoring run into decisions (spark-submit jobs/enforce.py [--scoring-run ID]).

Reads the scoring run (default: the latest) from `scores`, the evidence it rests on (raw accounts and
posts, the coordination clusters and reach of the scored feature snapshot at its recorded Delta
version), applies the policy and the circuit breaker, and writes action_log, statements, review_queue
and account_status. Every write carries the application transaction ("enforce", scoring run id):
re-running enforce for the same scoring run, or retrying a killed run, writes each table at most once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from functools import partial

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.errors import LakeError, NoScoringRun
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.enforce import plan_enforcement
from genuine.enforcement.enforce_run import (
    ORDER,
    PLANNED,
    DecisionCounts,
    EnforceRun,
    completed_run,
    enforce_run,
    run_counts,
)
from genuine.enforcement.inputs import (
    breaker_history,
    latest_scoring_run,
    scoring_run_info,
    snapshot_evidence,
)
from genuine.enforcement.model_registry import auto_threshold
from genuine.enforcement.schemas import SCORE_INPUT
from genuine.enforcement.statements import logged_statements
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.io import ensure_tables, pause_between_writes, read_pinned, write_all

log = logging.getLogger(__name__)

APP_ID = "enforce"


def run(cfg: Config, scoring_run_id: str | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> EnforceRun:
    ecfg = enforcement_config(cfg)
    with job("enforce", cfg, {"scoring_run_id": scoring_run_id}, run_id, spark) as ctx:
        lake, ledger = ctx.lake, ctx.ledger
        now = datetime.now(UTC)
        sv = ledger.read("scores")
        if sv is None:
            raise NoScoringRun("no scores table: run `genuine score` first")
        scores = lake.read("scores", version=sv)
        sid = scoring_run_id or latest_scoring_run(scores)
        ledger.params["scoring_run_id"] = sid
        # novelty (for exploration) where the scores carry it: tables written before it existed do not
        cols = [*SCORE_INPUT.fieldNames(), *(["novelty"] if "novelty" in scores.columns else [])]
        run_scores = scores.where(F.col("scoring_run_id") == F.lit(sid)).select(*cols)
        info = scoring_run_info(run_scores, sid)
        log.info("enforcing scoring run %s: %d scores, model %s v%s, features@%s", sid, info.rows,
                 info.model_name, info.model_version, info.feature_table_version)

        txn = (APP_ID, sid)
        if lake.already_committed("account_status", txn):
            # account_status is written last: the run is complete. Nothing is planned or written again.
            done = completed_run(ctx.run_id, info, lake.read("action_log"), lake.read("review_queue"))
            log.info("scoring run %s was already enforced: nothing to do", sid)
            return done

        evidence = snapshot_evidence(partial(read_pinned, lake, ledger), cfg, ecfg, info)
        if evidence.cluster_size_mismatches is not None:
            ledger.count("cluster_size_mismatches", evidence.cluster_size_mismatches)
        accounts = read_pinned(lake, ledger, "raw_accounts")
        status = read_pinned(lake, ledger, "account_status")
        history = breaker_history(read_pinned(lake, ledger, "action_log"), read_pinned(lake, ledger, "review_queue"),
                                  exclude_scoring_run=sid, lookback=ecfg.breaker.lookback_runs)
        threshold = auto_threshold(tracking.client(cfg.mlflow), info.model_name, info.model_version)
        plan = plan_enforcement(run_scores, accounts, evidence.posts, evidence.clusters, evidence.reach, history,
                                ecfg, auto_threshold=threshold, job_run_id=ctx.run_id, now=now, current_status=status)
        ledger.params["breaker"] = plan.breaker.as_dict()
        # Each frame is computed once: a merge reads its source several times (key check, plan, write).
        frames = {t: getattr(plan, t).localCheckpoint(eager=True) for t in PLANNED}
        decided = DecisionCounts.of(plan)

        ensure_tables(lake, ORDER)
        results = write_all(lake, ledger, ORDER, {
            **frames, "statements": lambda: logged_statements(lake.read("action_log"), frames["action_log"], ecfg)},
            txn)
        pause_between_writes()

        out = enforce_run(ctx.run_id, info, plan, decided, frames, {t: r.version for t, r in results.items()},
                          {t: r.skipped for t, r in results.items() if r.skipped})
        for name, n in run_counts(out, info, plan).items():
            ledger.count(name, n)
        log.info("scoring run %s: %d auto, %d queued (%d held by the breaker: %s), %d status changes", sid,
                 decided.auto, decided.review, decided.held, plan.breaker.reason, out.status_changes)
        return out


def parser() -> argparse.ArgumentParser:
    """The entrypoint's arguments (also what the schedules are checked against, tests/schedules)."""
    p = base_parser(__doc__ or "")
    p.add_argument("--scoring-run", default=None, help="scoring run id to enforce (default: the latest)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run(config_from(args), args.scoring_run, args.run_id)
    except (NoScoringRun, LakeError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
