"""Network features: who an account acts with (coordination, follow and device graphs).

Engagement farms and device-sharing rings are invisible account by account and obvious as a graph:
accounts that keep acting on the same posts within seconds of each other (SynchroTrap, CopyCatch),
follow graphs with odd shape, and many accounts behind one device. Co-action is also weighed against
chance (fans of one celebrity act within minutes of each other too), and each account is described by
its neighbours (co-action partners, followees, device and prefix sharers) and their known labels.
See docs/network.md for the definitions and the cost bounds.

Longer than ~400 lines on purpose: the family's graphs share one configuration, one registry block and
intermediate results (follow edges, engagements, co-action pairs) that are materialized once in
network_features; the chance model's arithmetic lives in genuine/lib/coaction.py.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from genuine.core.catalog import MICROS_PER_DAY
from genuine.core.config import Config, Strict, _explain
from genuine.core.errors import ConfigError
from genuine.features.registry import Family, Feature, count, ratio
from genuine.lib import coaction, graph
from genuine.lib.checkpoint import materialize
from genuine.lib.days import day_window, in_partitions
from genuine.lib.ordered import ordered_avg, ordered_sum
from genuine.lib.timing import timed

log = logging.getLogger(__name__)

FAMILY: Family = "network"
SECONDS_PER_DAY = 86_400
FOLLOW, UNFOLLOW = "follow", "unfollow"  # interaction kinds of the input contract


# --- configuration -------------------------------------------------------------------------------


class CoordinationConfig(Strict):
    kinds: list[str] = Field(min_length=1)
    window_seconds: int = Field(gt=0)
    min_co_actions: int = Field(ge=1)
    max_actors_per_bucket: int = Field(ge=2)


class CoactionConfig(Strict):
    """Co-action weighed against chance (docs/network.md, genuine/lib/coaction.py)."""

    windows_seconds: list[int] = Field(min_length=1)
    lag_edges_seconds: list[float] = Field(min_length=3)
    profile_prior: float = Field(ge=0.0)
    lift_prior: float = Field(gt=0.0)
    min_support: int = Field(ge=1)
    lift_min: float = Field(gt=1.0)

    @field_validator("windows_seconds")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(w <= 0 for w in v) or len(set(v)) != len(v):
            raise ValueError("windows must be distinct and > 0")
        return sorted(v)

    @field_validator("lag_edges_seconds")
    @classmethod
    def _increasing(cls, v: list[float]) -> list[float]:
        if v[0] != 0 or any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("lag edges must start at 0 and increase")
        return v


class NeighbourConfig(Strict):
    """Neighbourhood features (Facebook DEC) and label propagation."""

    young_days: int = Field(ge=1)
    max_accounts_per_device: int = Field(ge=2)
    max_accounts_per_prefix: int = Field(ge=2)
    positive_label: str


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

    # Co-action evidence (the coordination graph and co-action against chance) is of the last window_days
    # UTC days of the snapshot: lockstep is recent behaviour, and a snapshot's cost must stop growing with
    # the history. None: the whole history. Follows, devices and prefixes are links and stay whole.
    window_days: int | None = Field(None, ge=1)
    coordination: CoordinationConfig
    coaction: CoactionConfig
    neighbours: NeighbourConfig
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
    Feature("coaction_lift_max", FAMILY, "multiple of chance",
            "largest (observed + prior) / (expected + prior) co-actions with one partner in one window, over "
            "partners with min_support co-actions (null: none); expected from both accounts' usual delays after "
            "that author's posts, so fans answering their celebrity score ~1"),
    Feature("coaction_partners_weighted", FAMILY, "partners",
            "partners whose co-actions beat chance (lift >= lift_min), each weighted by the share of its "
            "co-actions that chance does not explain, 1 - expected / observed"),
    count("coaction_target_authors", FAMILY,
          "distinct authors of the posts this account co-acted on with those partners (fans: one, rings: many)"),
    ratio("coaction_participation", FAMILY,
          "share of the posts it engaged on which it co-acted with those partners (null: engaged nothing)"),
    Feature("nbr_coaction_mean", FAMILY, "partners",
            "mean coaction_partners_weighted of its neighbours: co-action partners, followees, accounts "
            "sharing a device (null: no neighbour)"),
    Feature("nbr_coaction_max", FAMILY, "partners",
            "largest coaction_partners_weighted among those neighbours (null: no neighbour)"),
    ratio("nbr_young_share", FAMILY,
          "share of those neighbours created less than young_days before the snapshot (null: none of known age)"),
    count("prefix_accounts_max", FAMILY,
          "accounts seen on its busiest network prefix, among prefixes of at most max_accounts_per_prefix "
          "accounts (carrier-grade NAT prefixes, shared by many unrelated people, are left out; 0: none)"),
    ratio("prefix_young_share", FAMILY,
          "share of young accounts among the other accounts of those prefixes (null: no other account)"),
    ratio("label_neighbour_share", FAMILY,
          "share of its co-action partners and device-sharing accounts whose latest moderator label at the "
          "snapshot is positive (its own label never counts; null: no such neighbour)", from_labels=True),
]
FEATURE_NAMES = [f.name for f in FEATURES]
# 0 rather than null for an account outside a graph: the counts, and a sum over no partner.
ZERO_FILLED = {f.name for f in FEATURES if f.is_count} | {"coaction_partners_weighted"}
SCHEMA = StructType([StructField("account_id", StringType(), True)]
                    + [StructField(f.name, f.dtype, True) for f in FEATURES])


# --- coordination graph --------------------------------------------------------------------------

def coordination_actions(interactions: DataFrame, kinds: list[str]) -> DataFrame:
    """The interactions the family pairs and scores: actions of `kinds` on a post, with actor and time."""
    return interactions.where(F.col("kind").isin(kinds) & F.col("actor_id").isNotNull()
                              & F.col("target_post_id").isNotNull() & F.col("created_at").isNotNull())


def coordination_cells(interactions: DataFrame, cfg: CoordinationConfig) -> DataFrame:
    """One row per (target post, time bucket, actor) kept for pairing, at most K actors per cell.

    Buckets are window-sized, so two actions within the window fall in the same or adjacent buckets.
    A cell with more than K = max_actors_per_bucket actors keeps the K with the smallest
    xxhash64(actor, post, bucket): deterministic, independent of arrival order, and a different sample
    per post and bucket. Columns: target_post_id, bucket, actor_id, first_us, last_us, cell_actors.
    """
    w_us = cfg.window_seconds * 1_000_000
    t = F.unix_micros("created_at")
    ev = (coordination_actions(interactions, cfg.kinds)
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
    """Every candidate pair generated from the capped cells: (target_post_id, a, b, within_window,
    later_bucket), a < b; later_bucket is the pair's bucket, or the later of its two adjacent buckets.

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
                    F.lit(True).alias("within_window"), F.col("bucket").alias("later_bucket")))
    nxt = y.select("target_post_id", (F.col("bucket") - 1).alias("bucket"),
                   F.col("actor_id").alias("later_id"), F.col("first_us").alias("later_first"))
    cross = (x.join(nxt, ["target_post_id", "bucket"])
             .where(F.col("x.actor_id") != F.col("later_id"))
             .select("target_post_id", F.least("x.actor_id", "later_id").alias("a"),
                     F.greatest("x.actor_id", "later_id").alias("b"),
                     (F.col("later_first") - F.col("x.last_us") <= F.lit(w_us)).alias("within_window"),
                     (F.col("bucket") + 1).alias("later_bucket")))
    return same.unionAll(cross)


