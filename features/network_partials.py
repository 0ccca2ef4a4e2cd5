"""Incremental network features: co-action pairs found once, on the UTC day they happen, and stored.

The costly part of the network family is pairing the accounts that act on the same post within a window
(`coordination_pairs`: the capped cells of every post and window bucket joined with themselves and their
next bucket), once for the coordination window and once per co-action window, over the whole history at
every snapshot. Those pairs are a union over days, so here each UTC day's pairs are computed once and kept:

- `network_pairs`, partitioned by the UTC day: (window_s, target_post_id, a, b), a < b, the pairs that
  co-acted on the post within `window_s` seconds, for every window the family reads (`pair_windows`);
- `network_days`, the manifest: per UTC day, its actions of the coordination kinds when its pairs were
  computed, and the hash of the settings the pairs depend on.

Why the union equals the full path. Buckets are window-sized from the epoch, and every window must divide a
day (`check_windows`), so each (post, bucket) cell lies inside one UTC day: its actors, the K kept by the
hash cap, and their first and last times depend on that day's events only. A pair comes from one cell
(same bucket) or from two adjacent cells; it is stored under the day of its later bucket. So day d's pairs
need day d's events and, for the pairs across midnight, the events of the last bucket of day d - 1 (its
last `window_s` seconds). A day is recomputed when it is new, when its count of actions moved (late events)
or the settings changed, and so is the day after it, whose first bucket pairs with it.

What stays a computation per snapshot: everything after the pairs. Coordination edges count distinct posts
per pair over the stored rows, and the co-action evidence, the graph algorithms (components, PageRank,
triangles), the follow, device and prefix graphs and the neighbourhoods run on the snapshot's accumulated
pairs and events, as the full path does (`network_features(..., pairs=...)`). tests/features/
test_network_partials.py checks that the result equals the full path exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, IntegerType, LongType, StringType, StructField, StructType

from genuine.core.catalog import MICROS_PER_DAY
from genuine.core.errors import ConfigError
from genuine.features.behaviour_partials import snapshot_day
from genuine.features.network import (
    SECONDS_PER_DAY,
    NetworkConfig,
    coaction_window,
    coordination_actions,
    coordination_pairs,
    pair_day,
)
from genuine.lib.days import window_partitions

MICROS_PER_S = 1_000_000

# The `network_pairs` table (genuine.core.catalog names this module as the schema's owner).
PAIRS_SCHEMA = StructType([
    StructField("window_s", IntegerType(), True),
    StructField("target_post_id", StringType(), True),
    StructField("a", StringType(), True),                    # a < b
    StructField("b", StringType(), True),
    StructField("event_date", DateType(), True),             # the UTC day of the pair's later bucket
])

# The `network_days` manifest: one row per UTC day `network_pairs` holds.
DAYS_SCHEMA = StructType([
    StructField("event_date", DateType(), True),
    StructField("actions", LongType(), True),               # the day's actions of the coordination kinds
    StructField("config_hash", StringType(), True),         # settings_hash of the NetworkConfig used
    StructField("files", StringType(), True),               # fingerprint of the raw part files counted (state.day_files)
])


def pair_windows(cfg: NetworkConfig) -> list[int]:
    """Every window the family pairs in: the coordination window and the co-action windows."""
    return sorted({cfg.coordination.window_seconds, *cfg.coaction.windows_seconds})


def window_problem(cfg: NetworkConfig) -> str | None:
    """Per-day pairs need every window bucket inside one UTC day: each window must divide a day."""
    bad = [w for w in pair_windows(cfg) if SECONDS_PER_DAY % w]
    return (f"features.incremental needs every network window to divide a day ({SECONDS_PER_DAY} s); these do "
            f"not: {bad} (features.network.coordination.window_seconds, coaction.windows_seconds)") if bad else None


def check_windows(cfg: NetworkConfig) -> None:
    problem = window_problem(cfg)
    if problem:
        raise ConfigError(problem)


def settings_hash(cfg: NetworkConfig) -> str:
    """Stable hash of what the stored pairs depend on: the kinds, the cap and the windows. Thresholds the
    snapshot applies (min_co_actions, the chance model, neighbourhoods, algorithms) rewrite nothing."""
    blob = {"kinds": sorted(cfg.coordination.kinds), "cap": cfg.coordination.max_actors_per_bucket,
            "windows": pair_windows(cfg)}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def day_action_counts(interactions: DataFrame, cfg: NetworkConfig) -> DataFrame:
    """(event_date, actions): the actions per UTC day that `day_pairs` pairs."""
    day = F.col("event_date")
    return (coordination_actions(interactions, cfg.coordination.kinds).where(day.isNotNull()).groupBy(day)
            .agg(F.count(F.lit(1)).alias("actions")))


def days_to_compute(stale: Iterable[date], known: Iterable[date]) -> list[date]:
    """The stale days and, for each, the next day with actions: its first bucket pairs with the stale
    day's last one."""
    later = set(known)
    return sorted({d for s in stale for d in (s, s + timedelta(days=1)) if d == s or d in later})


def day_pairs(interactions: DataFrame, days: list[date], cfg: NetworkConfig) -> DataFrame:
    """PAIRS_SCHEMA rows of `days`: for each window, the pairs of those days' events and of the last
    window of each day before them, kept where the pair's later bucket falls on one of `days`."""
    if not days:
        raise ValueError("day_pairs: no day to compute")
    check_windows(cfg)
    day = F.col("event_date")
    # a day before a wanted day that is not wanted itself contributes its last bucket only (pairs across
    # midnight); a wanted one is read whole anyway
    after_gap = [d for d in days if d - timedelta(days=1) not in days]
    parts = []
    for w in pair_windows(cfg):
        w_us = w * MICROS_PER_S
        edge = reduce(lambda acc, c: acc | c, [
            (day == F.lit(d - timedelta(days=1)))
            & (F.unix_micros("created_at") >= F.lit(_day_start_us(d) - w_us)) for d in after_gap])
        ev = interactions.where(day.isin(days) | edge)
        pairs = coordination_pairs(ev, cfg.coordination.model_copy(update={"window_seconds": w}))
        later_day = F.date_from_unix_date(pair_day(w).cast("int"))
        parts.append(pairs.where("within_window")
                     .select(F.lit(w).alias("window_s"), "target_post_id", "a", "b", later_day.alias("event_date")))
    out = reduce(DataFrame.unionAll, parts).where(day.isin(days))
    return out.distinct().select(*[F.col(f.name).cast(f.dataType) for f in PAIRS_SCHEMA.fields])


def _day_start_us(d: date) -> int:
    return (d - date(1970, 1, 1)).days * MICROS_PER_DAY


def stored_pairs(pairs: DataFrame, as_of: datetime, cfg: NetworkConfig) -> DataFrame:
    """The stored rows of the days up to the snapshot's (as_of ends a UTC day), of its co-action window
    when it has one: what `network_features(..., pairs=...)` reads (it takes each window's distinct pairs)."""
    window = coaction_window(as_of, cfg)
    days = (window_partitions(*window) if window is not None
            else F.col("event_date") <= F.lit(snapshot_day(as_of)))
    return pairs.where(days).select("window_s", "target_post_id", "a", "b")
