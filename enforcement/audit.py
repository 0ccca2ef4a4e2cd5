"""Audit: the chain from an action back to raw evidence (`genuine audit explain`) and the replay of a
scoring run from its recorded versions (`genuine audit replay`).

Here are the pure parts: the comparison of recorded and replayed scores (a DataFrame transform), its
verdict, and the rendering of a trail. The trail is collected by enforcement/trail.py; jobs/audit.py
reads the recorded versions and re-scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.enforcement._cols import reason_codes, require

# --- replay ----------------------------------------------------------------------------------------
REPLAY_KEYS = ["account_id", "snapshot_date"]


def compare_scores(recorded: DataFrame, replayed: DataFrame, tolerance: float) -> DataFrame:
    """One row per (account_id, snapshot_date) of either side: recorded vs replayed score, band and reason
    codes, `match` and, when it does not match, `problem` (the first failing check).

    A score matches when |recorded - replayed| <= tolerance; band and reason codes must be equal. An
    account present on one side only, or recorded twice in the run, never matches.
    """
    cols = [*REPLAY_KEYS, "score", "band", "reasons"]
    require(recorded, cols, "recorded scores")
    require(replayed, cols, "replayed scores")

    def side(df: DataFrame, name: str) -> DataFrame:
        return (df.groupBy(*REPLAY_KEYS)
                .agg(F.count("*").alias(f"{name}_rows"), F.first("score").alias(f"{name}_score"),
                     F.first("band").alias(f"{name}_band"),
                     F.first(reason_codes()).alias(f"{name}_reasons")))

    j = side(recorded, "recorded").join(side(replayed, "replayed"), REPLAY_KEYS, "full")
    diff = F.abs(F.col("recorded_score") - F.col("replayed_score"))
    checks = [
        (F.col("recorded_rows").isNull(), F.lit("not in the recorded run")),
        (F.col("replayed_rows").isNull(), F.lit("not re-scored (no feature row at the recorded version)")),
        (F.col("recorded_rows") > 1, F.concat(F.lit("recorded "), F.col("recorded_rows"), F.lit(" times"))),
        (F.col("recorded_score").isNull() != F.col("replayed_score").isNull(), F.lit("score null on one side")),
        (diff > F.lit(tolerance), F.concat(F.lit("score differs by "), F.format_number(diff, 12))),
        (~F.col("recorded_band").eqNullSafe(F.col("replayed_band")), F.lit("band differs")),
        (~F.col("recorded_reasons").eqNullSafe(F.col("replayed_reasons")), F.lit("reason codes differ")),
    ]
    problem = F.lit(None).cast("string")
    for cond, what in reversed(checks):
        problem = F.when(F.coalesce(cond, F.lit(False)), what).otherwise(problem)
    return (j.withColumn("abs_diff", diff).withColumn("problem", problem)
            .withColumn("match", F.col("problem").isNull())
            .select(*REPLAY_KEYS, "recorded_score", "replayed_score", "abs_diff", "recorded_band", "replayed_band",
                    "recorded_reasons", "replayed_reasons", "match", "problem"))


@dataclass(frozen=True)
class ReplayResult:
    scoring_run_id: str
    model: str                        # name@version re-loaded from the registry
    feature_table_version: int | None
    accounts: int                     # keys compared (either side)
    matched: int
    max_abs_diff: float | None
    mismatches: tuple[dict[str, Any], ...]   # the first `shown` mismatching rows
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.accounts > 0 and self.matched == self.accounts


def replay_result(cmp: DataFrame, scoring_run_id: str, model: str, feature_table_version: int | None,
                  tolerance: float, shown: int) -> ReplayResult:
    """The verdict of a comparison (`compare_scores`): counts, the largest difference, the first `shown`
    mismatches in key order."""
    cmp = cmp.localCheckpoint(eager=True)      # read twice: the counts and the mismatches
    agg = cmp.agg(F.count("*").alias("n"), F.sum(F.col("match").cast("int")).alias("ok"),
                  F.max("abs_diff").alias("max_diff")).collect()[0]
    bad = [r.asDict(recursive=True) for r in
           cmp.where(~F.col("match")).orderBy(*REPLAY_KEYS).limit(shown).collect()]
    return ReplayResult(scoring_run_id, model, feature_table_version, int(agg["n"]), int(agg["ok"] or 0),
                        agg["max_diff"], tuple(bad), tolerance)


def render_replay(r: ReplayResult) -> str:
    lines = [f"replay of scoring run {r.scoring_run_id}: model {r.model}, features@{r.feature_table_version}",
             f"{r.matched} of {r.accounts} scores match (tolerance {r.tolerance:g}; max |diff| "
             f"{'n/a' if r.max_abs_diff is None else f'{r.max_abs_diff:.3g}'})"]
    for m in r.mismatches:
        lines.append(f"  MISMATCH {m['account_id']} {m['snapshot_date']}: {m['problem']} (recorded "
                     f"{_num(m['recorded_score'])} {m['recorded_band']}, replayed {_num(m['replayed_score'])} "
                     f"{m['replayed_band']})")
    hidden = r.accounts - r.matched - len(r.mismatches)
    if hidden > 0:
        lines.append(f"  ... and {hidden} more mismatches")
    lines.append("REPLAY OK: every score matches" if r.ok else "REPLAY FAILED")
    return "\n".join(lines)


# --- explain ---------------------------------------------------------------------------------------
@dataclass
class AuditTrail:
    """Everything `audit explain` found for one account, each part naming the table version it came from."""

    account_id: str
    status: dict[str, Any] | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)          # action_log rows, oldest first
    human_decisions: list[dict[str, Any]] = field(default_factory=list)  # decisions rows, oldest first
    queue: list[dict[str, Any]] = field(default_factory=list)            # review_queue rows, oldest first
    decision: dict[str, Any] | None = None        # the policy decision the latest score row led to
    score: dict[str, Any] | None = None           # that score row, read from the scores table
    score_table_version: int | None = None
    model: dict[str, Any] | None = None           # registry facts of the model version
    features: dict[str, Any] | None = None        # table, version, snapshot, as_of, input_versions
    feature_values: dict[str, Any] = field(default_factory=dict)     # read at the recorded version
    feature_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (then, now)
    current_feature_version: int | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    event_versions: dict[str, int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.status or self.actions or self.queue or self.score or self.human_decisions)


def _num(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _t(v: Any) -> str:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, date):
        return v.isoformat()
    return "-" if v is None else str(v)


def _reasons(reasons: Sequence[Mapping[str, Any]] | None) -> list[str]:
    return [f"{r.get('family')}.{r.get('feature')} (human percentile {_num(r.get('human_percentile'))}): "
            f"{r.get('text')}" for r in (reasons or []) if r]


def render_trail(t: AuditTrail) -> str:
    """The chain as text: actions -> decision -> score row -> model -> feature snapshot -> feature values
    (time travel) -> raw events. Each step names the table and Delta version it was read from."""
    out = [f"audit trail of account {t.account_id}"]
    if not t.found:
        out.append("no status, action, queue entry, decision or score for this account")
        return "\n".join(out)
    s = t.status
    out.append("status: " + (f"{s['status']} since {_t(s['since'])}, restrictions in force "
                             f"{list(s['active_actions'] or [])}, last {s['last_action']} by {s['last_decided_by']}"
                             if s else "none (never affected)"))

    out.append(f"1. actions ({len(t.actions)})")
    for a in t.actions:
        out.append(f"   {_t(a['decided_at'])}  {a['action']:<20} by {a['decided_by']} ({a['decision_source']}, "
                   f"{a['route_reason']})  action_id={a['action_id']}  job={a['job_run_id']}")
        if a.get("scoring_run_id"):
            out.append(f"      rests on score row (scoring_run_id={a['scoring_run_id']}, snapshot "
                       f"{_t(a['snapshot_date'])}): score {_num(a['score'])} band {a['band']}, model "
                       f"{a['model_name']} v{a['model_version']}, features@{a['feature_table_version']}")
    for d in t.human_decisions:
        out.append(f"   human {d['kind']} {d['decision']} by {d['moderator_id']} at {_t(d['decided_at'])}: "
                   f"{'applied' if d['applied'] else 'not applied (' + str(d['not_applied_reason']) + ')'}"
                   f"  decision_id={d['decision_id']}")
    for q in t.queue:
        out.append(f"   queued {_t(q['enqueued_at'])} rank {q['queue_rank']} ({q['route_reason']}"
                   f"{', held by breaker' if q['held_by_breaker'] else ''}) scoring_run_id={q['scoring_run_id']}")

    dec = t.decision
    out.append("2. decision: " + (
        f"{dec['outcome']} ({dec['route_reason']}) on scoring run {dec['scoring_run_id']}; supporting families "
        f"{list(dec.get('supporting_families') or [])}"
        + (f"; held: {dec['hold_reason']}" if dec.get("hold_reason") else "")
        if dec else "none (no policy decision recorded)"))

    sc = t.score
    if sc:
        out.append(f"3. score row: scores@{t.score_table_version} (scoring_run_id={sc['scoring_run_id']}, "
                   f"account_id={sc['account_id']}, snapshot_date={_t(sc['snapshot_date'])})")
        out.append(f"   score {_num(sc['score'])}  band {sc['band']}  scored_at {_t(sc['scored_at'])}")
        out += [f"   reason: {r}" for r in _reasons(sc.get("reasons"))]
    else:
        out.append("3. score row: not found in the scores table")

    m = t.model
    out.append("4. model: " + (
        f"{m['name']} version {m['version']} (MLflow run {m['run_id']}), thresholds auto={_num(m.get('auto'))} "
        f"review={_num(m.get('review'))}, aliases {m.get('aliases') or []}" if m else "unknown"))

    f = t.features
    if f:
        iv = ", ".join(f"{k}@{v}" for k, v in sorted((f.get("input_versions") or {}).items()))
        out.append(f"5. feature snapshot: {f['table']} version {f['version']} (snapshot {_t(f['snapshot_date'])}, "
                   f"as_of {_t(f['as_of'])}, inputs {iv or 'not recorded'}, feature run {f.get('run_id')})")
        out.append(f"6. feature values read back at version {f['version']} (Delta time travel; table now at "
                   f"version {t.current_feature_version}):")
        for name, value in t.feature_values.items():
            change = t.feature_changes.get(name)
            suffix = f"   (now {_num(change[1])})" if change else ""
            out.append(f"   {name} = {_num(value)}{suffix}")
        if not t.feature_values:
            out.append("   no row for this account at that version")
    else:
        out.append("5. feature snapshot: unknown (no score row)")

    ev = ", ".join(f"{k}@{v}" for k, v in sorted(t.event_versions.items()))
    out.append(f"7. sample raw events ({ev or 'no raw tables'}):")
    for p in t.posts:
        out.append(f"   post {p['post_id']} {_t(p['created_at'])} [{p.get('client')}] {p.get('text')!r}")
    for i in t.interactions:
        target = i.get("target_post_id") or i.get("target_account_id")
        out.append(f"   {i['kind']} -> {target} at {_t(i['created_at'])} (event {i['event_id']})")
    if not t.posts and not t.interactions:
        out.append("   none up to the snapshot")
    out += [f"note: {n}" for n in t.notes]
    return "\n".join(out)


__all__ = ["AuditTrail", "REPLAY_KEYS", "ReplayResult", "compare_scores", "render_replay", "render_trail"]
