"""Network features: who an account acts with (coordination, follow and device graphs).

Engagement farms and device-sharing rings are invisible account by account and obvious as a graph:
accounts that keep acting on the same posts within seconds of each other (SynchroTrap, CopyCatch),
follow graphs with odd shape, and many accounts behind one device. See docs/network.md for the
definitions and the cost bounds.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field, ValidationError
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from genuine.core.config import Config, Strict, _explain
from genuine.core.errors import ConfigError
from genuine.features.registry import Family, Feature, count, ratio
from genuine.lib import graph
from genuine.lib.checkpoint import materialize

log = logging.getLogger(__name__)

FAMILY: Family = "network"
FOLLOW, UNFOLLOW = "follow", "unfollow"  # interaction kinds of the input contract


# --- configuration -------------------------------------------------------------------------------


class CoordinationConfig(Strict):
    kinds: list[str] = Field(min_length=1)
    window_seconds: int = Field(gt=0)
    min_co_actions: int = Field(ge=1)
    max_actors_per_bucket: int = Field(ge=2)


class AlgorithmConfig(Strict):
    graphframes: Literal["auto", "always", "never"] = "auto"
    checkpoint_interval: int = Field(ge=1)
    local_checkpoints: bool = False
    components_max_iter: int = Field(ge=1)
    pagerank_damping: float = Field(gt=0.0, lt=1.0)
    pagerank_max_iter: int = Field(ge=1)
    pagerank_tol: float = Field(gt=0.0)

    @property
    def use_graphframes(self) -> bool | None:
        return {"auto": None, "always": True, "never": False}[self.graphframes]


class NetworkConfig(Strict):
    """features.network in conf/base.yml."""

    coordination: CoordinationConfig
    algorithms: AlgorithmConfig

    @classmethod
    def from_config(cls, cfg: Config) -> NetworkConfig:
        try:
            return cls.model_validate(cfg.features.get("network", {}))
        except ValidationError as exc:
            raise ConfigError(_explain(exc, prefix="features.network")) from None


# --- registry ------------------------------------------------------------------------------------

FEATURES: list[Feature] = [
    count("coord_weighted_degree", FAMILY,
          "co-actions with coordination partners: summed over partners, the number of posts both acted on "
          "within the window (pairs below min_co_actions are not partners)"),
    count("coord_partners", FAMILY, "accounts linked to this one in the coordination graph"),
    count("coord_cluster_size", FAMILY,
          "accounts in this account's connected component of the coordination graph (0: no partner)"),
    ratio("coord_cluster_density", FAMILY,
          "coordination edges / possible edges inside that component (null: no partner)"),
    count("follow_in_degree", FAMILY, "accounts currently following this one", direction="lower"),
    count("follow_out_degree", FAMILY, "accounts this one currently follows"),
    ratio("follow_reciprocity", FAMILY,
          "2 x mutual follows / (followers + following), as networkx.reciprocity (null: no follow links)",
          direction=None),
    count("follow_triangles", FAMILY,
          "triangles through this account in the undirected current follow graph", direction="lower"),
    ratio("follow_clustering", FAMILY,
          "local clustering coefficient of the undirected current follow graph (null: fewer than 2 "
          "neighbours)", direction="lower"),
    Feature("follow_pagerank", FAMILY, "multiple of the average account",
            "PageRank in the current follow graph times the number of accounts (1 = average)",
            direction="lower"),
    count("device_max_accounts", FAMILY,
          "largest number of accounts seen on one of this account's devices (0: no device seen)"),
    count("device_cluster_accounts", FAMILY,
          "accounts in this account's component of the account-device graph (0: no device seen)"),
]
FEATURE_NAMES = [f.name for f in FEATURES]
SCHEMA = StructType([StructField("account_id", StringType(), True)]
                    + [StructField(f.name, f.dtype, True) for f in FEATURES])


# --- coordination graph --------------------------------------------------------------------------

def coordination_cells(interactions: DataFrame, cfg: CoordinationConfig) -> DataFrame:
    """One row per (target post, time bucket, actor) kept for pairing, at most K actors per cell.

    Buckets are window-sized, so two actions within the window fall in the same or adjacent buckets.
    A cell with more than K = max_actors_per_bucket actors keeps the K with the smallest
    xxhash64(actor, post, bucket): deterministic, independent of arrival order, and a different sample
    per post and bucket. Columns: target_post_id, bucket, actor_id, first_us, last_us, cell_actors.
    """
    w_us = cfg.window_seconds * 1_000_000
    t = F.unix_micros("created_at")
    ev = (interactions
          .where(F.col("kind").isin(cfg.kinds) & F.col("actor_id").isNotNull()
                 & F.col("target_post_id").isNotNull() & F.col("created_at").isNotNull())
          .select("target_post_id", "actor_id", t.alias("t"))
          .withColumn("bucket", ((F.col("t") - F.pmod("t", F.lit(w_us))) / F.lit(w_us)).cast("long")))
    cells = ev.groupBy("target_post_id", "bucket", "actor_id").agg(
        F.min("t").alias("first_us"), F.max("t").alias("last_us"))
    cell = Window.partitionBy("target_post_id", "bucket")
    ranked = cells.select(
        "*", F.count("*").over(cell).alias("cell_actors"),
        F.row_number().over(cell.orderBy(F.xxhash64("actor_id", "target_post_id", "bucket"), "actor_id"))
        .alias("rk"))
    return ranked.where(F.col("rk") <= cfg.max_actors_per_bucket).drop("rk")


def coordination_pairs(interactions: DataFrame, cfg: CoordinationConfig) -> DataFrame:
    """Every candidate pair generated from the capped cells: (target_post_id, a, b, within_window), a < b.

    Same-bucket pairs are always within the window; pairs across adjacent buckets are checked exactly
    (later first action - earlier last action <= window). With k_c <= K actors kept in cell c the rows
    generated are sum_c [k_c (k_c - 1) / 2 + k_c k_next(c)] <= (3K - 1) / 2 per kept cell row, whatever the
    popularity of the post (docs/network.md).
    """
    w_us = cfg.window_seconds * 1_000_000
    c = coordination_cells(interactions, cfg).drop("cell_actors")
    x, y = c.alias("x"), c.alias("y")
    same = (x.join(y, ["target_post_id", "bucket"])
            .where(F.col("x.actor_id") < F.col("y.actor_id"))
            .select("target_post_id", F.col("x.actor_id").alias("a"), F.col("y.actor_id").alias("b"),
                    F.lit(True).alias("within_window")))
    nxt = y.select("target_post_id", (F.col("bucket") - 1).alias("bucket"),
                   F.col("actor_id").alias("later_id"), F.col("first_us").alias("later_first"))
    cross = (x.join(nxt, ["target_post_id", "bucket"])
             .where(F.col("x.actor_id") != F.col("later_id"))
             .select("target_post_id", F.least("x.actor_id", "later_id").alias("a"),
                     F.greatest("x.actor_id", "later_id").alias("b"),
                     (F.col("later_first") - F.col("x.last_us") <= F.lit(w_us)).alias("within_window")))
    return same.unionAll(cross)


def coordination_edges(interactions: DataFrame, cfg: CoordinationConfig) -> DataFrame:
    """Coordination graph (src < dst, weight): weight = distinct posts both acted on within the window,
    kept when >= min_co_actions."""
    pairs = coordination_pairs(interactions, cfg).where("within_window")
    return (pairs.groupBy(F.col("a").alias("src"), F.col("b").alias("dst"))
            .agg(F.countDistinct("target_post_id").alias("weight"))
            .where(F.col("weight") >= cfg.min_co_actions))


def _coordination_features(edges: DataFrame, algo: AlgorithmConfig) -> DataFrame:
    ends = edges.select(F.col("src").alias("id"), "weight").unionAll(edges.select(F.col("dst").alias("id"),
                                                                                  "weight"))
    per = ends.groupBy("id").agg(F.sum("weight").cast("long").alias("coord_weighted_degree"),
                                 F.count("*").alias("coord_partners"))
    cc = graph.connected_components(ends.select("id").distinct(), edges, max_iter=algo.components_max_iter,
                                    checkpoint_interval=algo.checkpoint_interval,
                                    local_checkpoints=algo.local_checkpoints,
                                    use_graphframes=algo.use_graphframes)
    comp_edges = (edges.join(cc.select(F.col("id").alias("src"), "component"), "src")
                  .groupBy("component").agg(F.count("*").alias("n_edges")))
    comp = (cc.groupBy("component").agg(F.count("*").alias("n")).join(comp_edges, "component")
            .select("component", F.col("n").alias("coord_cluster_size"),
                    (F.col("n_edges") / (F.col("n") * (F.col("n") - 1) / F.lit(2.0))).alias("coord_cluster_density")))
    return (per.join(cc, "id").join(comp, "component")
            .select(F.col("id").alias("account_id"), "coord_weighted_degree", "coord_partners",
                    "coord_cluster_size", "coord_cluster_density"))


# --- follow graph --------------------------------------------------------------------------------

def follow_edges(interactions: DataFrame) -> DataFrame:
    """Current follow edges (src follows dst): the latest follow/unfollow event of each ordered pair is a
    follow. At equal timestamps an unfollow counts as the later event. Self follows are ignored."""
    f = interactions.where(F.col("kind").isin(FOLLOW, UNFOLLOW) & F.col("actor_id").isNotNull()
                           & F.col("target_account_id").isNotNull() & F.col("created_at").isNotNull()
                           & (F.col("actor_id") != F.col("target_account_id")))
    latest = f.groupBy(F.col("actor_id").alias("src"), F.col("target_account_id").alias("dst")).agg(
        F.max_by("kind", F.struct("created_at", (F.col("kind") == UNFOLLOW).alias("u"))).alias("kind"))
    return latest.where(F.col("kind") == FOLLOW).select("src", "dst")


def _follow_features(ids: DataFrame, edges: DataFrame, algo: AlgorithmConfig) -> DataFrame:
    local = graph.local_structure(ids, edges, use_graphframes=algo.use_graphframes)
    pr = graph.pagerank(ids, edges, damping=algo.pagerank_damping, max_iter=algo.pagerank_max_iter,
                        tol=algo.pagerank_tol, checkpoint_interval=algo.checkpoint_interval,
                        local_checkpoints=algo.local_checkpoints, use_graphframes=algo.use_graphframes,
                        scale="per_vertex")
    return (local.join(pr, "id")
            .select(F.col("id").alias("account_id"),
                    F.col("in_degree").cast("long").alias("follow_in_degree"),
                    F.col("out_degree").cast("long").alias("follow_out_degree"),
                    F.col("reciprocity").alias("follow_reciprocity"),
                    F.col("triangles").cast("long").alias("follow_triangles"),
                    F.col("clustering").alias("follow_clustering"),
                    F.col("pagerank").alias("follow_pagerank")))


# --- account-device graph ------------------------------------------------------------------------

def _device_features(sessions: DataFrame, algo: AlgorithmConfig) -> DataFrame:
    ad = materialize(sessions.where(F.col("account_id").isNotNull() & F.col("device_hash").isNotNull())
                           .select("account_id", "device_hash").distinct(),
                           local_checkpoints=algo.local_checkpoints)
    per_device = ad.groupBy("device_hash").agg(F.count("*").alias("n"))
    max_acc = (ad.join(per_device, "device_hash").groupBy("account_id")
               .agg(F.max("n").alias("device_max_accounts")))
    # Bipartite graph: prefixes keep account and device ids apart; only accounts are counted.
    a_id, d_id = F.concat(F.lit("a:"), "account_id"), F.concat(F.lit("d:"), "device_hash")
    e = ad.select(a_id.alias("src"), d_id.alias("dst"))
    v = e.select(F.col("src").alias("id")).union(e.select(F.col("dst").alias("id"))).distinct()
    cc = graph.connected_components(v, e, max_iter=algo.components_max_iter,
                                    checkpoint_interval=algo.checkpoint_interval,
                                    local_checkpoints=algo.local_checkpoints,
                                    use_graphframes=algo.use_graphframes)
    accounts_cc = cc.where(F.col("id").startswith("a:"))
    size = accounts_cc.groupBy("component").agg(F.count("*").alias("device_cluster_accounts"))
    comp = accounts_cc.join(size, "component").select(F.expr("substring(id, 3)").alias("account_id"),
                                                      "device_cluster_accounts")
    return max_acc.join(comp, "account_id")


# --- the family transform ------------------------------------------------------------------------

def network_features(accounts: DataFrame, interactions: DataFrame, sessions: DataFrame,
                     cfg: NetworkConfig) -> DataFrame:
    """One row per account in `accounts`: account_id + FEATURES, zero counts / null ratios where the
    account is not in a graph. Events must already be filtered to the snapshot time.

    Not lazy: the graph algorithms iterate with Spark jobs while this runs, and the graph inputs are
    materialized once (lib/checkpoint.materialize); the returned DataFrame is a plan over those results.
    """
    acc = accounts.select("account_id").distinct()
    algo = cfg.algorithms

    # Graph inputs are read by several algorithms: computed once (and freed when no longer referenced).
    local = algo.local_checkpoints
    coord = _coordination_features(
        materialize(coordination_edges(interactions, cfg.coordination), local_checkpoints=local), algo)

    fe = materialize(follow_edges(interactions), local_checkpoints=local)
    ids = materialize(
        acc.select(F.col("account_id").alias("id")).where(F.col("id").isNotNull())
        .union(fe.select(F.col("src").alias("id"))).union(fe.select(F.col("dst").alias("id"))).distinct(),
        local_checkpoints=local)
    follow = _follow_features(ids, fe, algo)

    device = _device_features(sessions, algo)

    out = acc.join(coord, "account_id", "left").join(follow, "account_id", "left").join(
        device, "account_id", "left")
    # when() rather than coalesce(): the columns stay nullable as SCHEMA declares (Delta would otherwise
    # make them NOT NULL).
    cols = [(F.when(F.col(f.name).isNull(), F.lit(0)).otherwise(F.col(f.name)) if f.is_count
             else F.col(f.name)).cast(f.dtype).alias(f.name) for f in FEATURES]
    return out.select("account_id", *cols)