def coordination_edges(interactions: DataFrame, cfg: CoordinationConfig,
                       window: tuple[int, int] | None = None) -> DataFrame:
    """Coordination graph (src < dst, weight): weight = distinct posts both acted on within the window,
    kept when >= min_co_actions."""
    return edges_of_pairs(window_pairs(interactions, cfg, window).where("within_window"), cfg)


def coaction_window(as_of: datetime, cfg: NetworkConfig) -> tuple[int, int] | None:
    """The UTC day numbers (first, last) whose co-actions the snapshot at `as_of` weighs; None: all."""
    return day_window(as_of, cfg.window_days) if cfg.window_days is not None else None


def pair_day(window_s: int) -> Column:
    """The UTC day number a pair of coordination_pairs belongs to: the day its later bucket starts on."""
    return F.floor(F.col("later_bucket") * F.lit(window_s) / F.lit(SECONDS_PER_DAY)).cast("long")


def window_pairs(interactions: DataFrame, cfg: CoordinationConfig, window: tuple[int, int] | None) -> DataFrame:
    """coordination_pairs of the pairs that belong to the window's days (`pair_day`), or of all.

    A pair's earlier bucket starts at most one window before its later one, so the actions from one window
    before the first day on make every cell of those pairs whole (the same K actors are kept); the scans
    read the window's partitions and the day before it.
    """
    if window is None:
        return coordination_pairs(interactions, cfg)
    first, last = window
    since_us = first * MICROS_PER_DAY - cfg.window_seconds * 1_000_000
    ev = in_partitions(interactions, first - 1, last).where(F.unix_micros("created_at") >= F.lit(since_us))
    return coordination_pairs(ev, cfg).where(pair_day(cfg.window_seconds).between(first, last))


