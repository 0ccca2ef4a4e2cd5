"""Behaviour features: how and when an account acts, from its posts and the interactions it makes.

Schedulers and LLM agents betray themselves in timing long before their text does: gaps that repeat to
the second, activity spread evenly over 24 hours or concentrated in the account's local night, replies
seconds after a post, timestamps on the minute. Everything here is computed in Spark with built-in
functions, one sort of the events per account and one aggregation, so cost stays linear in events.

Minimum-activity rules: statistics that need a distribution (gaps, hour profile, shares) are NULL below
the configured minimum number of gaps / events / posts / replies; counts are 0, never NULL.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import Field, field_validator, model_validator
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from genuine.core.config import Strict
from genuine.features.registry import Family, Feature, count, ratio
from genuine.lib.days import epoch_micros
from genuine.lib.ordered import exact_avg

log = logging.getLogger(__name__)

FAMILY: Family = "behaviour"
US_PER_S = 1_000_000
HOURS = 24
DAYS = 7
# Kinds whose share of all events is a feature; "post" stands for the account's own posts.
MIX_KINDS: tuple[str, ...] = ("post", "like", "collect", "comment", "share", "follow", "unfollow")


def _on_quarter_hour(hours: float) -> bool:
    """Every real zone is; the incremental path (behaviour_partials) keeps UTC quarter-hour histograms."""
    return abs(hours * 4 - round(hours * 4)) < 1e-9


class BehaviourConfig(Strict):
    """`features.behaviour` in conf/base.yml."""

    min_events: int = Field(5, ge=1, description="hour/day profiles and event shares are NULL below this")
    min_gaps: int = Field(4, ge=1, description="gap CV, entropy, burstiness, regular share are NULL below this")
    min_posts: int = Field(3, ge=1, description="automation-client share is NULL below this many posts")
    min_replies: int = Field(3, ge=1, description="reply latency statistics are NULL below this many replies")
    min_follows: int = Field(1, ge=1, description="follow churn is NULL below this many follows")
    gap_log_base: float = Field(2.0, gt=1.0, description="gap entropy bin = floor(log_base(1 + gap seconds))")
    gap_bins: int = Field(24, ge=2, le=64, description="number of gap bins; longer gaps share the last one")
    gap_tolerance_seconds: float = Field(1.0, ge=0.0)
    gap_tolerance_relative: float = Field(0.01, ge=0.0)
    session_gap_seconds: float = Field(1800.0, gt=0.0, description="inactivity that ends a session")
    fast_reply_seconds: float = Field(60.0, gt=0.0)
    night_start_hour: int = Field(0, ge=0, le=23, description="local night is [start, end), may wrap midnight")
    night_end_hour: int = Field(6, ge=0, le=23)
    weekend_days: list[int] = Field(default_factory=lambda: [5, 6], description="Monday=0 ... Sunday=6")
    automation_clients: list[str] = Field(default_factory=lambda: ["open_api", "scheduler"])
    default_utc_offset_hours: float = Field(8.0, ge=-12.0, le=14.0)
    region_utc_offset_hours: dict[str, float] = Field(default_factory=dict)

    @field_validator("weekend_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("weekend_days are 0 (Monday) to 6 (Sunday)")
        return sorted(set(v))

    @field_validator("region_utc_offset_hours")
    @classmethod
    def _offsets(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: o for k, o in v.items() if not -12.0 <= o <= 14.0}
        if bad:
            raise ValueError(f"UTC offsets must be within [-12, 14] hours: {bad}")
        off_grid = {k: o for k, o in v.items() if not _on_quarter_hour(o)}
        if off_grid:
            raise ValueError(f"UTC offsets must be whole multiples of 15 minutes (0.25 h): {off_grid}")
        return {k.upper(): o for k, o in v.items()}

    @field_validator("default_utc_offset_hours")
    @classmethod
    def _default_offset(cls, v: float) -> float:
        if not _on_quarter_hour(v):
            raise ValueError(f"default_utc_offset_hours must be a whole multiple of 15 minutes (0.25 h): {v}")
        return v

    @model_validator(mode="after")
    def _night(self) -> BehaviourConfig:
        if self.night_start_hour == self.night_end_hour:
            raise ValueError("night_start_hour and night_end_hour must differ")
        return self


FEATURES: list[Feature] = [
    count("events_total", FAMILY, "posts plus interactions made by the account up to the snapshot", direction=None),
    count("active_days", FAMILY, "distinct local calendar days with at least one event", unit="days", direction=None),
    count("sessions_total", FAMILY, "bursts of events separated by more than the session inactivity gap",
          unit="sessions", direction=None),
    count("replies_total", FAMILY, "distinct posts the account commented on (its first comment on each)",
          unit="posts", direction=None),
    Feature("account_age_days", FAMILY, "days", "age of the account at the snapshot (NULL if created later)",
            direction="lower"),
    Feature("gap_cv", FAMILY, "ratio", "coefficient of variation (std/mean) of the gaps between consecutive "
            "events; near 0 for fixed-interval schedulers", direction="lower"),
    Feature("gap_entropy_bits", FAMILY, "bits", "Shannon entropy of the gaps binned by floor(log_base(1+s)); "
            "low when the account always waits about as long", direction="lower"),
    ratio("gap_regular_share", FAMILY, "share of consecutive gap pairs that are near-identical "
          "(within the absolute or relative tolerance)"),
    Feature("burstiness", FAMILY, "index -1..1", "Goh-Barabasi burstiness (sigma-mu)/(sigma+mu) of the gaps; "
            "-1 periodic, 0 Poisson, towards 1 bursty like humans", direction="lower"),
    Feature("hour_entropy_bits", FAMILY, "bits", "entropy of the local hour-of-day profile (max log2 24 = 4.58); "
            "high when active around the clock", direction="higher"),
    Feature("hour_js_distance", FAMILY, "bits 0-1", "Jensen-Shannon divergence between the account's local "
            "hour profile and the mean profile of all accounts in the snapshot"),
    ratio("night_share", FAMILY, "share of events in the account's local night (region's UTC offset)"),
    ratio("weekend_share", FAMILY, "share of events on local weekend days", direction=None),
    Feature("weekday_entropy_bits", FAMILY, "bits", "entropy of the local day-of-week profile (max log2 7 = 2.81)",
            direction="higher"),
    Feature("session_mean_seconds", FAMILY, "seconds", "mean session length (first to last event)",
            direction=None),
    Feature("session_mean_actions", FAMILY, "events", "mean number of events per session"),
    Feature("reply_latency_median_s", FAMILY, "seconds", "median time from a post to the account's first "
            "comment on it", direction="lower"),
    ratio("reply_fast_share", FAMILY, "share of replies made within the fast-reply threshold"),
    Feature("actions_per_active_day", FAMILY, "events/day", "events per active local day"),
    *[ratio(f"kind_share_{k}", FAMILY, f"share of the account's events that are {k}s", direction=None)
      for k in MIX_KINDS],
    ratio("automation_client_share", FAMILY, "share of posts sent from automation clients (open API, scheduler)"),
    ratio("zero_second_share", FAMILY, "share of events stamped at second 0 of a minute (machine schedules; "
          "humans ~1/60)"),
    Feature("follow_churn", FAMILY, "ratio", "unfollows divided by follows (follow-for-follow farming)"),
]

BEHAVIOUR_SCHEMA = StructType(
    [StructField("account_id", StringType(), True)] + [StructField(f.name, f.dtype, True) for f in FEATURES]
)


def behaviour_features(accounts: DataFrame, posts: DataFrame, interactions: DataFrame, as_of: datetime,
                       cfg: BehaviourConfig) -> DataFrame:
    """One row per account of `accounts` with BEHAVIOUR_SCHEMA's columns, using events at or before `as_of`."""
    as_of_us = epoch_micros(as_of)
    acc = account_frame(accounts, cfg)
    events = _events(posts, interactions, as_of_us).join(acc.select("account_id", "offset_s"), "account_id")
    stats = _per_account(_with_gaps(events, cfg), cfg)
    population = _population_profile(events, cfg)
    replies = _replies(posts, interactions, as_of_us, cfg)
    return assemble_behaviour(acc, stats, replies, population, as_of_us, cfg)


