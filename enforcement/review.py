"""The review queue: accounts a human must look at, most harmful and most uncertain first, each with
the evidence a moderator needs to decide without opening five other tools."""

from __future__ import annotations

import math
from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.schemas import REVIEW_QUEUE, SAMPLE_POST
from genuine.enforcement._cols import conform, reason_codes, require, strings
from genuine.enforcement.config import EnforcementConfig, QueueConfig, enforcement_config
from genuine.enforcement.ids import stable_id
from genuine.enforcement.policy import ROUTE_EXPLORATION
from genuine.enforcement.schemas import OUTCOME_REVIEW, POLICY_DECISIONS


def queue_priority(df: DataFrame, qcfg: QueueConfig, auto_threshold: float) -> DataFrame:
    """Adds expected_harm, uncertainty and priority (needs score and reach; reach null counts as 0).

    expected_harm = score * ln(1 + reach) / ln(1 + reach_scale): a likely bot with a large audience first.
    uncertainty   = max(0, 1 - |score - auto_threshold| / uncertainty_band): cases near the line where
                    a human decision changes the outcome most.
    """
    harm = F.col("score") * F.log1p(F.coalesce(F.col("reach"), F.lit(0)).cast("double")) / F.lit(
        math.log1p(qcfg.reach_scale))
    unc = F.greatest(F.lit(0.0), F.lit(1.0) - F.abs(F.col("score") - F.lit(auto_threshold))
                     / F.lit(qcfg.uncertainty_band))
    return (df.withColumn("expected_harm", harm)
            .withColumn("uncertainty", unc)
            .withColumn("priority", F.lit(qcfg.harm_weight) * F.col("expected_harm")
                        + F.lit(qcfg.uncertainty_weight) * F.col("uncertainty")))


def interleave_rank(df: DataFrame, share: float) -> DataFrame:
    """queue_rank over two streams, each in (priority desc, score desc, account_id) order: the k-th
    exploration item sits at k / share and the k-th flagged one at k / (1 - share), so a moderator who
    works the first N items spends about share x N of them on exploration."""
    explore = F.col("route_reason") == F.lit(ROUTE_EXPLORATION)
    within = F.row_number().over(Window.partitionBy(explore).orderBy(
        F.col("priority").desc(), F.col("score").desc(), F.col("account_id")))
    step = F.when(explore, F.lit(1.0 / share if share > 0 else 1.0)).otherwise(F.lit(1.0 / (1.0 - share)))
    return (df.withColumn("_pos", within * step)
            .withColumn("queue_rank", F.row_number().over(Window.orderBy(
                "_pos", explore.desc(), F.col("account_id"))).cast("long"))
            .drop("_pos"))


def sample_posts(queued: DataFrame, posts: DataFrame, qcfg: QueueConfig) -> DataFrame:
    """account_id -> up to `max_sample_posts` most recent posts up to the snapshot (id, time, snippet)."""
    require(posts, ["post_id", "account_id", "created_at", "title", "body"], "posts")
    keys = queued.select("account_id", "snapshot_date")
    text = F.trim(F.regexp_replace(F.concat_ws(" ", F.col("title"), F.col("body")), r"\s+", " "))
    ranked = (posts.join(keys, "account_id")
              .filter(F.col("created_at") < F.date_add("snapshot_date", 1).cast("timestamp"))
              .withColumn("rn", F.row_number().over(
                  Window.partitionBy("account_id").orderBy(F.col("created_at").desc(), F.col("post_id"))))
              .filter(F.col("rn") <= qcfg.max_sample_posts)
              .withColumn("snippet", F.substring(text, 1, qcfg.snippet_chars)))
    item = F.struct("rn", "post_id", "created_at", "snippet")
    return (ranked.groupBy("account_id")
            .agg(F.array_sort(F.collect_list(item)).alias("_posts"))
            .select("account_id", F.transform("_posts", lambda p: F.struct(
                *[p[f.name].alias(f.name) for f in SAMPLE_POST.fields])).alias("sample_posts")))


