"""Policy: scores in, one decision per flagged account out, plus the circuit breaker's verdict.

Automatic action is the exception, not the default: it needs the `auto` band, enough independent
signal families, an account that is neither verified nor declared as AI-assisted, no earlier human
clearance, and a run whose size looks like the recent past. Everything else goes to a human.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.schemas import ACCOUNT_STATUS, ACTION_LOG
from genuine.enforcement._cols import conform, reason_codes, reasons_or_empty, require, strings
from genuine.enforcement.config import BreakerConfig, EnforcementConfig, enforcement_config
from genuine.enforcement.ids import stable_id
from genuine.enforcement.schemas import (
    DECIDED_BY_AUTO,
    HUMAN_CLEARED_STATUSES,
    HUMAN_CONFIRMED_STATUSES,
    OUTCOME_AUTO,
    OUTCOME_NO_CHANGE,
    OUTCOME_REVIEW,
    POLICY_DECISIONS,
    RESTRICTED_STATUSES,
    SCORE_INPUT,
    SOURCE_POLICY,
    STATUS_ACTIONED,
    STATUS_NONE,
    STATUS_PENDING,
)

log = logging.getLogger(__name__)

# route_reason values (why an account got its outcome)
ROUTE_AUTO = "auto_policy"
ROUTE_REVIEW_BAND = "review_band"
ROUTE_EXPLORATION = "exploration"
ROUTE_UNKNOWN_ACCOUNT = "account_unknown"
ROUTE_PROTECTION_UNKNOWN = "protection_unknown"
ROUTE_VERIFIED = "protected_verified"
ROUTE_DECLARED_AI = "protected_declared_ai"
ROUTE_HUMAN_CLEARED = "human_cleared"
ROUTE_FEW_FAMILIES = "insufficient_families"
ROUTE_ALREADY_CONFIRMED = "already_confirmed"
ROUTE_ALREADY_ACTIONED = "already_actioned"
ROUTE_BREAKER = "breaker_hold"


@dataclass(frozen=True)
class BreakerState:
    """The circuit breaker's verdict for one run; recorded with the run so a hold can be explained."""

    tripped: bool
    would_act: int                 # accounts the run would act on automatically without the breaker
    limit: float                   # the most accounts allowed before tripping
    baseline: float | None         # statistic of the recent counts (None: too little history)
    statistic: str
    history: tuple[int, ...]       # the recent counts used, oldest first
    reason: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["history"] = list(self.history)
        return d


def breaker_check(would_act: int, recent_action_counts: Sequence[int], bcfg: BreakerConfig) -> BreakerState:
    """Trip when `would_act` is strictly greater than max(floor, ratio x statistic(recent counts)).

    `recent_action_counts` are the automatic-action counts (accounts) of earlier runs, oldest first; the
    caller should leave out runs that were themselves held, or a surge would teach the breaker to accept it.
    """
    history = tuple(int(c) for c in list(recent_action_counts)[-bcfg.lookback_runs:])
    if any(c < 0 for c in history):
        raise ValueError(f"recent action counts must be >= 0, got {history}")
    baseline: float | None = None
    if len(history) >= bcfg.min_history_runs:
        baseline = float(statistics.median(history) if bcfg.statistic == "median" else statistics.fmean(history))
        limit = max(float(bcfg.floor), bcfg.ratio * baseline)
        basis = (f"max(floor {bcfg.floor}, ratio {bcfg.ratio:g} x {bcfg.statistic} {baseline:g} "
                 f"of the last {len(history)} runs)")
    else:
        limit = float(bcfg.floor)
        basis = f"floor {bcfg.floor} (only {len(history)} earlier runs, need {bcfg.min_history_runs})"
    if not bcfg.enabled:
        return BreakerState(False, would_act, limit, baseline, bcfg.statistic, history,
                            f"breaker disabled; would act on {would_act}, limit {limit:g} = {basis}")
    tripped = would_act > limit
    verdict = "held all automatic actions" if tripped else "within limit"
    reason = f"{verdict}: run would act on {would_act} accounts, limit {limit:g} = {basis}"
    return BreakerState(tripped, would_act, limit, baseline, bcfg.statistic, history, reason)


def _empty_status(scores: DataFrame) -> DataFrame:
    return scores.sparkSession.createDataFrame([], ACCOUNT_STATUS)


def supporting_families(cfg: EnforcementConfig) -> Column:
    """Distinct configured families with at least one reason extreme enough among humans, sorted.
    Extremeness is max(p, 100 - p): reasons come in each feature's bot direction, high or low."""
    pol = cfg.policy
    fams = strings(pol.families)
    supporting = F.filter(reasons_or_empty(),
                          lambda r: (F.greatest(r["human_percentile"], F.lit(100.0) - r["human_percentile"])
                                     >= F.lit(pol.support_percentile))
                          & F.array_contains(fams, r["family"]))
    return F.array_sort(F.array_distinct(F.transform(supporting, lambda r: r["family"])))


