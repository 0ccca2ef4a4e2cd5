"""Incremental behaviour features: per-account, per-UTC-day partials and their exact combination.

`behaviour_features` sorts every event of the history for every snapshot. Here each UTC day is reduced
once to one row per active account (`behaviour_day_partials`, from that day's events only) holding state
that does not depend on the account's UTC offset and adds up across days; a snapshot then combines the
partial rows (far fewer than events) with `behaviour_from_partials`, or, in the job, adds the partials of
the new days to the stored totals of an earlier snapshot day (`behaviour_totals`, so a daily snapshot does
not read the whole history again). The result equals the full path:

- counts and histograms add up exactly;
- gap statistics: a gap between two events of the same UTC day is in its day's partial; the one gap per
  day that crosses a day boundary (to the day's first event) is rebuilt at combine time from the day's
  first two timestamps and the last two timestamps of the account's earlier history (a window over its
  partial rows), which also decides whether that event starts a session and the two consecutive-gap
  pairs it takes part in;
- gap mean and standard deviation come from exact integer sums of the gaps in microseconds (sum, and sum
  of squares as DECIMAL(38,0)), so there is no cancellation; they differ from the full path's floating
  point running statistics by rounding only (the tests allow 1e-9 relative, 1e-12 absolute);
- local hour, weekday, night, weekend and distinct local days come from a 96-bin UTC quarter-hour
  histogram per day, exact for any UTC offset that is a whole multiple of 15 minutes (BehaviourConfig
  rejects others): an event in quarter q of UTC day d falls on local day d + floor((q + k) / 96) at local
  quarter (q + k) mod 96, k the offset in quarters;
- replies: the first comment of an actor on a post is a minimum over all history and the latency median
  is not decomposable, so an exact ledger keeps one row per (actor, post) first comment with its latency
  (`reply_ledger_rows`); a later day's comments on a post already in the ledger are not first comments.

A day's partial depends on the day's events and on BehaviourConfig, so the `behaviour_days` manifest keeps,
per day, the count of events and the hash of the settings it was computed from; `stale_days`
(features/state.py) finds the days whose events changed since (late events) or whose settings differ, and
the job rewrites from the first of them on (the reply ledger of a day depends on the days before it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
from datetime import UTC, date, datetime, timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from genuine.features.behaviour import (
    DAYS,
    HOURS,
    MIX_KINDS,
    US_PER_S,
    BehaviourConfig,
    _events,
    account_frame,
    assemble_behaviour,
    epoch_micros,
    gap_bin,
    mean_profile,
    regular_pair,
    reply_latency,
    reply_stats,
)
from genuine.lib.checkpoint import materialize

log = logging.getLogger(__name__)

MICROS_PER_DAY = 86_400 * US_PER_S
QUARTER_S = 900
QUARTERS = 96  # per day
EXACT = DecimalType(38, 0)  # sums of squared gaps in microseconds: exact up to ~1e38

_COUNTS = ["n_events", "n_posts", "n_auto", "n_zero_sec", *[f"n_kind_{k}" for k in MIX_KINDS]]

# The `behaviour_partials` table (genuine.core.catalog names this module as the schema's owner).
PARTIALS_SCHEMA = StructType(
    [StructField("account_id", StringType(), True)]
    + [StructField(c, LongType(), True) for c in _COUNTS]
    + [StructField("gap_sum_us", LongType(), True),          # gaps between events of this day only
       StructField("gap_sumsq_us", EXACT, True),
       StructField("gap_bins", ArrayType(LongType(), True), True),
       StructField("n_long_gaps", LongType(), True),          # gaps > session_gap_seconds: sessions started
       StructField("session_span_us", LongType(), True),      # sum of gaps <= session_gap_seconds
       StructField("n_pairs", LongType(), True),              # consecutive gap pairs inside the day
       StructField("n_regular", LongType(), True),
       StructField("first_us", LongType(), True),
       StructField("second_us", LongType(), True),            # NULL: one event that day
       StructField("prev_last_us", LongType(), True),         # second-to-last; NULL: one event that day
       StructField("last_us", LongType(), True),
       StructField("quarters", ArrayType(LongType(), True), True),  # UTC quarter-hour histogram, 96 bins
       StructField("event_date", DateType(), True)]
)

# The `behaviour_days` manifest: one row per UTC day the partials hold, with what they were computed from.
DAYS_SCHEMA = StructType([
    StructField("event_date", DateType(), True),
    StructField("events", LongType(), True),                 # the day's posts + interactions with an author
    StructField("config_hash", StringType(), True),          # settings_hash of the BehaviourConfig used
    StructField("files", StringType(), True),                # fingerprint of the raw part files counted (state.day_files)
])


def settings_hash(bcfg: BehaviourConfig) -> str:
    """Stable hash of the behaviour settings (all of them: a partial is never reused under other settings)."""
    blob = json.dumps(bcfg.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# The `behaviour_replies` ledger: one row per (account, post) first comment, partitioned by its UTC day.
REPLIES_SCHEMA = StructType([
    StructField("account_id", StringType(), True),
    StructField("post_id", StringType(), True),
    StructField("comment_us", LongType(), True),
    StructField("lat", DoubleType(), True),                   # NULL: the post is unknown or has no time
    StructField("event_date", DateType(), True),
])


def _n(cond: Column) -> Column:
    return F.sum(F.when(cond, 1).otherwise(0))


def _day_of(us: Column) -> Column:
    return F.date_from_unix_date(F.floor(us / MICROS_PER_DAY).cast("int"))


def behaviour_day_partials(posts: DataFrame, interactions: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """One PARTIALS_SCHEMA row per (account, UTC day) of the given events; a day's row depends on that day's
    events only, so partials of separate days can be computed separately and unioned."""
    ev = _events(posts, interactions, None).withColumn("event_date", _day_of(F.col("us")))
    w = Window.partitionBy("account_id", "event_date").orderBy("us")
    lag1, lag2 = F.lag("us", 1).over(w), F.lag("us", 2).over(w)
    gap_us = F.col("gap_us")
    gap = gap_us / US_PER_S  # the same double the full path computes
    prev_gap = (F.col("lag1") - F.col("lag2")) / US_PER_S
    kind = F.col("kind")
    quarter = F.expr(f"pmod(us div {US_PER_S}, 86400) div {QUARTER_S}")
    e = (ev.withColumn("lag1", lag1).withColumn("lag2", lag2)
         .withColumn("gap_us", F.col("us") - F.col("lag1"))
         .withColumn("rn", F.row_number().over(w))
         .withColumn("is_last", F.lead("us").over(w).isNull())
         .withColumn("q", quarter))
    sq = gap_us.cast(EXACT) * gap_us.cast(EXACT)
    out = e.groupBy("account_id", "event_date").agg(
        F.count(F.lit(1)).alias("n_events"),
        _n(kind == "post").alias("n_posts"),
        _n((kind == "post") & F.col("client").isin(cfg.automation_clients)).alias("n_auto"),
        _n(F.pmod(F.expr(f"us div {US_PER_S}"), F.lit(60)) == 0).alias("n_zero_sec"),
        *[_n(kind == k).alias(f"n_kind_{k}") for k in MIX_KINDS],
        F.coalesce(F.sum(gap_us), F.lit(0)).alias("gap_sum_us"),
        F.coalesce(F.sum(sq), F.lit(0).cast(EXACT)).cast(EXACT).alias("gap_sumsq_us"),
        F.array(*[_n(gap_bin(gap, cfg) == b) for b in range(cfg.gap_bins)]).alias("gap_bins"),
        _n(gap > cfg.session_gap_seconds).alias("n_long_gaps"),
        F.sum(F.when(gap <= cfg.session_gap_seconds, gap_us).otherwise(0)).alias("session_span_us"),
        F.count(prev_gap).alias("n_pairs"),
        _n(regular_pair(gap, prev_gap, cfg)).alias("n_regular"),
        F.min("us").alias("first_us"),
        F.max(F.when(F.col("rn") == 2, F.col("us"))).alias("second_us"),
        # exactly one row is last in window order; with ties its lag is still the second-to-last value
        F.max(F.when(F.col("is_last"), F.col("lag1"))).alias("prev_last_us"),
        F.max("us").alias("last_us"),
        F.array(*[_n(F.col("q") == q) for q in range(QUARTERS)]).alias("quarters"),
    )
    return out.select(*[F.col(f.name).cast(f.dataType) for f in PARTIALS_SCHEMA.fields])


def reply_ledger_rows(posts: DataFrame, interactions: DataFrame, earlier: DataFrame | None) -> DataFrame:
    """REPLIES_SCHEMA rows for the first comments among `interactions` (e.g. one day's) of pairs that are not
    in `earlier` (the ledger of the days before); `posts` is looked up for the post times (all of them)."""
    c = interactions.where((F.col("kind") == "comment") & F.col("target_post_id").isNotNull()
                           & F.col("actor_id").isNotNull() & F.col("created_at").isNotNull())
    first = c.groupBy(F.col("actor_id").alias("account_id"), F.col("target_post_id").alias("post_id")) \
        .agg(F.min(F.unix_micros("created_at")).alias("comment_us"))
    if earlier is not None:
        first = first.join(earlier.select("account_id", "post_id"), ["account_id", "post_id"], "left_anti")
    p = posts.where(F.col("created_at").isNotNull()).select("post_id", F.unix_micros("created_at").alias("post_us"))
    out = first.join(p, "post_id", "left").select(
        "account_id", "post_id", "comment_us", reply_latency().alias("lat"),
        _day_of(F.col("comment_us")).alias("event_date"))
    return out.select(*[F.col(f.name).cast(f.dataType) for f in REPLIES_SCHEMA.fields])


# The `behaviour_totals` table: per account, the sums a snapshot needs over every partial up to a UTC day
# (event_date), and the state the next day's partial continues from. One partition per snapshot day; a
# snapshot adds the partials after the latest earlier one instead of combining the whole history again.
TOTALS_SCHEMA = StructType(
    [StructField("account_id", StringType(), True),
     StructField("k", IntegerType(), True)]                   # UTC offset in quarters the sums used; NULL: no account row
    + [StructField(c, LongType(), True) for c in _COUNTS]
    + [StructField("n_gaps", LongType(), True),
       StructField("s1", LongType(), True),                   # sum of gaps, us
       StructField("s2", EXACT, True),                        # sum of squared gaps, us^2
       StructField("gap_bins", ArrayType(LongType(), True), True),
       StructField("n_sessions", LongType(), True),
       StructField("span_us", LongType(), True),
       StructField("n_pairs", LongType(), True),
       StructField("n_regular", LongType(), True),
       StructField("n_days", LongType(), True),
       StructField("q", ArrayType(LongType(), True), True),   # UTC quarter-hour histogram
       StructField("days", ArrayType(LongType(), True), True),  # local weekday histogram
       StructField("last_us", LongType(), True),              # the history's last timestamp
       StructField("prev_us", LongType(), True),              # ...and the one before it; NULL: one event
       StructField("last_hi", LongType(), True),              # local day (unix days) of the last event
       StructField("event_date", DateType(), True)]           # the UTC day the totals run through
)
_STATE = ("last_us", "prev_us", "last_hi")  # what the next day continues from, not sums
_SUMS = [f.name for f in TOTALS_SCHEMA.fields if f.name not in ("account_id", "k", *_STATE, "event_date")]


def snapshot_day(as_of: datetime) -> date:
    """The UTC day D of a snapshot as of the last microsecond of D; partials cannot cut inside a day."""
    as_of_us = epoch_micros(as_of)
    if (as_of_us + 1) % MICROS_PER_DAY:
        raise ValueError(f"incremental behaviour features need as_of at the end of a UTC day, got {as_of}")
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=as_of_us)).date()


def behaviour_from_partials(accounts: DataFrame, partials: DataFrame, replies: DataFrame, as_of: datetime,
                            cfg: BehaviourConfig) -> DataFrame:
    """BEHAVIOUR_SCHEMA rows equal to behaviour_features(accounts, posts, interactions, as_of, cfg), from the
    partials and reply ledger of the days up to as_of's (as_of: the end of a UTC day)."""
    return behaviour_from_totals(accounts, behaviour_totals(accounts, partials, as_of, cfg), replies, as_of, cfg)


def behaviour_from_totals(accounts: DataFrame, totals: DataFrame, replies: DataFrame, as_of: datetime,
                          cfg: BehaviourConfig) -> DataFrame:
    """As behaviour_from_partials, from `behaviour_totals` of as_of's day instead of the partials."""
    as_of_us = epoch_micros(as_of)
    acc = account_frame(accounts, cfg)
    stats = _finish(totals.where(F.col("event_date") == F.lit(snapshot_day(as_of)))
                    .join(acc.select("account_id"), "account_id"), cfg)
    lat = replies.where(F.col("comment_us") <= F.lit(as_of_us)).select("account_id", "lat")
    population = mean_profile(stats, cfg)
    return assemble_behaviour(acc, stats, reply_stats(lat, cfg), population, as_of_us, cfg)


def behaviour_totals(accounts: DataFrame, partials: DataFrame, as_of: datetime, cfg: BehaviourConfig,
                     base: DataFrame | None = None, base_day: date | None = None) -> DataFrame:
    """TOTALS_SCHEMA rows through as_of's day D, for every account with partials up to D.

    With `base` (the totals through an earlier day T, computed from the same partials), only the partials
    of days T+1..D are read and added, so the cost follows the new days, not the history. Exact: every sum
    is of integers, and the day after T continues from T's last timestamps and local day as the window of
    the full combination would. An account whose UTC offset (k) changed since T, or that had no account row
    then, is combined again from all its partials.
    """
    day = snapshot_day(as_of)
    acc = account_frame(accounts, cfg).select("account_id", (F.col("offset_s") / QUARTER_S).cast("int").alias("k"))
    d = F.col("event_date")
    upto = partials.where(d <= F.lit(day))
    if base is None:
        return _totals(upto.join(acc, "account_id", "left"), None, day, cfg)
    through = base_day if base_day is not None else base.agg(F.max("event_date")).first()[0]
    if through is None or through >= day:
        raise ValueError(f"behaviour totals: a base through {through} cannot start totals through {day}")
    b = base.where(d == F.lit(through)).drop("event_date")
    # accounts whose offset moved (or whose account row is new): their sums used another k
    redo = (b.select("account_id", F.col("k").alias("k_was")).join(acc, "account_id", "left")
            .where(~F.col("k_was").eqNullSafe(F.col("k"))).select("account_id"))
    redo = materialize(redo, local_checkpoints=True)
    kept = b.join(redo, "account_id", "left_anti")
    rows = upto.where(d > F.lit(through))
    n_redo = redo.count()
    if n_redo:
        log.info("behaviour totals: %d account(s) changed UTC offset or gained an account row since %s: "
                 "combined again from all their partials", n_redo, through)
        rows = rows.join(redo, "account_id", "left_anti").unionByName(upto.join(redo, "account_id", "left_semi"))
    return _totals(rows.join(acc, "account_id", "left"), kept, day, cfg)


def _totals(p: DataFrame, base: DataFrame | None, day: date, cfg: BehaviourConfig) -> DataFrame:
    """TOTALS_SCHEMA rows through `day`: `base` (TOTALS_SCHEMA without event_date, or None) plus the sums of
    the partial rows `p` (with column k) of the days after it."""
    c = F.col
    if base is None:
        p = p.select("*", *[F.lit(None).cast("long").alias(x) for x in ("b_last", "b_prev", "b_hi")])
    else:
        p = p.join(base.select("account_id", c("last_us").alias("b_last"), c("prev_us").alias("b_prev"),
                               c("last_hi").alias("b_hi")), "account_id", "left")
    out = _sums(_rows(p), cfg)
    if base is not None:
        # an account on one side keeps that side; on both, the sums add and the state is the new side's
        j = base.withColumn("_b", F.lit(True)).alias("b").join(out.withColumn("_n", F.lit(True)).alias("n"),
                                                               "account_id", "full")
        only_b, only_n = c("n._n").isNull(), c("b._b").isNull()

        def pick(x: str, both: Column) -> Column:
            return F.when(only_b, c(f"b.{x}")).when(only_n, c(f"n.{x}")).otherwise(both).alias(x)

        def add(x: str) -> Column:
            bx, nx = c(f"b.{x}"), c(f"n.{x}")
            return pick(x, F.zip_with(bx, nx, lambda u, v: u + v)
                        if isinstance(TOTALS_SCHEMA[x].dataType, ArrayType) else bx + nx)

        out = j.select("account_id", pick("k", c("n.k")), *[add(x) for x in _SUMS],
                       *[pick(x, c(f"n.{x}")) for x in _STATE])
    return out.withColumn("event_date", F.lit(day)).select(
        *[F.col(f.name).cast(f.dataType) for f in TOTALS_SCHEMA.fields])


def _rows(p: DataFrame) -> DataFrame:
    """The partial rows with what each continues from: the last two timestamps before its day (pl1, pl2)
    and the local day of the last event before it (prev_hi), from the rows before it or, for the first
    row of an account, from its totals so far (b_last, b_prev, b_hi; NULL without)."""
    c = F.col
    w = Window.partitionBy("account_id").orderBy("event_date")
    rn = F.row_number().over(w)
    pl1 = F.coalesce(F.lag("last_us").over(w), c("b_last"))
    pl2 = F.coalesce(F.lag("prev_last_us").over(w), F.lag("last_us", 2).over(w),
                     F.when(rn == 2, c("b_last")).otherwise(c("b_prev")))
    # local days: quarters before `cut` fall on UTC day + base, the others on the next local day
    base = F.when(c("k") > 0, 0).otherwise(-1)
    cut = F.pmod(-c("k"), F.lit(QUARTERS))
    n_before = F.aggregate(F.transform("quarters", lambda x, i: F.when(i < cut, x).otherwise(0)), F.lit(0).cast("long"),
                           lambda a, x: a + x)
    r = (p.withColumn("pl1", pl1).withColumn("pl2", pl2)
         .withColumn("g0_us", c("first_us") - c("pl1"))
         .withColumn("day_before", F.unix_date("event_date") + base)
         .withColumn("n_before", n_before))
    r = (r.withColumn("n_after", c("n_events") - c("n_before"))
         .withColumn("lo", F.when(c("n_before") > 0, c("day_before")).otherwise(c("day_before") + 1))
         .withColumn("hi", F.when(c("n_after") > 0, c("day_before") + 1).otherwise(c("day_before"))))
    prev_hi = F.coalesce(F.lag("hi").over(w), c("b_hi"))
    return r.withColumn("new_days", 1 + (c("hi") != c("lo")).cast("int")
                        - F.coalesce((c("lo") == prev_hi).cast("int"), F.lit(0)))


def _sums(r: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """Per account: the TOTALS_SCHEMA sums of rows from `_rows`, and the state the next day continues from
    (the last row's last two timestamps and local day)."""
    c = F.col
    g0 = c("g0_us") / US_PER_S                        # the gap into the day's first event
    pg0 = (c("pl1") - c("pl2")) / US_PER_S            # the gap before it
    g1 = (c("second_us") - c("first_us")) / US_PER_S  # the gap after it
    thr = cfg.session_gap_seconds

    def one(cond: Column) -> Column:
        return F.when(cond, 1).otherwise(0)

    def dow(d: Column) -> Column:
        return F.pmod(d + 3, F.lit(DAYS))  # 1970-01-01 = Thursday

    return r.groupBy("account_id", "k").agg(
        *[F.sum(x).alias(x) for x in _COUNTS],
        F.sum(c("n_events") - 1 + one(g0.isNotNull())).alias("n_gaps"),
        F.sum(c("gap_sum_us") + F.coalesce(c("g0_us"), F.lit(0))).alias("s1"),
        F.sum(c("gap_sumsq_us") + F.coalesce(c("g0_us").cast(EXACT) * c("g0_us").cast(EXACT), F.lit(0).cast(EXACT)))
        .cast(EXACT).alias("s2"),
        F.array(*[F.sum(c("gap_bins")[b] + one(gap_bin(g0, cfg) == b)) for b in range(cfg.gap_bins)]).alias("gap_bins"),
        F.sum(c("n_long_gaps") + one(g0.isNull() | (g0 > thr))).alias("n_sessions"),
        F.sum(c("session_span_us") + F.when(g0 <= thr, c("g0_us")).otherwise(0)).alias("span_us"),
        F.sum(c("n_pairs") + one(g0.isNotNull() & c("pl2").isNotNull())
              + one(g0.isNotNull() & c("second_us").isNotNull())).alias("n_pairs"),
        F.sum(c("n_regular") + one(regular_pair(g0, pg0, cfg)) + one(regular_pair(g1, g0, cfg))).alias("n_regular"),
        F.sum("new_days").alias("n_days"),
        F.array(*[F.sum(c("quarters")[q]) for q in range(QUARTERS)]).alias("q"),
        F.array(*[F.sum(F.when(dow(c("day_before")) == d, c("n_before")).otherwise(0)
                        + F.when(dow(c("day_before") + 1) == d, c("n_after")).otherwise(0))
                  for d in range(DAYS)]).alias("days"),
        F.max("last_us").alias("last_us"),
        F.max_by(F.coalesce(c("prev_last_us"), c("pl1")), c("event_date")).alias("prev_us"),
        F.max_by("hi", "event_date").alias("last_hi"),
    )


def _finish(totals: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """Per-account state with the columns behaviour._per_account produces, from TOTALS_SCHEMA sums."""
    c = F.col

    # local hour h holds local quarters 4h..4h+3, i.e. UTC quarters (4h + j - k) mod 96
    def utc_quarter(local_q: int) -> Column:
        return F.element_at("q", F.pmod(F.lit(local_q) - c("k"), F.lit(QUARTERS)) + 1)

    hours = F.array(*[reduce(operator.add, [utc_quarter(4 * h + j) for j in range(4)]) for h in range(HOURS)])
    n_gaps = c("n_gaps")
    var_n2 = (n_gaps.cast(EXACT) * c("s2") - c("s1").cast(EXACT) * c("s1").cast(EXACT)).cast("double")
    out = (totals.withColumn("hours", hours)
           .withColumn("gap_mean", F.when(n_gaps > 0, c("s1").cast("double") / n_gaps / US_PER_S))
           .withColumn("gap_std", F.when(n_gaps > 0, F.sqrt(var_n2) / n_gaps / US_PER_S))
           .withColumn("session_span_s", c("span_us").cast("double") / US_PER_S))
    night = [h for h in range(HOURS) if _is_night(h, cfg)]
    return (out.withColumn("n_night", reduce(operator.add, [c("hours")[h] for h in night], F.lit(0).cast("long")))
            .withColumn("n_weekend", reduce(operator.add, [c("days")[d] for d in cfg.weekend_days],
                                            F.lit(0).cast("long")))
            .drop("k", "q", "s1", "s2", "span_us", *_STATE, "event_date"))


def _is_night(hour: int, cfg: BehaviourConfig) -> bool:
    s, e = cfg.night_start_hour, cfg.night_end_hour
    return s <= hour < e if s < e else hour >= s or hour < e

