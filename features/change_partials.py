"""Incremental change features: each UTC day's partials computed once and stored.

`change_features` reads the sessions, posts and interactions of its `window_days`-day window at every
snapshot and groups them into per-day partials (`change.day_partials`) before combining them. Those partials
depend on their own day's records only, so here each day's are computed once, on that day, and kept:

- `change_sessions`, partitioned by the UTC day: one row per account, day, device, network prefix, client
  bucket and hour bin, with its sessions;
- `change_events`, partitioned by the UTC day: one row per account and day, with its posts and interactions;
- `change_days`, the manifest: per UTC day, the sessions, posts and interactions with an account and a time
  it held when its rows were computed, the hash of the settings the rows depend on (`clients`,
  `rhythm_bin_hours`) and the fingerprint of the raw part files counted (features/state.py).

A snapshot for day D (`change_from_partials`) reads the stored rows of the window's days and runs the full
path's own combination on them (`combine_change`): the rows are what the full path groups, so the result is
the same, exactly (counts only; tests/features/test_change_partials.py). The window's thresholds
(`window_days`, `burst_days`, `min_side_sessions`, ...) are read at combine time only: changing them rewrites
nothing. The state keeps only the days a snapshot's window reads; a snapshot of an earlier date computes the
days it lacks.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, IntegerType, LongType, StringType, StructField, StructType

from genuine.core.catalog import EVENT_DATE
from genuine.features.change import (
    INTERACTION_OWNER,
    POST_OWNER,
    SESSION_OWNER,
    ChangeConfig,
    combine_change,
    dated,
    day_partials,
    window_days,
)
from genuine.lib.days import window_partitions

# The `change_sessions` table (genuine.core.catalog names this module as the schema's owner).
SESSIONS_SCHEMA = StructType([
    StructField("account_id", StringType(), True),
    StructField("device_hash", StringType(), True),
    StructField("ip_prefix_hash", StringType(), True),
    StructField("client", StringType(), True),              # a configured client or change.OTHER_CLIENT
    StructField("hour_bin", IntegerType(), True),           # UTC hour of day // rhythm_bin_hours
    StructField("n", LongType(), True),                     # sessions
    StructField(EVENT_DATE, DateType(), True),
])

# The `change_events` table: posts and interactions per account and UTC day.
EVENTS_SCHEMA = StructType([
    StructField("account_id", StringType(), True),
    StructField("n", LongType(), True),
    StructField(EVENT_DATE, DateType(), True),
])

# The `change_days` manifest: one row per UTC day the two tables hold.
DAYS_SCHEMA = StructType([
    StructField(EVENT_DATE, DateType(), True),
    StructField("records", LongType(), True),               # the day's sessions + posts + interactions
    StructField("config_hash", StringType(), True),         # settings_hash of the ChangeConfig used
    StructField("files", StringType(), True),               # fingerprint of the raw part files counted (state.day_files)
])


def settings_hash(cfg: ChangeConfig) -> str:
    """Stable hash of what the stored rows depend on: the client buckets and the hour bins."""
    blob = {"clients": cfg.clients, "rhythm_bin_hours": cfg.rhythm_bin_hours}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def day_record_counts(posts: DataFrame, interactions: DataFrame, sessions: DataFrame) -> DataFrame:
    """(event_date, records): per UTC day, the records `day_change_partials` turns into rows."""
    day = F.col(EVENT_DATE)
    records = (sessions.where(dated(*SESSION_OWNER)).select(day)
               .union(posts.where(dated(*POST_OWNER)).select(day))
               .union(interactions.where(dated(*INTERACTION_OWNER)).select(day)))
    return records.where(day.isNotNull()).groupBy(day).agg(F.count(F.lit(1)).alias("records"))


def day_change_partials(posts: DataFrame, interactions: DataFrame, sessions: DataFrame,
                        cfg: ChangeConfig) -> tuple[DataFrame, DataFrame]:
    """SESSIONS_SCHEMA and EVENTS_SCHEMA rows of the given records (e.g. some days')."""
    s, ev = day_partials(posts, interactions, sessions, cfg)
    as_date = F.date_from_unix_date(F.col("day").cast("int")).alias(EVENT_DATE)
    return (s.select(*[c for c in SESSIONS_SCHEMA.fieldNames() if c != EVENT_DATE], as_date)
            .select(*[F.col(f.name).cast(f.dataType) for f in SESSIONS_SCHEMA.fields]),
            ev.select("account_id", "n", as_date).select(*[F.col(f.name).cast(f.dataType) for f in EVENTS_SCHEMA.fields]))


def change_from_partials(accounts: DataFrame, sessions: DataFrame, events: DataFrame, as_of: datetime,
                         cfg: ChangeConfig) -> DataFrame:
    """`change_features` of inputs cut at `as_of` (the end of a UTC day), from the stored rows of the window's
    days; `accounts` already cut."""
    first, last = window_days(as_of, cfg)
    day = F.unix_date(F.col(EVENT_DATE)).cast("long")
    in_window = window_partitions(first, last)
    s = sessions.where(in_window).select("account_id", day.alias("day"), "device_hash", "ip_prefix_hash", "client",
                                         "hour_bin", "n")
    ev = events.where(in_window).select("account_id", day.alias("day"), "n")
    return combine_change(accounts, s, ev, as_of, cfg)
