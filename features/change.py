"""Change-over-time features: before/after contrasts within an account's own history.

A hijacked account keeps its genuine past; what betrays the takeover is a point in its history after
which it runs on a device AND a network prefix it never used before, from another client, at other
hours, all at once. A dormant sleeper betrays itself by a burst after weeks of near-silence. Each of
those changes alone is ordinary: a new phone (new device, same prefix and client mix), a traveller (new
prefix), a shift worker (new hours). So the single-change features here are weak on purpose and
`takeover_contrast` asks for the conjunction.

Everything is combined from per-day partials (`daily_partials`): one row per account, UTC day and
(device, prefix, client, hour bin) with a session count, and one row per account and UTC day with an
event count, restricted to the last `window_days` days of the snapshot. "Never used before day d" means
first seen in that window on day d or later, and the share of the sessions from day d on that are new is
a suffix sum over days of the sessions of keys first seen on each day, so every split day is scored in
one pass over the account's days (no per-split rescans).
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import Field, field_validator, model_validator
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from genuine.core.catalog import MICROS_PER_DAY
from genuine.core.config import Strict
from genuine.features.registry import Family, Feature, ratio
from genuine.lib.days import day_window, in_partitions

log = logging.getLogger(__name__)

FAMILY: Family = "change"
HOUR_US = 3_600 * 1_000_000
OTHER_CLIENT = "_other"


class ChangeConfig(Strict):
    """`features.change` in conf/base.yml."""

    window_days: int = Field(28, ge=2, description="UTC days of history, ending on the snapshot day, compared")
    min_side_sessions: int = Field(5, ge=1, description="a split day needs this many sessions before and after")
    rhythm_bin_hours: int = Field(3, ge=1, le=24, description="hour-of-day histogram bin width (divides 24)")
    clients: list[str] = Field(default_factory=lambda: ["ios", "android", "web", "mini_program", "open_api",
                                                         "scheduler"],
                               description="session clients of the client mix; others share one bucket")
    burst_days: int = Field(3, ge=1, description="the last days of the window compared with the days before")
    min_baseline_days: int = Field(7, ge=1, description="days before the burst window the account must exist")
    burst_smoothing: float = Field(1.0, gt=0.0, description="events/day added to the baseline median")
    recent_days: int = Field(3, ge=1, description="window of new_prefix_share_recent")
    min_recent_sessions: int = Field(3, ge=1, description="new_prefix_share_recent: NULL below this many "
                                     "recent sessions with an ip (or min_side_sessions before)")

    @field_validator("rhythm_bin_hours")
    @classmethod
    def _divides(cls, v: int) -> int:
        if 24 % v:
            raise ValueError("rhythm_bin_hours must divide 24")
        return v

    @model_validator(mode="after")
    def _windows(self) -> ChangeConfig:
        if self.burst_days + self.min_baseline_days > self.window_days:
            raise ValueError("burst_days + min_baseline_days must fit in window_days")
        if self.recent_days >= self.window_days:
            raise ValueError("recent_days must be shorter than window_days")
        return self


SPLIT = "a split day needs min_side_sessions sessions on each side, else NULL"
FEATURES: list[Feature] = [
    ratio("device_switch_share", FAMILY, "largest share, over split days d, of the sessions from d on that "
          f"use a device never used before d ({SPLIT}); a new phone alone raises it"),
    ratio("prefix_switch_share", FAMILY, "largest share, over split days d, of the sessions from d on that "
          f"come from a network prefix (/24, /48) never used before d ({SPLIT}); travellers raise it"),
    ratio("takeover_novelty_share", FAMILY, "largest share, over split days d, of the sessions from d on on a "
          f"device AND a network prefix both never used before d ({SPLIT}); the best split is its argmax"),
    ratio("client_shift", FAMILY, "total-variation distance between the session client mix before and "
          "after the best split (0 same mix, 1 disjoint)"),
    ratio("rhythm_shift", FAMILY, "total-variation distance between the UTC hour-of-day histograms "
          "(rhythm_bin_hours bins) before and after the best split; shift workers raise it"),
    ratio("takeover_contrast", FAMILY, "largest, over split days d, of min(share of sessions from d on on a "
          "new device and new prefix, client-mix distance at d): a takeover changes both at once, a new "
          "phone, a trip or a new shift changes one"),
    Feature("dormancy_burst_ratio", FAMILY, "ratio", "events per day in the last burst_days days over "
            "(median events per day before them, zero days included, + burst_smoothing); NULL when the "
            "account existed fewer than min_baseline_days days before the burst window"),
    Feature("longest_silence_days", FAMILY, "days", "longest run of days without events in the window "
            "before the burst window (same NULL rule as dormancy_burst_ratio)"),
    ratio("new_prefix_share_recent", FAMILY, "share of the sessions of the last recent_days days (with an ip) "
          "from network prefixes the account never used earlier in the window; NULL below "
          "min_recent_sessions of them or min_side_sessions sessions before"),
]


def _day(ts_col: str) -> Column:
    return F.floor(F.unix_micros(ts_col) / F.lit(MICROS_PER_DAY)).cast("long")


def _client_bucket(cfg: ChangeConfig) -> Column:
    c = F.col("client")
    return F.when(c.isin(cfg.clients), c).otherwise(F.lit(OTHER_CLIENT))


def _clients(cfg: ChangeConfig) -> list[str]:
    return [*cfg.clients, OTHER_CLIENT]


def _bins(cfg: ChangeConfig) -> int:
    return 24 // cfg.rhythm_bin_hours


def window_days(as_of: datetime, cfg: ChangeConfig) -> tuple[int, int]:
    """The first and last UTC day numbers of the family's window ending on as_of's day."""
    return day_window(as_of, cfg.window_days)


# (who, when) of each input: a record counts in the partials when it has both (change_partials counts the
# same records per day to find stale days).
SESSION_OWNER, POST_OWNER, INTERACTION_OWNER = ("account_id", "started_at"), ("account_id", "created_at"), \
    ("actor_id", "created_at")


def dated(who: str, when: str) -> Column:
    """The records the partials count: with an account and a time."""
    return F.col(who).isNotNull() & F.col(when).isNotNull()


def day_partials(posts: DataFrame, interactions: DataFrame, sessions: DataFrame,
                 cfg: ChangeConfig) -> tuple[DataFrame, DataFrame]:
    """Per-day partials of every day the inputs hold; each row depends only on its own day's records.

    -> (sessions: account_id, day, device_hash, ip_prefix_hash, client, hour_bin, n;
        events:   account_id, day, n)
    `day` is the UTC day number (days since 1970-01-01), the `event_date` the raw tables are partitioned by.
    """
    s = (sessions.where(dated(*SESSION_OWNER))
         .groupBy("account_id", _day("started_at").alias("day"), "device_hash", "ip_prefix_hash",
                  _client_bucket(cfg).alias("client"),
                  F.floor(F.pmod(F.unix_micros("started_at"), F.lit(MICROS_PER_DAY))
                          / F.lit(HOUR_US * cfg.rhythm_bin_hours)).cast("int").alias("hour_bin"))
         .agg(F.count(F.lit(1)).alias("n")))
    ev = (posts.where(dated(*POST_OWNER)).select("account_id", "created_at")
          .unionByName(interactions.where(dated(*INTERACTION_OWNER))
                       .select(F.col("actor_id").alias("account_id"), "created_at"))
          .groupBy("account_id", _day("created_at").alias("day")).agg(F.count(F.lit(1)).alias("n")))
    return s, ev


def daily_partials(posts: DataFrame, interactions: DataFrame, sessions: DataFrame, as_of: datetime,
                   cfg: ChangeConfig) -> tuple[DataFrame, DataFrame]:
    """`day_partials` of the window ending on the day of `as_of` (inputs already cut at `as_of`).

    Raw tables carry their `event_date` partition (the UTC day of the same timestamp), so the window is
    also put on it: the scans then read the window's partitions, not the whole history.
    """
    first, last = window_days(as_of, cfg)
    frames = [in_partitions(df, first, last) for df in (posts, interactions, sessions)]
    s, ev = day_partials(*frames, cfg)
    in_window = F.col("day").between(first, last)
    return s.where(in_window), ev.where(in_window)


def change_features(accounts: DataFrame, posts: DataFrame, interactions: DataFrame, sessions: DataFrame,
                    as_of: datetime, cfg: ChangeConfig) -> DataFrame:
    """One row per account of `accounts` with FEATURES' columns; inputs must already be cut at `as_of`."""
    s, ev = daily_partials(posts, interactions, sessions, as_of, cfg)
    return combine_change(accounts, s, ev, as_of, cfg)


