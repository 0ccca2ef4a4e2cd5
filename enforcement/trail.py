"""`genuine audit explain`: collect one account's audit trail from the lake, read-only.

From the account's actions to the decision and the score row under it, the model version that scored it,
the feature values read back at the feature table version the score recorded (Delta time travel), and
sample raw events at the raw table versions the snapshot recorded. Rendering: enforcement/audit.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from genuine.core.lake import Lake
from genuine.enforcement.audit import AuditTrail
from genuine.enforcement.schemas import SOURCE_POLICY
from genuine.features.catalog import KEY_COLUMNS, LINEAGE_COLUMNS

# Columns of the feature table that are not feature values.
NOT_FEATURES = {f.name for f in KEY_COLUMNS + LINEAGE_COLUMNS}


def _rows(df: DataFrame, order: list[str]) -> list[dict[str, Any]]:
    return [r.asDict(recursive=True) for r in df.orderBy(*order).collect()]


def _read(lake: Lake, table: str, version: int | None = None) -> DataFrame | None:
    if not lake.exists(table):
        return None
    return lake.read(table, version=version)


ModelFacts = Callable[[str, str], dict[str, Any]]
"""(model name, version) -> registry facts of that version (enforcement.model_registry.model_facts)."""


def collect_trail(lake: Lake, account_id: str, model_facts: ModelFacts, sample_events: int) -> AuditTrail:
    """Everything the lake and the registry hold about one account, each part at the version it recorded."""
    t = AuditTrail(account_id)
    mine = F.col("account_id") == F.lit(account_id)
    _enforcement_rows(lake, t, mine)
    _decision(t)
    _score_row(lake, t, mine)
    sc = t.score
    if sc:
        try:
            t.model = model_facts(sc["model_name"], sc["model_version"])
        except Exception as exc:     # a deleted model version is itself an audit finding
            t.notes.append(f"model {sc['model_name']} v{sc['model_version']} not readable from the registry: {exc}")
            t.model = {"name": sc["model_name"], "version": sc["model_version"], "run_id": sc["model_run_id"]}
        row = _features(lake, t, mine, sc)
        if row:
            _events(lake, t, account_id, row, sample_events)
    return t


def _enforcement_rows(lake: Lake, t: AuditTrail, mine: Column) -> None:
    if (st := _read(lake, "account_status")) is not None:
        rows = _rows(st.where(mine), ["updated_at"])
        t.status = rows[-1] if rows else None
    if (al := _read(lake, "action_log")) is not None:
        t.actions = _rows(al.where(mine), ["decided_at", "action_id"])
    if (dec := _read(lake, "decisions")) is not None:
        t.human_decisions = _rows(dec.where(mine), ["decided_at", "decision_id"])
    if (rq := _read(lake, "review_queue")) is not None:
        t.queue = _rows(rq.where(mine), ["enqueued_at", "queue_id"])


def _decision(t: AuditTrail) -> None:
    """The decision: the newest policy outcome (automatic action or queue entry) and the score row under it."""
    candidates = [(a["decided_at"], "auto_action", a) for a in t.actions if a["decision_source"] == SOURCE_POLICY]
    candidates += [(q["enqueued_at"], "review", q) for q in t.queue]
    if not candidates:
        # A human decision may rest on a score row too (decisions.latest_evidence).
        candidates = [(a["decided_at"], a["decision_source"], a) for a in t.actions if a.get("scoring_run_id")]
    if candidates:
        _, outcome, src = max(candidates, key=lambda c: (c[0], c[2].get("scoring_run_id") or ""))
        t.decision = {"outcome": outcome, "route_reason": src.get("route_reason"),
                      "scoring_run_id": src.get("scoring_run_id"), "snapshot_date": src.get("snapshot_date"),
                      "supporting_families": src.get("supporting_families"), "hold_reason": src.get("hold_reason"),
                      "recorded_score": src.get("score")}


def _score_row(lake: Lake, t: AuditTrail, mine: Column) -> None:
    """The score row the decision rests on (no decision: the account's latest score row)."""
    sid = t.decision["scoring_run_id"] if t.decision else None
    if sid is None and lake.exists("scores"):
        latest = (lake.read("scores").where(mine).orderBy(F.col("scored_at").desc_nulls_last()).first())
        sid = latest["scoring_run_id"] if latest else None
        if sid:
            t.notes.append("no decision recorded: showing the latest score row of the account")
    if sid and lake.exists("scores"):
        t.score_table_version = lake.version("scores")
        rows = _rows(lake.read("scores").where(mine & (F.col("scoring_run_id") == sid)), ["snapshot_date"])
        if t.decision and t.decision.get("snapshot_date") is not None:
            rows = [r for r in rows if r["snapshot_date"] == t.decision["snapshot_date"]] or rows
        t.score = rows[-1] if rows else None
        if t.decision and t.score and t.decision.get("recorded_score") is not None \
                and t.score["score"] != t.decision["recorded_score"]:
            t.notes.append(f"the scores table now says {t.score['score']!r} but the decision recorded "
                           f"{t.decision['recorded_score']!r}: the score row was changed after the decision")


def _features(lake: Lake, t: AuditTrail, mine: Column, sc: dict[str, Any]) -> dict[str, Any] | None:
    """The snapshot row the score was computed from, read at the recorded feature table version."""
    fv = sc["feature_table_version"]
    if fv is None or not lake.exists("features"):
        return None
    snap_rows = (lake.read("features", version=fv)
                 .where(mine & (F.col("snapshot_date") == F.lit(sc["snapshot_date"]))).collect())
    t.current_feature_version = lake.version("features")
    row = snap_rows[0].asDict(recursive=True) if snap_rows else None
    t.features = {"table": lake.uri("features"), "version": fv, "snapshot_date": sc["snapshot_date"],
                  "as_of": row["as_of"] if row else None,
                  "input_versions": (row or {}).get("input_versions") or {},
                  "run_id": (row or {}).get("run_id")}
    if row:
        t.feature_values = {k: v for k, v in row.items() if k not in NOT_FEATURES}
        if t.current_feature_version != fv:
            now_rows = (lake.read("features").where(mine & (F.col("snapshot_date") == F.lit(sc["snapshot_date"])))
                        .collect())
            now = now_rows[0].asDict(recursive=True) if now_rows else {}
            t.feature_changes = {k: (v, now.get(k)) for k, v in t.feature_values.items() if now.get(k) != v}
    return row


def _events(lake: Lake, t: AuditTrail, account_id: str, snap: dict[str, Any], n: int) -> None:
    """Latest raw posts and interactions of the account up to the snapshot's as_of, read at the raw table
    versions the snapshot recorded (the events the features were computed from)."""
    versions = snap.get("input_versions") or {}
    as_of = snap.get("as_of")
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    for table, who, attr in (("raw_posts", "account_id", "posts"), ("raw_interactions", "actor_id", "interactions")):
        if not lake.exists(table):
            continue
        v = versions.get(table)
        t.event_versions[table] = v
        df = lake.read(table, version=v).where(F.col(who) == F.lit(account_id))
        if as_of is not None:
            df = df.where(F.col("created_at") <= F.lit(as_of))
        if table == "raw_posts":
            df = df.withColumn("text", F.substring(F.regexp_replace(
                F.concat_ws(" ", "title", "body"), r"\s+", " "), 1, 80))
        rows = [r.asDict(recursive=True) for r in df.orderBy(F.col("created_at").desc()).limit(n).collect()]
        setattr(t, attr, rows)