def exploration_candidates(scores: DataFrame, status: DataFrame, cfg: EnforcementConfig) -> DataFrame:
    """The `exploration_slots` most novel band-none accounts (novelty >= exploration_min_novelty) that no
    one has looked at yet (status none), most novel first, ties by account_id; SCORE_INPUT columns.
    Scores without a novelty column (a model stored before novelty existed) explore nothing."""
    q = cfg.queue
    empty = scores.select(*SCORE_INPUT.fieldNames()).limit(0)
    if q.exploration_slots == 0 or "novelty" not in scores.columns:
        if q.exploration_slots and "novelty" not in scores.columns:
            log.info("exploration: these scores carry no novelty (model stored before it existed): none explored")
        return empty
    seen = status.filter(F.col("status") != F.lit(STATUS_NONE)).select("account_id")
    return (scores.filter((F.col("band") == "none") & (F.col("novelty") >= F.lit(q.exploration_min_novelty)))
            .join(seen, "account_id", "left_anti")
            .orderBy(F.col("novelty").desc(), F.col("account_id")).limit(q.exploration_slots)
            .select(*SCORE_INPUT.fieldNames()))


def decide(scores: DataFrame, accounts: DataFrame, recent_action_counts: Sequence[int],
           cfg: Config | EnforcementConfig, current_status: DataFrame | None = None,
           ) -> tuple[DataFrame, BreakerState]:
    """One POLICY_DECISIONS row per account of `scores` in the review or auto band, plus the band-none
    accounts picked for exploration (exploration_candidates), and the breaker.

    `scores`: rows of ONE scoring run (SCORE_INPUT columns). `accounts`: RAW_ACCOUNTS (account_id,
    verified, declared_ai_assisted). `current_status`: the account_status table (None on a first run).
    Evaluates its inputs once (an eager local checkpoint) so the returned frame is a fixed snapshot: the
    breaker's count matches it and writing account_status afterwards cannot change it.
    """
    ecfg = enforcement_config(cfg)
    pol = ecfg.policy
    require(scores, SCORE_INPUT.fieldNames(), "scores")
    require(accounts, ["account_id", "verified", "declared_ai_assisted"], "accounts")
    status = current_status if current_status is not None else _empty_status(scores)
    require(status, ["account_id", "status", "active_actions"], "current_status")

    # Several raw rows for one account: any row that says protected protects it.
    acc = (accounts.groupBy("account_id")
           .agg(F.max(F.col("verified").cast("boolean")).alias("verified"),
                F.max(F.col("declared_ai_assisted").cast("boolean")).alias("declared_ai_assisted"))
           .withColumn("account_known", F.lit(True)))
    prior = status.select("account_id", F.col("status").alias("prior_status"),
                          F.col("active_actions").alias("prior_active_actions"))

    df = (scores.filter(F.col("band").isin("review", "auto")).select(*SCORE_INPUT.fieldNames())
          .unionByName(exploration_candidates(scores, status, ecfg))
          .join(acc, "account_id", "left")
          .join(prior, "account_id", "left")
          .withColumn("account_known", F.coalesce(F.col("account_known"), F.lit(False)))
          .withColumn("prior_status", F.coalesce(F.col("prior_status"), F.lit(STATUS_NONE)))
          .withColumn("prior_active_actions", F.coalesce(F.col("prior_active_actions"), strings([])))
          .withColumn("supporting_families", supporting_families(ecfg))
          .withColumn("n_support_families", F.size("supporting_families")))

    # What the auto band would do here: configured actions not already in force, never a moderator-only one.
    new_actions = F.array_except(F.array_except(strings(pol.auto_actions), F.col("prior_active_actions")),
                                 strings(pol.moderator_only_actions))
    df = df.withColumn("proposed_actions", F.when(F.col("band") == "auto", new_actions).otherwise(strings([])))

    prior_s = F.col("prior_status")
    routes: list[tuple[Column, str, str]] = [
        (prior_s.isin(*HUMAN_CONFIRMED_STATUSES), OUTCOME_NO_CHANGE, ROUTE_ALREADY_CONFIRMED),
        (prior_s.isin(*HUMAN_CLEARED_STATUSES) & F.lit(not pol.requeue_cleared), OUTCOME_NO_CHANGE,
         ROUTE_HUMAN_CLEARED),
        (F.col("band") == "review", OUTCOME_REVIEW, ROUTE_REVIEW_BAND),
        (F.col("band") == "none", OUTCOME_REVIEW, ROUTE_EXPLORATION),
        (~F.col("account_known"), OUTCOME_REVIEW, ROUTE_UNKNOWN_ACCOUNT),
        (F.col("verified").isNull() | F.col("declared_ai_assisted").isNull(), OUTCOME_REVIEW,
         ROUTE_PROTECTION_UNKNOWN),
        (F.col("verified"), OUTCOME_REVIEW, ROUTE_VERIFIED),
        (F.col("declared_ai_assisted"), OUTCOME_REVIEW, ROUTE_DECLARED_AI),
        (prior_s.isin(*HUMAN_CLEARED_STATUSES), OUTCOME_REVIEW, ROUTE_HUMAN_CLEARED),
        (F.col("n_support_families") < F.lit(pol.min_support_families), OUTCOME_REVIEW, ROUTE_FEW_FAMILIES),
        (F.size("proposed_actions") == 0, OUTCOME_NO_CHANGE, ROUTE_ALREADY_ACTIONED),
    ]
    outcome = F.lit(OUTCOME_AUTO)
    route = F.lit(ROUTE_AUTO)
    for cond, out, why in reversed(routes):
        outcome = F.when(cond, F.lit(out)).otherwise(outcome)
        route = F.when(cond, F.lit(why)).otherwise(route)
    # Pinned once: the breaker's count and every frame derived from these decisions see the same inputs,
    # even if the job merges account_status (an input here) before it writes the action log.
    df = df.withColumn("outcome", outcome).withColumn("route_reason", route).localCheckpoint(eager=True)

    would_act = df.filter(F.col("outcome") == OUTCOME_AUTO).count()
    breaker = breaker_check(would_act, recent_action_counts, ecfg.breaker)
    log.info("circuit breaker: %s", breaker.reason)

    df = df.withColumn("held_by_breaker", (F.col("outcome") == OUTCOME_AUTO) & F.lit(breaker.tripped))
    held = F.col("held_by_breaker")    # fixed before `outcome` is rewritten below
    df = (df.withColumn("hold_reason", F.when(held, F.lit(breaker.reason)))
          .withColumn("outcome", F.when(held, F.lit(OUTCOME_REVIEW)).otherwise(F.col("outcome")))
          .withColumn("route_reason", F.when(held, F.lit(ROUTE_BREAKER)).otherwise(F.col("route_reason")))
          .withColumn("actions", F.when(F.col("outcome") == OUTCOME_AUTO, F.col("proposed_actions"))
                      .otherwise(strings([]))))
    return conform(df, POLICY_DECISIONS), breaker