def account_frame(accounts: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """account_id, created_us, offset_s (the region's UTC offset in seconds)."""
    return accounts.select(
        "account_id",
        F.unix_micros("created_at").alias("created_us"),
        _offset_seconds(F.upper(F.trim("region")), cfg).alias("offset_s"),
    )


def assemble_behaviour(acc: DataFrame, stats: DataFrame, replies: DataFrame, population: DataFrame,
                       as_of_us: int, cfg: BehaviourConfig) -> DataFrame:
    """The final features from per-account state, shared by the full and the incremental path
    (genuine.features.behaviour_partials), so every formula exists once."""
    joined = (acc.select("account_id", "created_us")
              .join(stats, "account_id", "left")
              .join(replies, "account_id", "left")
              .crossJoin(F.broadcast(population)))
    out = joined.select("account_id", *_finish(cfg, as_of_us))
    return out.select("account_id", *[F.col(f.name).cast(f.dtype) for f in FEATURES])


def _div(num: Column, den: Column) -> Column:
    """Division that yields NULL on a zero denominator (ANSI mode would raise instead)."""
    return F.try_divide(num.cast("double"), den)


# --- events -----------------------------------------------------------------------------------------------

def _offset_seconds(region: Column, cfg: BehaviourConfig) -> Column:
    default = F.lit(int(round(cfg.default_utc_offset_hours * 3600)))
    if not cfg.region_utc_offset_hours:
        return default
    pairs = [x for k, h in sorted(cfg.region_utc_offset_hours.items()) for x in (F.lit(k), F.lit(int(round(h * 3600))))]
    return F.coalesce(F.create_map(*pairs)[region], default)


def _events(posts: DataFrame, interactions: DataFrame, as_of_us: int | None) -> DataFrame:
    """Posts and interactions as (account_id, us, kind, client); all of them when `as_of_us` is None."""
    p = posts.select("account_id", F.unix_micros("created_at").alias("us"), F.lit("post").alias("kind"),
                     F.col("client"))
    i = interactions.select(F.col("actor_id").alias("account_id"), F.unix_micros("created_at").alias("us"),
                            F.col("kind"), F.lit(None).cast("string").alias("client"))
    keep = F.col("account_id").isNotNull() & F.col("us").isNotNull()
    if as_of_us is not None:
        keep = keep & (F.col("us") <= F.lit(as_of_us))
    return p.unionByName(i).where(keep)


def _with_gaps(events: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """Gap to the previous event (and the previous gap), local clock fields, session and day starts."""
    w = Window.partitionBy("account_id").orderBy("us")
    us, lag1, lag2 = F.col("us"), F.lag("us", 1).over(w), F.lag("us", 2).over(w)
    sec = F.expr("us div 1000000")
    local = sec + F.col("offset_s")
    local_day = F.expr("(local_s - pmod(local_s, 86400)) div 86400")
    e = (events
         .withColumn("gap", (us - lag1) / US_PER_S)
         .withColumn("prev_gap", (lag1 - lag2) / US_PER_S)
         .withColumn("local_s", local)
         .withColumn("zero_sec", F.pmod(sec, F.lit(60)) == 0)
         .withColumn("hour", F.expr("pmod(local_s, 86400) div 3600").cast("int"))
         .withColumn("local_day", local_day))
    e = (e.withColumn("dow", F.pmod(F.col("local_day") + 3, F.lit(DAYS)).cast("int"))  # 1970-01-01 = Thursday
         .withColumn("day_start", F.coalesce(F.col("local_day") != F.lag("local_day").over(w), F.lit(True)))
         .withColumn("gap_bin", gap_bin(F.col("gap"), cfg)))
    return e.withColumn("regular", regular_pair(F.col("gap"), F.col("prev_gap"), cfg))


def gap_bin(gap: Column, cfg: BehaviourConfig) -> Column:
    """The entropy bin of a gap in seconds; NULL for no gap (least() alone would skip the NULL)."""
    return F.when(gap.isNotNull(), F.least(F.floor(F.log(cfg.gap_log_base, gap + 1.0)), F.lit(cfg.gap_bins - 1)))


def regular_pair(gap: Column, prev_gap: Column, cfg: BehaviourConfig) -> Column:
    """Two consecutive gaps (seconds) are near-identical; NULL when either is missing."""
    tol = F.greatest(F.lit(cfg.gap_tolerance_seconds), F.lit(cfg.gap_tolerance_relative) * F.greatest(gap, prev_gap))
    return F.abs(gap - prev_gap) <= tol


def _night(hour: Column, cfg: BehaviourConfig) -> Column:
    s, e = cfg.night_start_hour, cfg.night_end_hour
    return (hour >= s) & (hour < e) if s < e else (hour >= s) | (hour < e)


def _per_account(e: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """One aggregation per account; hour, weekday and gap-bin histograms come out as fixed-size arrays."""
    def n(cond: Column) -> Column:
        return F.sum(F.when(cond, 1).otherwise(0))

    gap = F.col("gap")
    kind = F.col("kind")
    return e.groupBy("account_id").agg(
        F.count(F.lit(1)).alias("n_events"),
        n(kind == "post").alias("n_posts"),
        n((kind == "post") & F.col("client").isin(cfg.automation_clients)).alias("n_auto"),
        n(_night(F.col("hour"), cfg)).alias("n_night"),
        n(F.col("dow").isin(cfg.weekend_days)).alias("n_weekend"),
        n(F.col("zero_sec")).alias("n_zero_sec"),
        n(F.col("day_start")).alias("n_days"),
        n(gap.isNull() | (gap > cfg.session_gap_seconds)).alias("n_sessions"),
        F.sum(F.when(gap <= cfg.session_gap_seconds, gap).otherwise(0.0)).alias("session_span_s"),
        F.count("prev_gap").alias("n_pairs"),
        n(F.col("regular")).alias("n_regular"),
        *[n(kind == k).alias(f"n_kind_{k}") for k in MIX_KINDS],
        F.count("gap").alias("n_gaps"),
        F.avg("gap").alias("gap_mean"),
        F.stddev_pop("gap").alias("gap_std"),
        F.array(*[n(F.col("gap_bin") == b) for b in range(cfg.gap_bins)]).alias("gap_bins"),
        F.array(*[n(F.col("hour") == h) for h in range(HOURS)]).alias("hours"),
        F.array(*[n(F.col("dow") == d) for d in range(DAYS)]).alias("days"),
    )


def _population_profile(events: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """Mean of the normalized local-hour profiles of accounts with enough events: one row, column `pop`.

    Each account weighs the same, so a few hyperactive bots cannot define what "normal" looks like. Built
    from the events by plain aggregation (no sort), so this second read costs one map-side-combined shuffle.
    """
    hour = F.expr("pmod((us div 1000000) + offset_s, 86400) div 3600")
    per_account = events.groupBy("account_id").agg(
        F.count(F.lit(1)).alias("n_events"),
        F.array(*[F.sum(F.when(hour == h, 1).otherwise(0)) for h in range(HOURS)]).alias("hours"))
    return mean_profile(per_account, cfg)


def mean_profile(per_account: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """The population profile from per-account `n_events` and local-hour counts `hours`."""
    qualified = per_account.where(F.col("n_events") >= cfg.min_events)
    return qualified.agg(F.array(*[exact_avg(_div(F.col("hours")[h], F.col("n_events"))) for h in range(HOURS)])
                         .alias("pop"))


def _replies(posts: DataFrame, interactions: DataFrame, as_of_us: int, cfg: BehaviourConfig) -> DataFrame:
    first = (interactions
             .where((F.col("kind") == "comment") & F.col("target_post_id").isNotNull()
                    & F.col("actor_id").isNotNull() & (F.unix_micros("created_at") <= F.lit(as_of_us)))
             .groupBy(F.col("actor_id").alias("account_id"), F.col("target_post_id").alias("post_id"))
             .agg(F.min(F.unix_micros("created_at")).alias("comment_us")))
    p = posts.where(F.unix_micros("created_at") <= F.lit(as_of_us)) \
        .select("post_id", F.unix_micros("created_at").alias("post_us"))
    lat = first.join(p, "post_id").select("account_id", reply_latency().alias("lat"))
    return reply_stats(lat, cfg)


def reply_latency() -> Column:
    """Seconds from the post to the first comment on it."""
    return (F.col("comment_us") - F.col("post_us")) / US_PER_S


def reply_stats(lat: DataFrame, cfg: BehaviourConfig) -> DataFrame:
    """Per-account reply count, median latency and fast share from (account_id, lat) rows."""
    # A comment stamped before its post is a data error, not a negative latency: left out.
    return lat.where(F.col("lat") >= 0).groupBy("account_id").agg(
        F.count(F.lit(1)).alias("n_replies"),
        F.median("lat").alias("lat_median"),
        F.avg((F.col("lat") <= cfg.fast_reply_seconds).cast("double")).alias("lat_fast"),
    )


# --- final features -----------------------------------------------------------------------------------

def _entropy_bits(counts: Column, total: Column) -> Column:
    """Shannon entropy (bits) of a count array: log2(N) - sum(c log2 c)/N."""
    s = F.aggregate(counts, F.lit(0.0), lambda acc, c: acc + F.when(c > 0, c * F.log2(c)).otherwise(0.0))
    return F.log2(total) - _div(s, total)


def _js_bits(p: Column, q: Column) -> Column:
    def term(a: Column, m: Column) -> Column:
        return F.when(a > 0, a * F.log2(_div(a, m))).otherwise(0.0)

    pairs = F.zip_with(p, q, lambda a, b: 0.5 * term(a, (a + b) / 2) + 0.5 * term(b, (a + b) / 2))
    return F.aggregate(pairs, F.lit(0.0), lambda acc, x: acc + x)


def _zero_if_null(col: Column) -> Column:
    """0 for accounts without events; unlike coalesce() the column stays nullable, as declared (Delta would
    otherwise turn it into a NOT NULL column)."""
    return F.when(col.isNull(), F.lit(0)).otherwise(col)


def _finish(cfg: BehaviourConfig, as_of_us: int) -> list[Column]:
    c = F.col
    n_ev = _zero_if_null(c("n_events"))
    n_gaps = _zero_if_null(c("n_gaps"))

    def when_events(expr: Column) -> Column:
        return F.when(n_ev >= cfg.min_events, expr)

    def when_gaps(expr: Column, k: int = cfg.min_gaps) -> Column:
        return F.when(n_gaps >= k, expr)

    mu, sigma = c("gap_mean"), c("gap_std")
    profile = F.transform(c("hours"), lambda x: _div(x, c("n_events")))
    age = (F.lit(as_of_us) - c("created_us")) / (86400.0 * US_PER_S)
    n_follow = _zero_if_null(c("n_kind_follow"))
    return [
        n_ev.alias("events_total"),
        _zero_if_null(c("n_days")).alias("active_days"),
        _zero_if_null(c("n_sessions")).alias("sessions_total"),
        _zero_if_null(c("n_replies")).alias("replies_total"),
        F.when(age >= 0, age).alias("account_age_days"),
        when_gaps(F.when(mu > 0, _div(sigma, mu))).alias("gap_cv"),
        when_gaps(_entropy_bits(c("gap_bins"), n_gaps)).alias("gap_entropy_bits"),
        when_gaps(_div(c("n_regular"), c("n_pairs")), max(cfg.min_gaps, 2)).alias("gap_regular_share"),
        when_gaps(F.when(sigma + mu > 0, _div(sigma - mu, sigma + mu))).alias("burstiness"),
        when_events(_entropy_bits(c("hours"), c("n_events"))).alias("hour_entropy_bits"),
        when_events(_js_bits(profile, c("pop"))).alias("hour_js_distance"),
        when_events(_div(c("n_night"), c("n_events"))).alias("night_share"),
        when_events(_div(c("n_weekend"), c("n_events"))).alias("weekend_share"),
        when_events(_entropy_bits(c("days"), c("n_events"))).alias("weekday_entropy_bits"),
        F.when(c("n_sessions") > 0, _div(c("session_span_s"), c("n_sessions"))).alias("session_mean_seconds"),
        F.when(c("n_sessions") > 0, _div(c("n_events"), c("n_sessions"))).alias("session_mean_actions"),
        F.when(c("n_replies") >= cfg.min_replies, c("lat_median")).alias("reply_latency_median_s"),
        F.when(c("n_replies") >= cfg.min_replies, c("lat_fast")).alias("reply_fast_share"),
        F.when(c("n_days") > 0, _div(c("n_events"), c("n_days"))).alias("actions_per_active_day"),
        *[when_events(_div(c(f"n_kind_{k}"), c("n_events"))).alias(f"kind_share_{k}") for k in MIX_KINDS],
        F.when(c("n_posts") >= cfg.min_posts, _div(c("n_auto"), c("n_posts"))).alias("automation_client_share"),
        when_events(_div(c("n_zero_sec"), c("n_events"))).alias("zero_second_share"),
        F.when(n_follow >= cfg.min_follows, _div(c("n_kind_unfollow"), n_follow)).alias("follow_churn"),
    ]
