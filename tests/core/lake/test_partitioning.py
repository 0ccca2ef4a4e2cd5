"""Partitioned tables on both engines: the partition columns are in the Delta log, and a daily write, a
predicate overwrite or a merge adds and removes files of the partitions concerned only (read back from the
JSON commits of the log, not from the engine that wrote them)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
from pyspark.sql.types import DateType, LongType, StringType, StructField, StructType, TimestampType
from pyspark.testing import assertDataFrameEqual

from genuine.core import catalog
from genuine.core.errors import PartitioningMismatch
from tests.oracles import live_files, read_delta_rs, sorted_frame

SCHEMA = StructType([StructField("k", StringType(), True), StructField("v", LongType(), True),
                     StructField("day", DateType(), True)])
BY_DAY = ("day",)
D1, D2, D3 = date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)


def rows(spark, data):
    return spark.createDataFrame(data, SCHEMA)


def log_actions(uri: str, version: int) -> list[dict]:
    """The actions of one commit, from its JSON file."""
    commit = Path(uri) / "_delta_log" / f"{version:020d}.json"
    return [json.loads(line) for line in commit.read_text().splitlines()]


def touched(uri: str, version: int) -> tuple[set[str | None], set[str | None]]:
    """The partition values (of `day`) of the files a commit added and of those it removed."""
    adds, removes = set(), set()
    for action in log_actions(uri, version):
        if "add" in action:
            value = action["add"]["partitionValues"]["day"]
            assert f"day={value}/" in unquote(action["add"]["path"]), action["add"]["path"]
            adds.add(value)
        if "remove" in action:
            removes.add(_partition_of(uri, action["remove"]["path"]))
    return adds, removes


def _partition_of(uri: str, path: str) -> str:
    """The partition value of a removed file, from the add action that brought it in."""
    for commit in sorted((Path(uri) / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action and unquote(action["add"]["path"]) == unquote(path):
                return action["add"]["partitionValues"]["day"]
    raise AssertionError(f"removed file {path} was never added")


def test_partition_columns_are_in_the_log(lake):
    lake.create("raw_posts", SCHEMA, partition_by=BY_DAY)
    meta = next(a["metaData"] for a in log_actions(lake.uri("raw_posts"), 0) if "metaData" in a)
    assert meta["partitionColumns"] == ["day"]
    assert lake.partition_columns("raw_posts") == ["day"]


def test_daily_writes_and_overwrites_touch_only_their_partitions(lake, spark):
    uri = lake.uri("features")
    first = lake.append("features", rows(spark, [("a", 1, D1), ("b", 2, D2), ("c", 3, D2)]), schema=SCHEMA,
                        partition_by=BY_DAY)
    assert touched(uri, first.version) == ({"2026-01-01", "2026-01-02"}, set())
    day3 = lake.append("features", rows(spark, [("d", 4, D3)]), partition_by=BY_DAY)
    assert touched(uri, day3.version) == ({"2026-01-03"}, set())
    again = lake.overwrite("features", rows(spark, [("x", 9, D2)]), predicate="day = DATE'2026-01-02'",
                           partition_by=BY_DAY)
    assert touched(uri, again.version) == ({"2026-01-02"}, {"2026-01-02"})
    want = [("a", 1, D1), ("x", 9, D2), ("d", 4, D3)]
    assertDataFrameEqual(lake.read("features"), rows(spark, want))
    # delta-rs alone reads the partition values back from the log
    got = sorted_frame(read_delta_rs(uri), ["k"])
    oracle = sorted_frame(pd.DataFrame(want, columns=["k", "v", "day"]), ["k"])
    pd.testing.assert_frame_equal(got.assign(day=pd.to_datetime(got["day"]).dt.date), oracle, check_dtype=False)
    assert len(live_files(Path(uri))) == lake.file_count("features")


def test_an_overwrite_on_another_column_rewrites_only_the_files_it_hits(lake, spark):
    uri = lake.uri("scores")
    lake.append("scores", rows(spark, [("a", 1, D1), ("b", 2, D2)]), schema=SCHEMA, partition_by=BY_DAY)
    res = lake.overwrite("scores", rows(spark, [("b", 20, D2)]), predicate="k = 'b'", partition_by=BY_DAY)
    adds, removes = touched(uri, res.version)
    assert removes == {"2026-01-02"} and adds == {"2026-01-02"}
    assertDataFrameEqual(lake.read("scores"), rows(spark, [("a", 1, D1), ("b", 20, D2)]))


def test_merges_touch_only_the_partitions_of_their_rows(lake, spark):
    uri = lake.uri("raw_interactions")
    lake.append("raw_interactions", rows(spark, [("a", 1, D1), ("b", 2, D2)]), schema=SCHEMA, partition_by=BY_DAY)
    insert = lake.merge("raw_interactions", rows(spark, [("a", 99, D1), ("c", 3, D3)]), keys=["k"],
                        when_matched="ignore", partition_by=BY_DAY)
    assert touched(uri, insert.version) == ({"2026-01-03"}, set())
    update = lake.merge("raw_interactions", rows(spark, [("b", 20, D2)]), keys=["k"], partition_by=BY_DAY)
    assert touched(uri, update.version) == ({"2026-01-02"}, {"2026-01-02"})
    assertDataFrameEqual(lake.read("raw_interactions"), rows(spark, [("a", 1, D1), ("b", 20, D2), ("c", 3, D3)]))


def test_a_table_made_before_partitioning_is_refused_with_the_way_out(lake, spark):
    lake.append("raw_sessions", rows(spark, [("a", 1, D1)]), schema=SCHEMA)
    with pytest.raises(PartitioningMismatch, match=r"partitioned by nothing.*\['day'\].*new lake.root.*docs/maintenance.md"):
        lake.append("raw_sessions", rows(spark, [("b", 2, D2)]), partition_by=BY_DAY)
    assert lake.read("raw_sessions").count() == 1


def test_event_date_is_the_utc_day_whatever_the_session_time_zone(spark):
    """Events around midnight UTC, derived under a session time zone far from UTC: the day is UTC's."""
    instants = [datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC), datetime(2026, 1, 2, 0, 0, 0, tzinfo=UTC),
                datetime(2025, 12, 31, 16, 30, tzinfo=UTC)]
    posts = catalog.table("raw_posts")
    schema = StructType([StructField("created_at", TimestampType(), True)])
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Shanghai")
    try:
        got = [r["event_date"] for r in
               posts.with_partition_columns(spark.createDataFrame([(t,) for t in instants], schema)).collect()]
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)
    assert got == [t.astimezone(UTC).date() for t in instants]
    assert posts.partition_by == ("event_date",) and catalog.table("scores").partition_by == ("snapshot_date",)