def _policy_action_id(action: Column) -> Column:
    return stable_id(SOURCE_POLICY, F.col("scoring_run_id"), F.col("account_id"), F.col("snapshot_date"), action)


def action_log_from_policy(decisions: DataFrame, job_run_id: str, logged_at: datetime) -> DataFrame:
    """ACTION_LOG rows: one per automatic action taken. Ids hash (run, account, snapshot, action):
    re-running enforce for the same scoring run yields the same ids, so merge-ignore adds nothing."""
    at = F.lit(logged_at).cast("timestamp")
    df = (decisions.filter(F.col("outcome") == OUTCOME_AUTO)
          .withColumn("action", F.explode("actions"))
          .withColumn("action_id", _policy_action_id(F.col("action")))
          .withColumn("decision_source", F.lit(SOURCE_POLICY))
          .withColumn("decided_by", F.lit(DECIDED_BY_AUTO))
          .withColumn("decision_ref", F.col("scoring_run_id"))
          .withColumn("reason_codes", reason_codes())
          .withColumn("note", F.lit(None).cast("string"))
          .withColumn("job_run_id", F.lit(job_run_id))
          .withColumn("decided_at", at)
          .withColumn("logged_at", at))
    return conform(df, ACTION_LOG)


def status_from_policy(decisions: DataFrame, job_run_id: str, updated_at: datetime) -> DataFrame:
    """ACCOUNT_STATUS rows for accounts whose status this run changes (merge on ACCOUNT_STATUS_KEYS).

    Automatic action -> actioned (restrictions added to those in force). Review -> pending_review, except
    for accounts already restricted or already pending (their status row stays as it is).
    """
    at = F.lit(updated_at).cast("timestamp")
    auto = F.col("outcome") == OUTCOME_AUTO
    to_pending = ((F.col("outcome") == OUTCOME_REVIEW)
                  & ~F.col("prior_status").isin(*RESTRICTED_STATUSES, STATUS_PENDING))
    last_action = F.element_at("actions", -1)
    df = (decisions.filter(auto | to_pending)
          .withColumn("status", F.when(auto, F.lit(STATUS_ACTIONED)).otherwise(F.lit(STATUS_PENDING)))
          .withColumn("active_actions", F.when(auto, F.array_sort(F.array_union("prior_active_actions",
                                                                                 "actions")))
                      .otherwise(F.col("prior_active_actions")))
          .withColumn("since", at)
          .withColumn("last_action", F.when(auto, last_action).otherwise(F.lit("queued_for_review")))
          .withColumn("last_action_id", F.when(auto, _policy_action_id(last_action)))
          .withColumn("last_decision_source", F.lit(SOURCE_POLICY))
          .withColumn("last_decided_by", F.lit(DECIDED_BY_AUTO))
          .withColumn("last_decision_ref", F.col("scoring_run_id"))
          .withColumn("updated_by_run", F.lit(job_run_id))
          .withColumn("updated_at", at))
    return conform(df, ACCOUNT_STATUS)