def cluster_evidence(queued: DataFrame, clusters: DataFrame, qcfg: QueueConfig) -> DataFrame:
    """account_id -> its coordination cluster, the cluster's size and up to `max_cluster_members` other
    members (lowest ids first; bounded work even for a cluster of millions)."""
    require(clusters, ["account_id", "cluster_id"], "clusters")
    mine = (clusters.join(queued.select("account_id"), "account_id", "left_semi")
            .groupBy("account_id").agg(F.min("cluster_id").alias("cluster_id")))
    wanted = mine.select("cluster_id").distinct()
    in_wanted = clusters.join(wanted, "cluster_id", "left_semi").select("cluster_id", "account_id").distinct()
    sizes = in_wanted.groupBy("cluster_id").agg(F.count("*").alias("cluster_size"))
    heads = (in_wanted
             .withColumn("rn", F.row_number().over(Window.partitionBy("cluster_id").orderBy("account_id")))
             .filter(F.col("rn") <= qcfg.max_cluster_members + 1)
             .groupBy("cluster_id")
             .agg(F.array_sort(F.collect_list(F.struct("rn", "account_id"))).alias("_heads")))
    others = F.filter(F.transform("_heads", lambda h: h["account_id"]), lambda m: m != F.col("account_id"))
    return (mine.join(sizes, "cluster_id", "left").join(heads, "cluster_id", "left")
            .withColumn("cluster_members", F.slice(others, 1, qcfg.max_cluster_members)
                        if qcfg.max_cluster_members > 0 else strings([]))
            .withColumn("cluster_members_truncated", F.col("cluster_size") - 1 > F.lit(qcfg.max_cluster_members))
            .select("account_id", "cluster_id", "cluster_size", "cluster_members", "cluster_members_truncated"))


def review_queue(decisions: DataFrame, posts: DataFrame, clusters: DataFrame, reach: DataFrame,
                 cfg: Config | EnforcementConfig, *, auto_threshold: float, job_run_id: str,
                 enqueued_at: datetime) -> DataFrame:
    """REVIEW_QUEUE rows for every decision with outcome `review` (including held and protected ones).

    queue_rank is 1 for the first item a moderator should open (priority desc, score desc, account_id)
    among the model's flags; exploration picks (route `exploration`) are interleaved so that about
    `exploration_share` of any queue prefix is exploration (interleave_rank). It is computed over the whole
    queue in one partition, which is fine for human-sized queues.
    Accounts without posts, cluster or reach get an empty sample, a null cluster and a null reach.
    """
    qcfg = enforcement_config(cfg).queue
    require(decisions, POLICY_DECISIONS.fieldNames(), "decisions")
    require(reach, ["account_id", "reach"], "reach")
    queued = decisions.filter(F.col("outcome") == OUTCOME_REVIEW)
    reach_one = reach.groupBy("account_id").agg(F.max("reach").alias("reach"))
    df = (queued.join(reach_one, "account_id", "left")
          .transform(queue_priority, qcfg, auto_threshold)
          .join(sample_posts(queued, posts, qcfg), "account_id", "left")
          .join(cluster_evidence(queued, clusters, qcfg), "account_id", "left")
          .withColumn("sample_posts", F.coalesce("sample_posts", F.array().cast(
              REVIEW_QUEUE["sample_posts"].dataType)))
          .withColumn("cluster_members", F.coalesce("cluster_members", strings([])))
          .withColumn("cluster_members_truncated", F.coalesce("cluster_members_truncated", F.lit(False)))
          .withColumn("reason_codes", reason_codes())
          .withColumn("queue_id", stable_id("queue", F.col("scoring_run_id"), F.col("account_id")))
          .transform(interleave_rank, qcfg.exploration_share)
          .withColumn("enqueued_run_id", F.lit(job_run_id))
          .withColumn("enqueued_at", F.lit(enqueued_at).cast("timestamp")))
    return conform(df, REVIEW_QUEUE)