def window_actions(interactions: DataFrame, window: tuple[int, int] | None) -> DataFrame:
    """The interactions of the window's days (all without a window): what the engagements are made of."""
    if window is None:
        return interactions
    first, last = window
    return in_partitions(interactions, first, last).where(F.unix_micros("created_at") >= F.lit(first * MICROS_PER_DAY))


def edges_of_pairs(pairs: DataFrame, cfg: CoordinationConfig) -> DataFrame:
    """The coordination graph of within-window pairs (target_post_id, a, b) of the coordination window."""
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


# --- co-action against chance --------------------------------------------------------------------

def coaction_events(interactions: DataFrame, kinds: list[str]) -> DataFrame:
    """Action rows on posts (actor_id, target_post_id, author_id, t_us) of the coordination kinds."""
    return (coordination_actions(interactions, kinds)
            .select("actor_id", "target_post_id", F.col("target_account_id").alias("author_id"),
                    F.unix_micros("created_at").alias("t_us")))


def coaction_pairs(interactions: DataFrame, cfg: NetworkConfig, window: tuple[int, int] | None = None) -> DataFrame:
    """(window_s, target_post_id, a, b), a < b: the posts each pair co-acted on within each window, from
    the capped cells of coordination_pairs (same cost bound per window), of the days of `window`."""
    parts = [window_pairs(interactions, cfg.coordination.model_copy(update={"window_seconds": w}), window)
             .where("within_window").select(F.lit(w).alias("window_s"), "target_post_id", "a", "b")
             for w in cfg.coaction.windows_seconds]
    return reduce(DataFrame.unionAll, parts).distinct()


def coaction_evidence(pairs: DataFrame, eng: DataFrame, cfg: CoactionConfig) -> DataFrame:
    """(a, b, window_s, observed, expected, lift) of the supported pairs (lib/coaction.pair_evidence)."""
    return coaction.pair_evidence(pairs, eng, cfg.lag_edges_seconds, cfg.windows_seconds,
                                  prior_weight=cfg.profile_prior, lift_prior=cfg.lift_prior,
                                  min_support=cfg.min_support)


def coaction_partners(evidence: DataFrame, cfg: CoactionConfig) -> DataFrame:
    """(a, b, lift, significant, excess) per supported pair: its best window's lift, whether it beats
    lift_min, and the largest share of co-actions beyond chance among the windows that do."""
    sup = evidence.where(F.col("observed") >= cfg.min_support)
    beats = F.col("lift") >= F.lit(cfg.lift_min)
    share = F.greatest(F.lit(0.0), 1.0 - F.col("expected") / F.col("observed"))
    return (sup.groupBy("a", "b").agg(F.max("lift").alias("lift"),
                                      F.max(F.when(beats, share)).alias("excess"))
            .withColumn("significant", F.col("excess").isNotNull()))


def _coaction_features(pairs: DataFrame, eng: DataFrame, partners: DataFrame) -> DataFrame:
    ends = partners.select(F.col("a").alias("account_id"), "lift", "excess").unionAll(
        partners.select(F.col("b").alias("account_id"), "lift", "excess"))
    per = ends.groupBy("account_id").agg(F.max("lift").alias("coaction_lift_max"),
                                         ordered_sum(F.coalesce("excess", F.lit(0.0))).alias("coaction_partners_weighted"))
    sig = partners.where("significant").select("a", "b")
    on_sig = pairs.join(sig, ["a", "b"], "left_semi")
    co_posts = (on_sig.select(F.col("a").alias("actor_id"), "target_post_id")
                .union(on_sig.select(F.col("b").alias("actor_id"), "target_post_id")).distinct()
                .join(eng.select("actor_id", "target_post_id", "author_id"), ["actor_id", "target_post_id"])
                .groupBy("actor_id").agg(F.count("*").alias("n_co"),
                                         F.countDistinct("author_id").alias("coaction_target_authors")))
    n_eng = eng.groupBy("actor_id").agg(F.count("*").alias("n_eng"))
    part = (n_eng.join(co_posts, "actor_id", "left")
            .select(F.col("actor_id").alias("account_id"), "coaction_target_authors",
                    (F.coalesce("n_co", F.lit(0)) / F.col("n_eng")).alias("coaction_participation")))
    return part.join(per, "account_id", "full")


# --- neighbourhoods (Facebook DEC) and known labels -----------------------------------------------

