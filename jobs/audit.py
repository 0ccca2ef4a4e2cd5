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
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.errors import NoScoringRun
from genuine.core.lake import Lake
from genuine.enforcement.audit import AuditTrail, ReplayResult, compare_scores, render_replay, render_trail
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.inputs import scoring_run_info
from genuine.enforcement.schemas import SOURCE_POLICY
from genuine.jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)

# Columns of the feature table that are not feature values.
NOT_FEATURES = {"account_id", "snapshot_date", "as_of", "input_versions", "run_id"}


def _rows(df: DataFrame, order: list[str]) -> list[dict[str, Any]]:
    return [r.asDict(recursive=True) for r in df.orderBy(*order).collect()]


def _read(lake: Lake, table: str, version: int | None = None) -> DataFrame | None:
    if not lake.exists(table):
        return None
    return lake.read(table, version=version)


def _model_facts(cfg: Config, name: str, version: str) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=cfg.mlflow.tracking_uri, registry_uri=cfg.mlflow.registry_uri)
    mv = client.get_model_version(name, version)
    return {"name": name, "version": str(mv.version), "run_id": mv.run_id,
            "auto": float(mv.tags["threshold.auto"]) if "threshold.auto" in mv.tags else None,
            "review": float(mv.tags["threshold.review"]) if "threshold.review" in mv.tags else None,
            "aliases": sorted(getattr(mv, "aliases", []) or [])}


def explain(cfg: Config, account_id: str, spark: SparkSession | None = None) -> AuditTrail:
    """Collect the audit trail of one account (read-only)."""
    from genuine.core.session import get_spark

    spark = spark or get_spark(cfg)
    lake = Lake(spark, cfg)
    n_events = enforcement_config(cfg).audit.sample_events
    t = AuditTrail(account_id)
    mine = F.col("account_id") == F.lit(account_id)

    if (st := _read(lake, "account_status")) is not None:
        rows = _rows(st.where(mine), ["updated_at"])
        t.status = rows[-1] if rows else None
    if (al := _read(lake, "action_log")) is not None:
        t.actions = _rows(al.where(mine), ["decided_at", "action_id"])
    if (dec := _read(lake, "decisions")) is not None:
        t.human_decisions = _rows(dec.where(mine), ["decided_at", "decision_id"])
    if (rq := _read(lake, "review_queue")) is not None:
        t.queue = _rows(rq.where(mine), ["enqueued_at", "queue_id"])

    # The decision: the newest policy outcome (automatic action or queue entry) and the score row under it.
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

    sc = t.score
    if sc:
        try:
            t.model = _model_facts(cfg, sc["model_name"], sc["model_version"])
        except Exception as exc:     # a deleted model version is itself an audit finding
            t.notes.append(f"model {sc['model_name']} v{sc['model_version']} not readable from the registry: {exc}")
            t.model = {"name": sc["model_name"], "version": sc["model_version"], "run_id": sc["model_run_id"]}
        fv = sc["feature_table_version"]
        if fv is not None and lake.exists("features"):
            snap_rows = (lake.read("features", version=fv)
                         .where(mine & (F.col("snapshot_date") == F.lit(sc["snapshot_date"]))).collect())
            t.current_feature_version = lake.version("features")
            row = snap_rows[0].asDict(recursive=True) if snap_rows else None
            t.features = {"table": cfg.table("features"), "version": fv, "snapshot_date": sc["snapshot_date"],
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
                _events(lake, t, account_id, row, n_events)
    return t


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


def replay(cfg: Config, scoring_run_id: str, run_id: str | None = None,
           spark: SparkSession | None = None, shown: int = 20) -> ReplayResult:
    """Re-score a scoring run from its recorded feature table version and model version."""
    from genuine.models.account_model import configure_mlflow
    from genuine.models.scoring import load_model_version, score_with_champion

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
        fv = ledger.read("features", info.feature_table_version)
        model = load_model_version(configure_mlflow(cfg.mlflow), info.model_name, info.model_version)
        feats = (lake.read("features", version=fv)
                 .join(recorded.select("account_id", "snapshot_date").distinct(), ["account_id", "snapshot_date"],
                       "left_semi"))
        # Not compared (a replay is not a new scoring); the recorded time keeps the rows identical in shape.
        scored_at = (info.scored_at or datetime.now(UTC))
        scored_at = scored_at.replace(tzinfo=UTC) if scored_at.tzinfo is None else scored_at
        replayed = score_with_champion(feats, model, feature_table_version=fv, scoring_run_id=scoring_run_id,
                                       scored_at=scored_at)
        cmp = compare_scores(recorded, replayed, tol).localCheckpoint(eager=True)
        agg = cmp.agg(F.count("*").alias("n"), F.sum(F.col("match").cast("int")).alias("ok"),
                      F.max("abs_diff").alias("max_diff")).collect()[0]
        bad = [r.asDict(recursive=True) for r in
               cmp.where(~F.col("match")).orderBy(*["account_id", "snapshot_date"]).limit(shown).collect()]
        result = ReplayResult(scoring_run_id, f"{model.name}@{model.version}", fv, int(agg["n"]),
                              int(agg["ok"] or 0), agg["max_diff"], tuple(bad), tol)
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
