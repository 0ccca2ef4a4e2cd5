"""The enforce job's inputs besides the scores: which scoring run, the evidence of the scored snapshot
(coordination clusters, reach, posts) and the circuit breaker's history.

Transforms of frames the job reads; where a read depends on what an earlier read found (the scored
snapshot names the raw table versions it was computed from), the job passes its pinned reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.errors import NoScoringRun
from genuine.enforcement._cols import require
from genuine.enforcement.config import EnforcementConfig, InputsConfig
from genuine.enforcement.schemas import CLUSTERS, REACH, SOURCE_POLICY
from genuine.features.network import NetworkConfig, coordination_edges
from genuine.features.snapshot import cut
from genuine.lib import graph
from genuine.lib.checkpoint import materialize

PinnedRead = Callable[[str, int | None], DataFrame]
"""(table, version or None for the current one) -> the table as of that version, recorded with the run."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringRunInfo:
    """What one scoring run rests on: the lineage every decision of the enforce run carries."""

    scoring_run_id: str
    rows: int
    snapshot_dates: tuple[date, ...]
    model_name: str
    model_version: str
    model_run_id: str
    feature_table_version: int | None
    scored_at: datetime | None


def latest_scoring_run(scores: DataFrame) -> str:
    """The scoring run with the newest `scored_at` (ties: the larger run id), so `genuine enforce` with
    no argument acts on the scores that `genuine score` wrote last."""
    row = (scores.groupBy("scoring_run_id").agg(F.max("scored_at").alias("t"))
           .orderBy(F.col("t").desc_nulls_last(), F.col("scoring_run_id").desc()).first())
    if row is None or row["scoring_run_id"] is None:
        raise NoScoringRun("the scores table is empty: run `genuine score` first")
    return str(row["scoring_run_id"])


def scoring_run_info(run_scores: DataFrame, scoring_run_id: str) -> ScoringRunInfo:
    """Lineage of one run's rows; a run scored by one model on one feature table version (refused otherwise:
    its decisions could not name the model they rest on)."""
    agg = run_scores.agg(
        F.count("*").alias("rows"), F.sort_array(F.collect_set("snapshot_date")).alias("snaps"),
        F.collect_set(F.struct("model_name", "model_version", "model_run_id", "feature_table_version"))
        .alias("models"), F.max("scored_at").alias("scored_at")).first()
    if agg is None or agg["rows"] == 0:
        raise NoScoringRun(f"no rows of scoring run {scoring_run_id!r} in the scores table")
    if len(agg["models"]) != 1:
        raise ValueError(f"scoring run {scoring_run_id!r} mixes models / feature versions: {agg['models']}")
    m = agg["models"][0]
    return ScoringRunInfo(scoring_run_id, int(agg["rows"]), tuple(agg["snaps"]), str(m["model_name"]),
                          str(m["model_version"]), str(m["model_run_id"]),
                          None if m["feature_table_version"] is None else int(m["feature_table_version"]),
                          agg["scored_at"])


def reach_from_features(features: DataFrame, icfg: InputsConfig) -> DataFrame:
    """REACH (account_id, reach) from the scored snapshot; an all-null reach when the column is absent
    (the queue then ranks by score and uncertainty alone, and says nothing false about audience)."""
    col = icfg.reach_feature
    if col not in features.columns:
        log.warning("feature table has no %r column: queue priority without reach", col)
        return features.select("account_id", F.lit(None).cast("long").alias("reach")).select(*REACH.fieldNames())
    return features.select("account_id", F.col(col).cast("long").alias("reach"))


def clusters_from_features(features: DataFrame, icfg: InputsConfig) -> DataFrame | None:
    """CLUSTERS from the feature table's cluster id column, or None when the table has no such column."""
    if icfg.cluster_id_column not in features.columns:
        return None
    return (features.where(F.col(icfg.cluster_id_column).isNotNull())
            .select("account_id", F.col(icfg.cluster_id_column).cast("string").alias("cluster_id")))


def coordination_clusters(interactions: DataFrame, as_of: datetime,
                          network_cfg: NetworkConfig | Mapping[str, Any]) -> DataFrame:
    """CLUSTERS of the coordination graph as the network feature family builds it: the same edges
    (features.network.coordination_edges with the same config), the same point-in-time cut, connected
    components with cluster_id = the smallest account id of the component. Accounts without a partner are
    in no cluster (no row), as `coord_cluster_size` = 0 says."""
    ncfg = network_cfg if isinstance(network_cfg, NetworkConfig) else NetworkConfig.model_validate(network_cfg)
    algo = ncfg.algorithms
    edges = materialize(coordination_edges(cut(interactions, "created_at", as_of), ncfg.coordination),
                        local_checkpoints=algo.local_checkpoints)
    ids = edges.select(F.col("src").alias("id")).union(edges.select(F.col("dst").alias("id"))).distinct()
    cc = graph.connected_components(ids, edges, max_iter=algo.components_max_iter,
                                    checkpoint_interval=algo.checkpoint_interval,
                                    local_checkpoints=algo.local_checkpoints, use_graphframes=algo.use_graphframes)
    return cc.select(F.col("id").alias("account_id"), F.col("component").cast("string").alias("cluster_id"))