def combine_change(accounts: DataFrame, s: DataFrame, ev: DataFrame, as_of: datetime, cfg: ChangeConfig) -> DataFrame:
    """The family from the window's per-day partials (`daily_partials`' two frames), shared by the full and
    the incremental path (features/change_partials.py)."""
    _, last = window_days(as_of, cfg)
    acc = accounts.select("account_id", F.floor(F.unix_micros("created_at") / F.lit(MICROS_PER_DAY)).cast("long")
                          .alias("created_day")).distinct()
    out = (acc.join(_split_features(s, cfg), "account_id", "left")
           .join(_burst_features(acc, ev, last, cfg), "account_id", "left")
           .join(_recent_prefix(s, last, cfg), "account_id", "left"))
    return out.select("account_id", *[F.col(f.name).cast(f.dtype) for f in FEATURES])


# --- split-day contrasts ------------------------------------------------------------------------------

def _first_seen(s: DataFrame, key: str) -> DataFrame:
    """account_id, key, first day the account used it in the window."""
    return (s.where(F.col(key).isNotNull()).groupBy("account_id", key)
            .agg(F.min("day").alias(f"first_{key}")))


def _new_by_day(s: DataFrame, firsts: list[str], name: str) -> DataFrame:
    """account_id, day, sessions whose keys were all first seen that day or later, keyed by that day.

    A session counts towards split d when every one of its keys was first seen on a day >= d, i.e. when
    the earliest of those first days is >= d; keyed by that day, a suffix sum over days gives the count.
    Sessions without a key (no ip) are never new.
    """
    known = F.lit(True)
    for f in firsts:
        known = known & F.col(f).isNotNull()
    key_day = F.least(*[F.col(f) for f in firsts]) if len(firsts) > 1 else F.col(firsts[0])
    return s.where(known).groupBy("account_id", key_day.alias("day")).agg(F.sum("n").alias(name))


