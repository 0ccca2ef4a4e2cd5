"""Turn one scoring run into decisions (spark-submit jobs/enforce.py [--scoring-run ID]).

Reads the scoring run (default: the latest) from `scores`, the evidence it rests on (raw accounts and
posts, the coordination clusters and reach of the scored feature snapshot at its recorded Delta
version), applies the policy and the circuit breaker, and writes action_log, statements, review_queue
and account_status. Every write carries the application transaction ("enforce", scoring run id):
re-running enforce for the same scoring run, or retrying a killed run, writes each table at most once.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.errors import LakeError, NoScoringRun
from genuine.core.lake import Lake, WriteResult
from genuine.core.ledger import RunLedger
from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_POSTS
from genuine.enforcement.config import EnforcementConfig, enforcement_config
from genuine.enforcement.enforce import WRITES, plan_enforcement
from genuine.enforcement.inputs import (
    ScoringRunInfo,
    breaker_history,
    cluster_size_mismatches,
    clusters_from_features,
    coordination_clusters,
    latest_scoring_run,
    reach_from_features,
    scoring_run_info,
)
from genuine.enforcement.schemas import (
    ACCOUNT_STATUS,
    ACTION_LOG,
    CLUSTERS,
    OUTCOME_AUTO,
    OUTCOME_REVIEW,
    REVIEW_QUEUE,
    SCORE_INPUT,
    SOURCE_POLICY,
    STATEMENTS,
)
from genuine.enforcement.statements import statements_frame
from genuine.jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)

APP_ID = "enforce"
# Test hook: seconds to sleep after each table write, so a test can kill the process between two
# commits (tests/enforcement/test_kill.py). Unset or 0 in production.
PAUSE_ENV = "GENUINE_PAUSE_BETWEEN_WRITES"
# Write order. account_status goes last: it is the only table the policy reads back (prior status), so
# a run killed before it re-plans from the same inputs and produces the same ids.
ORDER = ("action_log", "statements", "review_queue", "account_status")
SCHEMAS = {"action_log": ACTION_LOG, "statements": STATEMENTS, "review_queue": REVIEW_QUEUE,
           "account_status": ACCOUNT_STATUS}


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


def ensure_tables(lake: Lake, schemas: dict[str, Any]) -> None:
    """Create missing tables up front, so two runs starting together never race on a table's creation
    (only on its commits, which the lake retries). Another process creating it meanwhile is fine."""
    for table, schema in schemas.items():
        if lake.exists(table):
            continue
        try:
            lake.create(table, schema)
        except Exception:
            if not lake.exists(table):
                raise


def pause_between_writes() -> None:
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    if seconds > 0:
        log.warning("%s=%s: pausing between table writes (test hook)", PAUSE_ENV, seconds)
        time.sleep(seconds)


def write_all(lake: Lake, ledger: RunLedger, order: tuple[str, ...], frames: dict[str, DataFrame],
              txn: tuple[str, str], ecfg: EnforcementConfig) -> dict[str, WriteResult]:
    """Write each table in `order`, one Delta transaction each, account_status last (the completion mark).

    Statements are built from the committed action log (not the plan): a retry after a kill builds the
    statements of the actions as they were logged, with their original decision time.
    """
    results: dict[str, WriteResult] = {}
    for i, table in enumerate(order):
        if i:
            pause_between_writes()
        if table == "statements":
            logged = lake.read("action_log").join(frames["action_log"].select("action_id"), "action_id", "left_semi")
            frame = statements_frame(logged, ecfg).localCheckpoint(eager=True)
        else:
            frame = frames[table]
        results[table] = write(lake, ledger, table, frame, txn)
    return results


def write(lake: Lake, ledger: RunLedger, table: str, df: DataFrame, txn: tuple[str, str]) -> WriteResult:
    keys, matched = WRITES[table]
    result = lake.merge(table, df, keys, when_matched="ignore" if matched == "ignore" else "update", schema=SCHEMAS.get(table, df.schema), txn=txn)
    ledger.wrote(table, result)
    log.info("%s: %s", table, f"version {result.version} (+{result.rows} rows)" if result.version is not None
             else result.skipped)
    return result


def model_auto_threshold(cfg: Config, info: ScoringRunInfo) -> float:
    """The auto threshold of the model version that scored the run (thresholds live with the version)."""
    from mlflow.tracking import MlflowClient

    from genuine.models.account_model import Thresholds

    client = MlflowClient(tracking_uri=cfg.mlflow.tracking_uri, registry_uri=cfg.mlflow.registry_uri)
    mv = client.get_model_version(info.model_name, info.model_version)
    return Thresholds.from_tags(mv.tags).auto


def read_pinned(lake: Lake, ledger: RunLedger, table: str, schema: Any, version: int | None = None) -> DataFrame:
    """The table at `version` (default: its current version), recorded in the ledger; empty if absent."""
    v = ledger.read(table, version)
    return lake.read(table, version=v) if v is not None else lake.spark.createDataFrame([], schema)


def snapshot_evidence(lake: Lake, ledger: RunLedger, cfg: Config, ecfg: EnforcementConfig,
                      info: ScoringRunInfo) -> tuple[DataFrame, DataFrame, DataFrame, dict[str, int]]:
    """(clusters, reach, posts, input_versions) of the scored snapshot, all as the snapshot saw them:
    the feature table at the version the scores recorded, raw tables at the versions it recorded."""
    if info.feature_table_version is None:
        raise ValueError(f"scoring run {info.scoring_run_id} records no feature table version")
    feats = (read_pinned(lake, ledger, "features", None, info.feature_table_version)
             .where(F.col("snapshot_date").isin(list(info.snapshot_dates))))
    meta = feats.groupBy("snapshot_date").agg(F.max("as_of").alias("as_of"),
                                              F.first("input_versions", ignorenulls=True).alias("iv")).collect()
    if not meta:
        raise ValueError(f"feature table version {info.feature_table_version} holds no rows for snapshot(s) "
                         f"{[str(d) for d in info.snapshot_dates]}")
    versions: dict[str, int] = {}
    for m in meta:
        versions.update({k: int(v) for k, v in (m["iv"] or {}).items()})
    reach = reach_from_features(feats, ecfg.inputs)
    clusters = clusters_from_features(feats, ecfg.inputs)
    if clusters is None:
        # The feature table keeps cluster sizes, not ids: rebuild the components the feature counted, from
        # the interactions version the snapshot recorded, cut at the snapshot's as_of.
        from genuine.features.network import NetworkConfig

        interactions = read_pinned(lake, ledger, "raw_interactions", RAW_INTERACTIONS,
                                   versions.get("raw_interactions"))
        ncfg = NetworkConfig.from_config(cfg)
        parts = []
        for m in meta:
            as_of = m["as_of"]
            as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of
            parts.append(coordination_clusters(interactions, as_of, ncfg))
        clusters = parts[0]
        for p in parts[1:]:
            clusters = clusters.unionByName(p)
        clusters = clusters.localCheckpoint(eager=True)     # read by the size check and the review queue
        mismatches = cluster_size_mismatches(clusters, feats, ecfg.inputs) if len(meta) == 1 else None
        if mismatches is not None:
            ledger.count("cluster_size_mismatches", mismatches)
            if mismatches:
                log.warning("%d accounts: derived coordination cluster size differs from feature %s",
                            mismatches, ecfg.inputs.cluster_size_feature)
    posts = read_pinned(lake, ledger, "raw_posts", RAW_POSTS, versions.get("raw_posts"))
    return clusters.select(*CLUSTERS.fieldNames()), reach, posts, versions


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
        run_scores = scores.where(F.col("scoring_run_id") == F.lit(sid)).select(*SCORE_INPUT.fieldNames())
        info = scoring_run_info(run_scores, sid)
        log.info("enforcing scoring run %s: %d scores, model %s v%s, features@%s", sid, info.rows,
                 info.model_name, info.model_version, info.feature_table_version)

        txn = (APP_ID, sid)
        if lake.already_committed("account_status", txn):
            # account_status is written last: the run is complete. Nothing is planned or written again.
            done = completed_run(lake, ctx.run_id, info)
            log.info("scoring run %s was already enforced: nothing to do", sid)
            return done

        clusters, reach, posts, _ = snapshot_evidence(lake, ledger, cfg, ecfg, info)
        accounts = read_pinned(lake, ledger, "raw_accounts", RAW_ACCOUNTS)
        status = read_pinned(lake, ledger, "account_status", ACCOUNT_STATUS)
        history = breaker_history(read_pinned(lake, ledger, "action_log", ACTION_LOG),
                                  read_pinned(lake, ledger, "review_queue", REVIEW_QUEUE),
                                  exclude_scoring_run=sid, lookback=ecfg.breaker.lookback_runs)
        plan = plan_enforcement(run_scores, accounts, posts, clusters, reach, history, ecfg,
                                auto_threshold=model_auto_threshold(cfg, info), job_run_id=ctx.run_id, now=now,
                                current_status=status)
        ledger.params["breaker"] = plan.breaker.as_dict()
        # Each frame is computed once: a merge reads its source several times (key check, plan, write).
        frames = {t: getattr(plan, t).localCheckpoint(eager=True) for t in ("action_log", "review_queue",
                                                                             "account_status")}

        outcomes = {r["outcome"]: int(r["n"]) for r in plan.decisions.groupBy("outcome").count()
                    .withColumnRenamed("count", "n").collect()}
        held = plan.decisions.where("held_by_breaker").count()

        ensure_tables(lake, SCHEMAS)
        results = write_all(lake, ledger, ORDER, frames, txn, ecfg)
        pause_between_writes()

        actions, queued, changes = (frames[t].count() for t in ("action_log", "review_queue", "account_status"))
        for name, n in (("scores", info.rows), ("decisions", sum(outcomes.values())),
                        ("auto_accounts", outcomes.get(OUTCOME_AUTO, 0)), ("actions", actions),
                        ("queued", queued), ("held", held), ("status_changes", changes),
                        ("would_act", plan.breaker.would_act), ("breaker_tripped", int(plan.breaker.tripped))):
            ledger.count(name, n)
        log.info("scoring run %s: %d auto, %d queued (%d held by the breaker: %s), %d status changes", sid,
                 outcomes.get(OUTCOME_AUTO, 0), outcomes.get(OUTCOME_REVIEW, 0), held, plan.breaker.reason, changes)
        return EnforceRun(ctx.run_id, sid, f"{info.model_name}@{info.model_version}", info.feature_table_version,
                          sum(outcomes.values()), outcomes.get(OUTCOME_AUTO, 0), actions, queued, held, changes,
                          plan.breaker.as_dict(),
                          {t: r.version for t, r in results.items()},
                          {t: r.skipped for t, r in results.items() if r.skipped})


def completed_run(lake: Lake, run_id: str, info: ScoringRunInfo) -> EnforceRun:
    """What an earlier, complete enforce run of this scoring run wrote (read back from the tables)."""
    sid = info.scoring_run_id
    acts = lake.read("action_log").where((F.col("scoring_run_id") == sid)
                                         & (F.col("decision_source") == SOURCE_POLICY))
    queue = lake.read("review_queue").where(F.col("scoring_run_id") == sid)
    a = acts.agg(F.count("*").alias("n"), F.countDistinct("account_id").alias("accounts")).collect()[0]
    q = queue.agg(F.count("*").alias("n"), F.sum(F.col("held_by_breaker").cast("int")).alias("held")).collect()[0]
    skipped = {t: "txn already committed" for t in ORDER}
    return EnforceRun(run_id, sid, f"{info.model_name}@{info.model_version}", info.feature_table_version,
                      int(a["accounts"]) + int(q["n"]), int(a["accounts"]), int(a["n"]), int(q["n"]),
                      int(q["held"] or 0), 0, {}, {t: None for t in ORDER}, skipped, already_enforced=True)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--scoring-run", default=None, help="scoring run id to enforce (default: the latest)")
    args = p.parse_args(argv)
    try:
        run(config_from(args), args.scoring_run, args.run_id)
    except (NoScoringRun, LakeError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
