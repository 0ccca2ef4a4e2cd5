"""The change family from stored per-day rows equals the full path (features/change_partials.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from genuine.core.lake import Lake
from genuine.features.change import ChangeConfig, change_features, daily_partials
from genuine.features.change_partials import (
    DAYS_SCHEMA,
    EVENTS_SCHEMA,
    SESSIONS_SCHEMA,
    change_from_partials,
    day_change_partials,
    settings_hash,
)
from genuine.features.snapshot import cut, end_of_day
from genuine.features.state import CHANGE_DAYS, CHANGE_EVENTS, CHANGE_SESSIONS, update_change_state

TABLES = (CHANGE_SESSIONS, CHANGE_EVENTS, CHANGE_DAYS)
# a window shorter than the tiny lake's seven days, so that days fall out of it
WINDOW = {"window_days": 4, "burst_days": 1, "min_baseline_days": 2, "recent_days": 2, "min_side_sessions": 2,
          "min_recent_sessions": 1}


def test_settings_hash_follows_what_the_rows_depend_on():
    cfg = ChangeConfig()
    h = settings_hash(cfg)
    for same in (cfg.model_copy(update={"window_days": 14}), cfg.model_copy(update={"min_side_sessions": 9}),
                 cfg.model_copy(update={"burst_smoothing": 3.0})):
        assert settings_hash(same) == h
    for other in (cfg.model_copy(update={"clients": ["ios", "web"]}), cfg.model_copy(update={"rhythm_bin_hours": 6})):
        assert settings_hash(other) != h


def _raw(lake: Lake) -> tuple[DataFrame, DataFrame, DataFrame]:
    return lake.read("raw_posts"), lake.read("raw_interactions"), lake.read("raw_sessions")


def _one_pass(lake: Lake, frames: tuple[DataFrame, DataFrame, DataFrame], through: date, cfg: ChangeConfig) -> None:
    """The tables' rows of the window equal its days' partials computed in one pass, the manifest their counts
    (days that left the window stay as they were: no snapshot of `through` reads them)."""
    since = through - timedelta(days=cfg.window_days - 1)
    window = F.col("event_date").between(F.lit(since), F.lit(through))
    posts, inter, sessions = (df.where(window) for df in frames)
    s, ev = day_change_partials(posts, inter, sessions, cfg)
    assertDataFrameEqual(lake.read(CHANGE_SESSIONS).where(window), s)
    assertDataFrameEqual(lake.read(CHANGE_EVENTS).where(window), ev)
    counts: dict[date, int] = {}
    for df, who, ts in ((posts, "account_id", "created_at"), (inter, "actor_id", "created_at"),
                        (sessions, "account_id", "started_at")):
        for r in df.where(F.col(who).isNotNull() & F.col(ts).isNotNull()).groupBy("event_date").count().collect():
            counts[r[0]] = counts.get(r[0], 0) + r[1]
    assert sorted(counts) == [since + timedelta(days=i) for i in range(cfg.window_days)]
    assertDataFrameEqual(lake.read(CHANGE_DAYS).where(window), lake.spark.createDataFrame(
        [(d, n, settings_hash(cfg), None) for d, n in counts.items()], DAYS_SCHEMA))


def _versions(lake: Lake) -> tuple[int | None, ...]:
    return tuple(lake.version(t) for t in TABLES)


def _full(lake: Lake, frames: tuple[DataFrame, DataFrame, DataFrame], through: date, cfg: ChangeConfig) -> DataFrame:
    as_of = end_of_day(through)
    posts, inter, sessions = frames
    accounts = cut(lake.read("raw_accounts"), "created_at", as_of, keep_null=True)
    return change_features(accounts, cut(posts, "created_at", as_of), cut(inter, "created_at", as_of),
                           cut(sessions, "started_at", as_of), as_of, cfg)


def _stored(lake: Lake, through: date, cfg: ChangeConfig) -> DataFrame:
    as_of = end_of_day(through)
    accounts = cut(lake.read("raw_accounts"), "created_at", as_of, keep_null=True)
    return change_from_partials(accounts, lake.read(CHANGE_SESSIONS), lake.read(CHANGE_EVENTS), as_of, cfg)


def test_job_state_and_snapshot_on_a_simulated_platform(spark, tiny_lake, cfg_factory, tmp_path):
    """update_change_state on the tiny lake (real ingest) with a 4-day window: a state 2 days back, the same
    again (writes nothing), the last day (the window moves: only the new days are written, the days that left
    it are not counted), late sessions of a day in the window (that day alone rewritten), other settings
    (every day of the window). After each, the tables equal one pass over the window, and the family from
    them equals the full path's, exactly."""
    cfg = cfg_factory(*[f"lake.tables.{t}={tmp_path}/{t}" for t in TABLES], root=tiny_lake.root)
    lake = Lake(spark, cfg)
    ccfg = ChangeConfig.model_validate({**cfg.features["change"], **WINDOW})
    frames = _raw(lake)
    last = frames[1].agg(F.max("event_date")).first()[0]
    early = last - timedelta(days=2)

    update_change_state(lake, *frames, early, ccfg)
    _one_pass(lake, frames, early, ccfg)
    assertDataFrameEqual(_stored(lake, early, ccfg), _full(lake, frames, early, ccfg))
    versions = _versions(lake)
    update_change_state(lake, *frames, early, ccfg)
    assert _versions(lake) == versions

    update_change_state(lake, *frames, last, ccfg)
    assert _versions(lake) == tuple(v + 1 for v in versions)
    # the two new days are added; the days that left the window are neither counted again nor dropped
    days = sorted(r[0] for r in lake.read(CHANGE_DAYS).select("event_date").collect())
    assert days == [early - timedelta(days=i) for i in range(ccfg.window_days - 1, -3, -1)]

    # late sessions of a day in the window: a copy of its sessions from another device and prefix
    late_day = last - timedelta(days=1)
    posts, inter, sessions = frames
    late = (sessions.where(F.col("event_date") == F.lit(late_day)).orderBy("session_id").limit(30)
            .withColumn("session_id", F.concat(F.lit("late-"), F.col("session_id")))
            .withColumn("device_hash", F.lit("new-device")).withColumn("ip_prefix_hash", F.lit("new-prefix")))
    frames = (posts, inter, sessions.unionByName(late))
    kept = {r[0]: r[1] for r in lake.read(CHANGE_DAYS).select("event_date", "records").collect()}
    update_change_state(lake, *frames, last, ccfg)
    now = {r[0]: r[1] for r in lake.read(CHANGE_DAYS).select("event_date", "records").collect()}
    assert {d for d in now if now[d] != kept.get(d)} == {late_day} and now[late_day] == kept[late_day] + 30
    _one_pass(lake, frames, last, ccfg)
    snapshot = _stored(lake, last, ccfg)
    assertDataFrameEqual(snapshot, _full(lake, frames, last, ccfg))
    # the late sessions moved the features of some accounts (else the comparison above proves less)
    before = _full(lake, (posts, inter, sessions), last, ccfg)
    assert snapshot.exceptAll(before).count() > 0

    other = ccfg.model_copy(update={"rhythm_bin_hours": 6})
    update_change_state(lake, *frames, last, other)
    _one_pass(lake, frames, last, other)
    assertDataFrameEqual(_stored(lake, last, other), _full(lake, frames, last, other))
    assert lake.read(CHANGE_SESSIONS).schema == SESSIONS_SCHEMA and lake.read(CHANGE_EVENTS).schema == EVENTS_SCHEMA


def test_the_full_path_reads_only_the_windows_partitions(spark, tiny_lake, cfg_factory):
    """The window reaches the three raw scans as a partition filter (delta-spark): the full path's cost follows
    the window, not the history."""
    lake = Lake(spark, cfg_factory("lake.engine=delta-spark", root=tiny_lake.root))
    posts, inter, sessions = _raw(lake)
    last = inter.agg(F.max("event_date")).first()[0]
    ccfg = ChangeConfig.model_validate({**lake.cfg.features["change"], **WINDOW})
    s, ev = daily_partials(posts, inter, sessions, end_of_day(last), ccfg)
    first = (last - timedelta(days=ccfg.window_days - 1)).isoformat()
    for df, scans in ((s, 1), (ev, 2)):
        plan = df._jdf.queryExecution().executedPlan().toString()
        filters = re.findall(r"PartitionFilters: \[([^\]]*)\]", plan)
        assert len(filters) == scans and all(first in f and last.isoformat() in f for f in filters), plan