def _tv(a: list[Column], a_total: Column, b: list[Column], b_total: Column) -> Column:
    """Total-variation distance between two count vectors."""
    diffs = [F.abs(x / a_total - y / b_total) for x, y in zip(a, b, strict=True)]
    return F.lit(0.5) * sum(diffs, F.lit(0.0))


def _split_features(s: DataFrame, cfg: ChangeConfig) -> DataFrame:
    firsts = s.join(_first_seen(s, "device_hash"), ["account_id", "device_hash"], "left") \
              .join(_first_seen(s, "ip_prefix_hash"), ["account_id", "ip_prefix_hash"], "left")
    clients, bins = _clients(cfg), _bins(cfg)
    per_day = s.groupBy("account_id", "day").agg(
        F.sum("n").alias("n"),
        *[F.sum(F.when(F.col("client") == c, F.col("n")).otherwise(0)).alias(f"c{i}") for i, c in enumerate(clients)],
        *[F.sum(F.when(F.col("hour_bin") == b, F.col("n")).otherwise(0)).alias(f"h{b}") for b in range(bins)])
    for name, keys in (("new_dev", ["first_device_hash"]), ("new_pre", ["first_ip_prefix_hash"]),
                       ("new_both", ["first_device_hash", "first_ip_prefix_hash"])):
        per_day = per_day.join(_new_by_day(firsts, keys, name), ["account_id", "day"], "full")
    per_day = per_day.na.fill(0)

    w = Window.partitionBy("account_id").orderBy("day")
    after_w = w.rowsBetween(Window.currentRow, Window.unboundedFollowing)
    before_w = w.rowsBetween(Window.unboundedPreceding, -1)
    vec = ["n", "new_dev", "new_pre", "new_both", *[f"c{i}" for i in range(len(clients))],
           *[f"h{b}" for b in range(bins)]]
    cum = per_day.select("account_id", "day",
                         *[F.sum(c).over(after_w).alias(f"a_{c}") for c in vec],
                         *[F.coalesce(F.sum(c).over(before_w), F.lit(0)).alias(f"b_{c}") for c in vec])
    k = cfg.min_side_sessions
    a_n, b_n = F.col("a_n").cast("double"), F.col("b_n").cast("double")
    splits = cum.where((F.col("a_n") >= k) & (F.col("b_n") >= k)).select(
        "account_id", "day",
        (F.col("a_new_dev") / a_n).alias("dev"), (F.col("a_new_pre") / a_n).alias("pre"),
        (F.col("a_new_both") / a_n).alias("both"),
        _tv([F.col(f"b_c{i}") for i in range(len(clients))], b_n,
            [F.col(f"a_c{i}") for i in range(len(clients))], a_n).alias("client_tv"),
        _tv([F.col(f"b_h{b}") for b in range(bins)], b_n, [F.col(f"a_h{b}") for b in range(bins)], a_n)
        .alias("rhythm_tv"))
    # best split: the most novel device+prefix share, the earliest day on ties
    best = F.struct(F.col("both"), (-F.col("day")).alias("neg_day"))
    return splits.groupBy("account_id").agg(
        F.max("dev").alias("device_switch_share"),
        F.max("pre").alias("prefix_switch_share"),
        F.max("both").alias("takeover_novelty_share"),
        F.max_by("client_tv", best).alias("client_shift"),
        F.max_by("rhythm_tv", best).alias("rhythm_shift"),
        F.max(F.least("both", "client_tv")).alias("takeover_contrast"))