def cluster_size_mismatches(clusters: DataFrame, features: DataFrame, icfg: InputsConfig) -> int | None:
    """Accounts whose derived cluster size differs from the snapshot's own cluster-size feature (0 for
    accounts in no cluster). Not zero means the derivation and the feature disagree: the job logs it and
    records the count. None when the feature is absent."""
    col = icfg.cluster_size_feature
    if col not in features.columns:
        return None
    sizes = clusters.groupBy("cluster_id").agg(F.count("*").alias("_n"))
    derived = clusters.join(sizes, "cluster_id").select("account_id", "_n")
    return (features.select("account_id", F.coalesce(F.col(col).cast("long"), F.lit(0)).alias("_f"))
            .join(derived, "account_id", "left")
            .where(F.col("_f") != F.coalesce(F.col("_n"), F.lit(0))).count())


@dataclass(frozen=True)
class SnapshotEvidence:
    """The evidence of the scored snapshot, all as the snapshot saw it."""

    clusters: DataFrame                 # CLUSTERS
    reach: DataFrame                    # REACH
    posts: DataFrame                    # raw posts at the version the snapshot recorded
    input_versions: dict[str, int]      # raw table -> version, as the snapshot recorded them
    cluster_size_mismatches: int | None  # derived clusters vs the size feature; None: not checked


def snapshot_evidence(read: PinnedRead, cfg: Config, ecfg: EnforcementConfig,
                      info: ScoringRunInfo) -> SnapshotEvidence:
    """Clusters, reach and posts of the scored snapshot: the feature table at the version the scores
    recorded, raw tables at the versions the snapshot recorded."""
    if info.feature_table_version is None:
        raise ValueError(f"scoring run {info.scoring_run_id} records no feature table version")
    feats = read("features", info.feature_table_version).where(F.col("snapshot_date").isin(list(info.snapshot_dates)))
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
    mismatches = None
    if clusters is None:
        # The feature table keeps cluster sizes, not ids: rebuild the components the feature counted, from
        # the interactions version the snapshot recorded, cut at the snapshot's as_of.
        interactions = read("raw_interactions", versions.get("raw_interactions"))
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
        if mismatches:
            log.warning("%d accounts: derived coordination cluster size differs from feature %s",
                        mismatches, ecfg.inputs.cluster_size_feature)
    posts = read("raw_posts", versions.get("raw_posts"))
    return SnapshotEvidence(clusters.select(*CLUSTERS.fieldNames()), reach, posts, versions, mismatches)


def breaker_history(action_log: DataFrame, review_queue: DataFrame, *, exclude_scoring_run: str,
                    lookback: int) -> list[int]:
    """Automatic-action counts (accounts) of the last `lookback` earlier enforce runs, oldest first,
    read from the enforcement tables themselves (nothing else to keep in sync):

    - a run is a scoring run that left policy rows in the action log or entries in the review queue;
    - its count is the number of distinct accounts the policy acted on in it (0 when it only queued);
    - runs the breaker held (any queue entry with held_by_breaker) are left out: a surge must not teach
      the breaker to accept it, and a held run's zero must not lower the limit;
    - the run being enforced is left out, so a retried run sees the history its first attempt saw.
    Order: by the run's first decision or queue time, then id. A run that neither acted nor queued
    anything leaves no trace and is not counted.
    """
    require(action_log, ["scoring_run_id", "account_id", "decision_source", "decided_at"], "action_log")
    require(review_queue, ["scoring_run_id", "held_by_breaker", "enqueued_at"], "review_queue")
    acted = (action_log.where((F.col("decision_source") == SOURCE_POLICY) & F.col("scoring_run_id").isNotNull())
             .groupBy("scoring_run_id")
             .agg(F.countDistinct("account_id").alias("n"), F.min("decided_at").alias("t_act")))
    queued = (review_queue.where(F.col("scoring_run_id").isNotNull()).groupBy("scoring_run_id")
              .agg(F.max(F.coalesce(F.col("held_by_breaker"), F.lit(False))).alias("held"),
                   F.min("enqueued_at").alias("t_queue")))
    runs = (acted.join(queued, "scoring_run_id", "full")
            .where(~F.coalesce(F.col("held"), F.lit(False)) & (F.col("scoring_run_id") != exclude_scoring_run))
            .select("scoring_run_id", F.coalesce("n", F.lit(0)).alias("n"),
                    F.least("t_act", "t_queue").alias("t")))
    rows = runs.orderBy(F.col("t").desc_nulls_last(), F.col("scoring_run_id").desc()).limit(lookback).collect()
    return [int(r["n"]) for r in reversed(rows)]


__all__ = ["CLUSTERS", "NoScoringRun", "PinnedRead", "ScoringRunInfo", "SnapshotEvidence", "breaker_history",
           "cluster_size_mismatches", "clusters_from_features", "coordination_clusters", "latest_scoring_run",
           "reach_from_features", "scoring_run_info", "snapshot_evidence"]