def device_pairs(sessions: DataFrame, max_accounts: int) -> DataFrame:
    """(src, dst) accounts seen on a common device, both directions; devices with more than
    `max_accounts` accounts (shared public devices) link nobody: the projection is quadratic in them."""
    ad = sessions.where(F.col("account_id").isNotNull() & F.col("device_hash").isNotNull()).select(
        "account_id", "device_hash").distinct()
    small = ad.groupBy("device_hash").agg(F.count("*").alias("n")).where(F.col("n") <= max_accounts)
    ad = ad.join(small.select("device_hash"), "device_hash")
    x, y = ad.alias("x"), ad.alias("y")
    return (x.join(y, "device_hash").where(F.col("x.account_id") != F.col("y.account_id"))
            .select(F.col("x.account_id").alias("src"), F.col("y.account_id").alias("dst")).distinct())


def latest_positive(labels: DataFrame, positive: str) -> DataFrame:
    """(account_id, positive): whether each labelled account's latest decision (already cut at the
    snapshot) is the positive label."""
    latest = labels.where(F.col("account_id").isNotNull() & F.col("decided_at").isNotNull()).groupBy(
        "account_id").agg(F.max_by("label", "decided_at").alias("label"))
    return latest.select("account_id", (F.col("label") == positive).cast("double").alias("positive"))


def _young(accounts: DataFrame, as_of: datetime, days: int) -> DataFrame:
    since = F.lit(as_of.astimezone(UTC) - timedelta(days=days))
    return (accounts.where(F.col("account_id").isNotNull() & F.col("created_at").isNotNull())
            .groupBy("account_id").agg(F.max("created_at").alias("created_at"))
            .select("account_id", (F.col("created_at") >= since).cast("double").alias("young")))


def _neighbour_features(acc: DataFrame, partners: DataFrame, follows: DataFrame, devices: DataFrame,
                        coact: DataFrame, young: DataFrame, positive: DataFrame) -> DataFrame:
    sig = partners.where("significant").select("a", "b")
    co = sig.select(F.col("a").alias("src"), F.col("b").alias("dst")).union(
        sig.select(F.col("b").alias("src"), F.col("a").alias("dst")))
    near = co.union(devices).distinct()                      # label propagation: co-action and device
    allnb = near.union(follows.select("src", "dst")).distinct().where(F.col("src") != F.col("dst"))
    attrs = (coact.select(F.col("account_id").alias("dst"), F.col("coaction_partners_weighted").alias("w"))
             .join(young.select(F.col("account_id").alias("dst"), "young"), "dst", "full"))
    nb = (allnb.join(attrs, "dst", "left").groupBy(F.col("src").alias("account_id"))
          .agg(ordered_avg(F.coalesce("w", F.lit(0.0))).alias("nbr_coaction_mean"),
               F.max(F.coalesce("w", F.lit(0.0))).alias("nbr_coaction_max"),
               F.avg("young").alias("nbr_young_share")))
    lab = (near.where(F.col("src") != F.col("dst"))
           .join(positive.select(F.col("account_id").alias("dst"), "positive"), "dst", "left")
           .groupBy(F.col("src").alias("account_id"))
           .agg(F.avg(F.coalesce("positive", F.lit(0.0))).alias("label_neighbour_share")))
    return acc.join(nb, "account_id", "left").join(lab, "account_id", "left")


def _prefix_features(sessions: DataFrame, young: DataFrame, max_accounts: int) -> DataFrame:
    ap = sessions.where(F.col("account_id").isNotNull() & F.col("ip_prefix_hash").isNotNull()).select(
        "account_id", "ip_prefix_hash").distinct()
    small = ap.groupBy("ip_prefix_hash").agg(F.count("*").alias("n")).where(F.col("n") <= max_accounts)
    ap = ap.join(small, "ip_prefix_hash")
    busiest = ap.groupBy("account_id").agg(F.max("n").alias("prefix_accounts_max"))
    x, y = ap.alias("x"), ap.select("ip_prefix_hash", F.col("account_id").alias("other")).alias("y")
    others = (x.join(y, "ip_prefix_hash").where(F.col("x.account_id") != F.col("other"))
              .select(F.col("x.account_id").alias("account_id"), "other").distinct()
              .join(young.select(F.col("account_id").alias("other"), "young"), "other", "left")
              .groupBy("account_id").agg(F.avg(F.coalesce("young", F.lit(0.0))).alias("prefix_young_share")))
    return busiest.join(others, "account_id", "left")


# --- the family transform ------------------------------------------------------------------------