# --- dormancy, then a burst ---------------------------------------------------------------------------

def _burst_features(acc: DataFrame, ev: DataFrame, last: int, cfg: ChangeConfig) -> DataFrame:
    """Baseline days: from the later of the window start and the account's creation day to the day before
    the burst window; a missing creation day counts as before the window."""
    window_start = last - cfg.window_days + 1
    burst_start = last - cfg.burst_days + 1
    start = F.greatest(F.coalesce(F.col("created_day"), F.lit(window_start)), F.lit(window_start))
    base_len = F.lit(burst_start) - start
    daily = ev.groupBy("account_id").agg(F.map_from_entries(F.collect_list(F.struct("day", "n"))).alias("m"))
    df = acc.join(daily, "account_id", "left").withColumn("start", start).withColumn("base_len", base_len)
    counts = F.transform(F.sequence(F.col("start"), F.lit(burst_start - 1)),
                         lambda d: F.coalesce(F.col("m")[d], F.lit(0)).cast("long"))
    recent = F.aggregate(F.sequence(F.lit(burst_start), F.lit(last)),
                         F.lit(0).cast("long"), lambda acc_, d: acc_ + F.coalesce(F.col("m")[d], F.lit(0)))
    ok = F.col("base_len") >= cfg.min_baseline_days
    df = df.withColumn("base", F.when(ok, F.array_sort(counts)))
    n = F.size("base")
    median = (F.element_at("base", F.floor((n - 1) / 2).cast("int") + 1)
              + F.element_at("base", F.floor(n / 2).cast("int") + 1)) / 2.0
    # longest run of zero days: split the 0/1 activity string on its active days
    zeros = F.concat_ws("", F.transform("base_ordered", lambda c: F.when(c > 0, "1").otherwise("0")))
    runs = F.transform(F.split(zeros, "1"), lambda r: F.length(r))
    df = df.withColumn("base_ordered", F.when(ok, counts))
    return df.select(
        "account_id",
        F.when(ok, (recent / F.lit(float(cfg.burst_days))) / (median + F.lit(cfg.burst_smoothing)))
        .alias("dormancy_burst_ratio"),
        F.when(ok, F.array_max(runs)).alias("longest_silence_days"))


# --- new network prefixes lately ---------------------------------------------------------------------

def _recent_prefix(s: DataFrame, last: int, cfg: ChangeConfig) -> DataFrame:
    recent_start = last - cfg.recent_days + 1
    firsts = s.join(_first_seen(s, "ip_prefix_hash"), ["account_id", "ip_prefix_hash"], "left")
    recent = F.col("day") >= recent_start
    with_ip = recent & F.col("ip_prefix_hash").isNotNull()
    agg = firsts.groupBy("account_id").agg(
        F.sum(F.when(~recent, F.col("n")).otherwise(0)).alias("n_before"),
        F.sum(F.when(with_ip, F.col("n")).otherwise(0)).alias("n_recent"),
        F.sum(F.when(with_ip & (F.col("first_ip_prefix_hash") >= recent_start), F.col("n")).otherwise(0))
        .alias("n_new"))
    ok = (F.col("n_recent") >= cfg.min_recent_sessions) & (F.col("n_before") >= cfg.min_side_sessions)
    return agg.select("account_id", F.when(ok, F.col("n_new") / F.col("n_recent").cast("double"))
                      .alias("new_prefix_share_recent"))
