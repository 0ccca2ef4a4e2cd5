"""One call for the `genuine enforce` job: every frame an enforcement run writes, and the breaker verdict.

The job stays thin: read the inputs, call `plan_enforcement`, write each frame in the order of
enforce_run.ORDER (keys and write modes: genuine.core.catalog), record `breaker.as_dict()` with the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame

from genuine.core.config import Config
from genuine.enforcement.config import EnforcementConfig
from genuine.enforcement.policy import BreakerState, action_log_from_policy, decide, status_from_policy
from genuine.enforcement.review import review_queue


@dataclass(frozen=True)
class EnforcementPlan:
    decisions: DataFrame        # POLICY_DECISIONS (not a table of its own; everything in it lands below)
    breaker: BreakerState
    action_log: DataFrame       # ACTION_LOG
    account_status: DataFrame   # ACCOUNT_STATUS
    review_queue: DataFrame     # REVIEW_QUEUE


def plan_enforcement(scores: DataFrame, accounts: DataFrame, posts: DataFrame, clusters: DataFrame,
                     reach: DataFrame, recent_action_counts: Sequence[int], cfg: Config | EnforcementConfig, *,
                     auto_threshold: float, job_run_id: str, now: datetime,
                     current_status: DataFrame | None = None) -> EnforcementPlan:
    """Decide, then derive the action log, status upserts and review queue from the same decisions.
    `decide` pins its result, so the outputs stay consistent whatever order the job writes them in."""
    decisions, breaker = decide(scores, accounts, recent_action_counts, cfg, current_status)
    return EnforcementPlan(
        decisions=decisions,
        breaker=breaker,
        action_log=action_log_from_policy(decisions, job_run_id, now),
        account_status=status_from_policy(decisions, job_run_id, now),
        review_queue=review_queue(decisions, posts, clusters, reach, cfg, auto_threshold=auto_threshold,
                                  job_run_id=job_run_id, enqueued_at=now),
    )

