"""The chance model of co-action: how often two accounts would act on a post within a window by chance.

Two accounts that both engaged a post co-act within `w` by chance as often as their usual delays after
that author's posts (their lag profiles) put them within `w` of each other. Fans answer their celebrity's
notification within minutes every time, so their profiles on that author are both "a few minutes" and
the chance of co-acting is near 1: observed = expected. A ring's members act at whatever delay the
campaign's go signal falls, so their profiles are wide and the chance is small, but they act together.
The profiles condition on common engagement: what is tested is timing, never the choice of targets,
so the popularity of a post and the activity of an account are held fixed (docs/network.md).

Lags are binned (`edges`, seconds); a delay is taken as uniform inside its bin, so the probability that
two delays from bins i and j fall within `w` is a fixed kernel K_w[i][j] computed once here.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from genuine.lib.ordered import ordered_sum

_GRID = 400  # midpoints per bin when integrating the kernel (exact in the other variable)


def window_kernel(edges: Sequence[float], window_s: float) -> list[list[float]]:
    """K[i][j] = P(|X - Y| <= window) for X uniform on bin i and Y uniform on bin j of `edges`."""
    e = np.asarray(edges, dtype=float)
    lo, hi = e[:-1], e[1:]
    k = np.zeros((lo.size, lo.size))
    for i in range(lo.size):
        x = lo[i] + (np.arange(_GRID) + 0.5) / _GRID * (hi[i] - lo[i])
        for j in range(lo.size):
            covered = np.clip(np.minimum(x + window_s, hi[j]) - np.maximum(x - window_s, lo[j]), 0.0, None)
            k[i, j] = float(np.mean(covered) / (hi[j] - lo[j]))
    return k.tolist()


def lag_bin(lag_s: Column, edges: Sequence[float]) -> Column:
    """Index of the bin of `edges` holding each lag (lags past the last edge go to the last bin)."""
    idx = F.lit(0)
    for i, edge in enumerate(edges[1:-1], start=1):
        idx = F.when(lag_s >= F.lit(float(edge)), F.lit(i)).otherwise(idx)
    return idx


def chance(a: Sequence[Column], b: Sequence[Column], kernel: list[list[float]]) -> Column:
    """a' K b for profiles held one bin a column: plain arithmetic that Spark compiles (arrays with
    higher-order functions were interpreted row by row and took half of pair_evidence's time); the kernel's
    zeros, bins further apart than the window, are left out."""
    return reduce(operator.add, [a[i] * reduce(operator.add, [F.lit(kij) * b[j] for j, kij in enumerate(row) if kij])
                                 for i, row in enumerate(kernel) if any(row)], F.lit(0.0))


# --- DataFrame transforms ------------------------------------------------------------------------

def engagements(events: DataFrame) -> DataFrame:
    """One row per (actor, post) from action rows (actor_id, target_post_id, author_id, t_us): first action
    time, the post's author, its number of engagers and the lag after the post's first engagement.

    The first engagement stands for the post's publication (the posts table is not needed, and a post
    nobody engaged has no co-action to explain). A post without a known author is its own author.
    """
    per = events.groupBy("actor_id", "target_post_id").agg(F.min("t_us").alias("t_us"),
                                                          F.max("author_id").alias("author_id"))
    post = per.groupBy("target_post_id").agg(F.min("t_us").alias("t0_us"), F.max("author_id").alias("post_author"),
                                             F.count("*").alias("n_engagers"))
    return (per.drop("author_id").join(post, "target_post_id")
            .select("actor_id", "target_post_id",
                    F.coalesce("post_author", F.concat(F.lit("post:"), "target_post_id")).alias("author_id"),
                    "t_us", "n_engagers", ((F.col("t_us") - F.col("t0_us")) / F.lit(1e6)).alias("lag_s")))


def lag_profiles(eng: DataFrame, edges: Sequence[float], prior_weight: float) -> DataFrame:
    """(actor_id, author_id, p0..p{B-1}): each account's lag histogram on each author's posts, one bin a column,
    shrunk towards its overall histogram with `prior_weight` m pseudo-engagements, (c_i + m o_i) / (n + m):
    a profile built from one or two posts is not just those posts (which would explain them away)."""
    b = len(edges) - 1
    binned = eng.select("actor_id", "author_id", lag_bin(F.col("lag_s"), edges).alias("bin"))
    sums = [F.sum((F.col("bin") == i).cast("double")).alias(f"c{i}") for i in range(b)]
    per_author = binned.groupBy("actor_id", "author_id").agg(F.count("*").alias("n"), *sums)
    overall = (per_author.groupBy("actor_id").agg(F.sum("n").alias("n_all"),
                                                 *[F.sum(f"c{i}").alias(f"o{i}") for i in range(b)]))
    m = F.lit(float(prior_weight))
    return per_author.join(overall, "actor_id").select(
        "actor_id", "author_id",
        *[((F.col(f"c{i}") + m * (F.col(f"o{i}") / F.col("n_all"))) / (F.col("n") + m)).alias(f"p{i}")
          for i in range(b)])


def pair_evidence(pairs: DataFrame, eng: DataFrame, edges: Sequence[float], windows: Sequence[int], *,
                  prior_weight: float, lift_prior: float, min_support: int) -> DataFrame:
    """Observed vs expected co-actions per pair and window: (a, b, window_s, observed, expected, lift).

    `pairs`: (window_s, target_post_id, a, b) with a < b, the distinct posts a pair co-acted on within each
    window. Only pairs with >= min_support co-actions in some window are scored: expected =
    sum over the authors both engaged of (common posts of that author) x P(their lags on that author
    fall within the window), lift = (observed + prior) / (expected + prior).
    Cost: one row per supported pair and post engaged by its first account (docs/network.md).
    """
    observed = pairs.groupBy("a", "b", "window_s").agg(F.countDistinct("target_post_id").alias("observed"))
    sup = observed.where(F.col("observed") >= min_support).select("a", "b").distinct()
    ea = eng.select(F.col("actor_id").alias("a"), "target_post_id", "author_id")
    eb = eng.select(F.col("actor_id").alias("b"), "target_post_id")
    common = (sup.join(ea, "a").join(eb, ["b", "target_post_id"], "left_semi")
              .groupBy("a", "b", "author_id").agg(F.count("*").alias("n_common")))
    prof = lag_profiles(eng, edges, prior_weight)
    nb = len(edges) - 1
    pa = prof.select(F.col("actor_id").alias("a"), "author_id", *[F.col(f"p{i}").alias(f"ha{i}") for i in range(nb)])
    pb = prof.select(F.col("actor_id").alias("b"), "author_id", *[F.col(f"p{i}").alias(f"hb{i}") for i in range(nb)])
    both = common.join(pa, ["a", "author_id"]).join(pb, ["b", "author_id"])
    ha, hb = [F.col(f"ha{i}") for i in range(nb)], [F.col(f"hb{i}") for i in range(nb)]
    per_w = [ordered_sum(F.col("n_common") * chance(ha, hb, window_kernel(edges, w))).alias(f"e{w}") for w in windows]
    exp = both.groupBy("a", "b").agg(*per_w)
    long = exp.select("a", "b", F.explode(F.array(*[F.struct(F.lit(w).alias("window_s"), F.col(f"e{w}").alias("expected"))
                                                   for w in windows])).alias("x")).select("a", "b", "x.*")
    prior = F.lit(float(lift_prior))
    return (long.join(observed, ["a", "b", "window_s"], "left")
            .select("a", "b", "window_s", F.coalesce("observed", F.lit(0)).cast("long").alias("observed"),
                    "expected")
            .withColumn("lift", (F.col("observed") + prior) / (F.col("expected") + prior)))