def network_features(accounts: DataFrame, interactions: DataFrame, sessions: DataFrame,
                     cfg: NetworkConfig, *, labels: DataFrame | None = None,
                     as_of: datetime | None = None, pairs: DataFrame | None = None) -> DataFrame:
    """One row per account in `accounts`: account_id + FEATURES, zero counts / null ratios where the
    account is not in a graph. Events and labels must already be cut at the snapshot time `as_of`
    (default: the latest interaction); without labels, label_neighbour_share is 0 wherever defined.
    `pairs` (window_s, target_post_id, a, b), the within-window pairs of every window of the events (the
    stored ones of features/network_partials.py, of the days of `coaction_window`), replaces pairing the
    events again.

    Not lazy: the graph algorithms iterate with Spark jobs while this runs, and the graph inputs are
    materialized once (lib/checkpoint.materialize); the returned DataFrame is a plan over those results.
    """
    acc = accounts.select("account_id").distinct()
    algo = cfg.algorithms

    # Graph inputs are read by several algorithms: computed once (and freed when no longer referenced).
    local = algo.local_checkpoints
    if as_of is None:
        latest = interactions.agg(F.max("created_at")).first()
        as_of = latest[0] if latest is not None and latest[0] is not None else datetime.now(UTC)
    window = coaction_window(as_of, cfg)
    if pairs is None:
        edges = coordination_edges(interactions, cfg.coordination, window)
    else:
        edges = edges_of_pairs(pairs.where(F.col("window_s") == cfg.coordination.window_seconds), cfg.coordination)
    with timed(log, "features: network: coordination graph"):
        coord = _coordination_features(materialize(edges, local_checkpoints=local), algo)

    with timed(log, "features: network: follow graph"):
        fe = materialize(follow_edges(interactions), local_checkpoints=local)
        ids = materialize(
            acc.select(F.col("account_id").alias("id")).where(F.col("id").isNotNull())
            .union(fe.select(F.col("src").alias("id"))).union(fe.select(F.col("dst").alias("id"))).distinct(),
            local_checkpoints=local)
        follow = _follow_features(ids, fe, algo)

    with timed(log, "features: network: device graph"):
        device = _device_features(sessions, algo)

    nbc = cfg.neighbours
    with timed(log, "features: network: co-action against chance"):
        eng = materialize(coaction.engagements(coaction_events(window_actions(interactions, window),
                                                               cfg.coordination.kinds)),
                          local_checkpoints=local)
        co = (coaction_pairs(interactions, cfg, window) if pairs is None
              else pairs.where(F.col("window_s").isin(cfg.coaction.windows_seconds)).select(
                  "window_s", "target_post_id", "a", "b").distinct())
        co = materialize(co, local_checkpoints=local)
        partners = materialize(coaction_partners(coaction_evidence(co, eng, cfg.coaction), cfg.coaction),
                               local_checkpoints=local)
        coact = materialize(_coaction_features(co, eng, partners), local_checkpoints=local)
    young = _young(accounts, as_of, nbc.young_days)
    positive = (latest_positive(labels, nbc.positive_label) if labels is not None
                else young.select("account_id", F.lit(0.0).alias("positive")).limit(0))
    # Each part is computed on its own before the final join: one plan over all of them is too big for
    # a small driver's execution memory (seen at 2 GB).
    with timed(log, "features: network: neighbourhoods"):
        nbr = materialize(_neighbour_features(acc, partners, fe, device_pairs(sessions, nbc.max_accounts_per_device),
                                              coact, young, positive), local_checkpoints=local)
    prefix = (_prefix_features(sessions, young, nbc.max_accounts_per_prefix) if "ip_prefix_hash" in sessions.columns
              else acc.select("account_id", F.lit(None).cast("long").alias("prefix_accounts_max"),
                              F.lit(None).cast("double").alias("prefix_young_share")).limit(0))

    coord, follow, device, prefix = (materialize(part, local_checkpoints=local)
                                     for part in (coord, follow, device, prefix))
    out = (acc.join(coord, "account_id", "left").join(follow, "account_id", "left")
           .join(device, "account_id", "left").join(coact, "account_id", "left").join(nbr, "account_id", "left")
           .join(prefix, "account_id", "left"))
    # when() rather than coalesce(): the columns stay nullable as SCHEMA declares (Delta would otherwise
    # make them NOT NULL).
    cols = [(F.when(F.col(f.name).isNull(), F.lit(0)).otherwise(F.col(f.name)) if f.name in ZERO_FILLED
             else F.col(f.name)).cast(f.dtype).alias(f.name) for f in FEATURES]
    return out.select("account_id", *cols)
