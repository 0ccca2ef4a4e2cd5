"""One enforce run as jobs/enforce.py runs it: the order it writes its tables in, and what it reports,
whether it just wrote them or finds them written by an earlier, complete attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.enforcement.enforce import EnforcementPlan
from genuine.enforcement.inputs import ScoringRunInfo
from genuine.enforcement.schemas import OUTCOME_AUTO, OUTCOME_REVIEW, SOURCE_POLICY

# Write order (keys and merge modes: genuine.core.catalog). account_status goes last: it is the only
# table the policy reads back (prior status), so a run killed before it re-plans from the same inputs
# and produces the same ids; and a committed account_status marks the run complete.
ORDER = ("action_log", "statements", "review_queue", "account_status")
PLANNED = ("action_log", "review_queue", "account_status")
"""The tables written straight from the plan (statements are built from the committed action log)."""


@dataclass
class EnforceRun:
    run_id: str
    scoring_run_id: str
    model: str                           # name@version the scores came from
    feature_table_version: int | None
    decisions: int                       # accounts in the review or auto band
    auto_accounts: int                   # accounts acted on automatically
    actions: int                         # action-log rows of this run (automatic actions)
    queued: int                          # review queue entries
    held: int                            # automatic actions held by the breaker (accounts)
    status_changes: int
    breaker: dict[str, Any]
    versions: dict[str, int | None] = field(default_factory=dict)   # table -> version committed (None: none)
    skipped: dict[str, str] = field(default_factory=dict)           # table -> why nothing was committed
    already_enforced: bool = False       # an earlier run completed this scoring run: nothing was written


@dataclass(frozen=True)
class DecisionCounts:
    """The plan's decisions counted by outcome, before anything is written."""

    outcomes: dict[str, int]            # outcome -> accounts
    held: int                           # accounts whose automatic actions the breaker held

    @classmethod
    def of(cls, plan: EnforcementPlan) -> DecisionCounts:
        outcomes = {r["outcome"]: int(r["n"]) for r in plan.decisions.groupBy("outcome").count()
                    .withColumnRenamed("count", "n").collect()}
        return cls(outcomes, plan.decisions.where("held_by_breaker").count())

    @property
    def auto(self) -> int:
        return self.outcomes.get(OUTCOME_AUTO, 0)

    @property
    def review(self) -> int:
        return self.outcomes.get(OUTCOME_REVIEW, 0)


def enforce_run(run_id: str, info: ScoringRunInfo, plan: EnforcementPlan, decided: DecisionCounts,
                frames: dict[str, DataFrame], versions: dict[str, int | None],
                skipped: dict[str, str]) -> EnforceRun:
    """What a run that wrote its tables reports (`frames`: the planned frames it wrote)."""
    actions, queued, changes = (frames[t].count() for t in PLANNED)
    return EnforceRun(run_id, info.scoring_run_id, f"{info.model_name}@{info.model_version}",
                      info.feature_table_version, sum(decided.outcomes.values()), decided.auto, actions, queued,
                      decided.held, changes, plan.breaker.as_dict(), versions, skipped)


def run_counts(run: EnforceRun, info: ScoringRunInfo, plan: EnforcementPlan) -> dict[str, int]:
    """The figures recorded with the run in the ledger."""
    return {"scores": info.rows, "decisions": run.decisions, "auto_accounts": run.auto_accounts,
            "actions": run.actions, "queued": run.queued, "held": run.held, "status_changes": run.status_changes,
            "would_act": plan.breaker.would_act, "breaker_tripped": int(plan.breaker.tripped)}


def completed_run(run_id: str, info: ScoringRunInfo, action_log: DataFrame, review_queue: DataFrame) -> EnforceRun:
    """What an earlier, complete enforce run of this scoring run wrote (read back from its tables)."""
    sid = info.scoring_run_id
    acts = action_log.where((F.col("scoring_run_id") == sid) & (F.col("decision_source") == SOURCE_POLICY))
    queue = review_queue.where(F.col("scoring_run_id") == sid)
    a = acts.agg(F.count("*").alias("n"), F.countDistinct("account_id").alias("accounts")).collect()[0]
    q = queue.agg(F.count("*").alias("n"), F.sum(F.col("held_by_breaker").cast("int")).alias("held")).collect()[0]
    skipped = {t: "txn already committed" for t in ORDER}
    return EnforceRun(run_id, sid, f"{info.model_name}@{info.model_version}", info.feature_table_version,
                      int(a["accounts"]) + int(q["n"]), int(a["accounts"]), int(a["n"]), int(q["n"]),
                      int(q["held"] or 0), 0, {}, {t: None for t in ORDER}, skipped, already_enforced=True)
