"""The two engines share one protocol: a table written by either is read, appended to and merged by the other,
and both see the same versions, history and time travel."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pandas as pd
import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from genuine.core.lake.deltars import DeltaRsEngine
from genuine.core.lake.sparkdelta import SparkDeltaEngine
from tests.oracles import read_delta_rs, sorted_frame

pytestmark = pytest.mark.jvm_delta

SCHEMA = StructType([StructField("k", StringType(), True), StructField("v", LongType(), True),
                     StructField("day", StringType(), True)])


@pytest.fixture
def rs(spark) -> DeltaRsEngine:
    return DeltaRsEngine(spark)


@pytest.fixture
def jvm(spark) -> SparkDeltaEngine:
    return SparkDeltaEngine(spark)


def rows(spark, data):
    return spark.createDataFrame(data, SCHEMA)


def test_a_delta_spark_table_is_read_by_delta_rs(spark, tmp_path, rs, jvm):
    uri = str(tmp_path / "t")
    jvm.create(uri, SCHEMA)
    jvm.append(uri, rows(spark, [("a", 1, "d1"), ("b", 2, "d1"), ("c", None, None)]), txn=("ingest", "r1"))
    jvm.merge(uri, rows(spark, [("b", 20, "d2"), ("d", 4, "d2")]), keys=["k"], when_matched="update", txn=None)
    jvm.overwrite(uri, rows(spark, [("x", 9, "d2")]), predicate="day = 'd2'", txn=None)
    want = [("a", 1, "d1"), ("c", None, None), ("x", 9, "d2")]
    # delta-rs alone, no Spark on the reading side
    got = sorted_frame(read_delta_rs(uri), ["k"])
    pd.testing.assert_frame_equal(got, pd.DataFrame(want, columns=["k", "v", "day"]), check_dtype=False)
    assertDataFrameEqual(rs.read(uri), rows(spark, want))
    assert rs.version(uri) == jvm.version(uri) == 3
    assertDataFrameEqual(rs.read(uri, version=1), jvm.read(uri, version=1))  # every version: the test below
    assert rs.already_committed(uri, ("ingest", "r1")) and not rs.already_committed(uri, ("ingest", "r2"))


def test_a_delta_rs_table_is_appended_to_and_merged_by_delta_spark(spark, tmp_path, rs, jvm):
    uri = str(tmp_path / "t")
    rs.create(uri, SCHEMA)
    rs.append(uri, rows(spark, [("a", 1, "d1"), ("b", 2, "d1")]), txn=("ingest", "r1"))
    first = jvm.append(uri, rows(spark, [("c", 3, "d2")]), txn=("ingest", "r2"))
    again = jvm.append(uri, rows(spark, [("c", 3, "d2")]), txn=("ingest", "r2"))
    rerun = jvm.append(uri, rows(spark, [("a", 1, "d1")]), txn=("ingest", "r1"))  # committed by delta-rs
    merged = jvm.merge(uri, rows(spark, [("a", 10, "d3"), ("e", 5, "d3")]), keys=["k"], when_matched="update",
                       txn=("enforce", "r1"))
    assert (first.version, first.rows) == (2, 1)
    assert (again.version, again.skipped) == (None, "txn already committed")
    assert (rerun.version, rerun.skipped) == (None, "txn already committed")
    assert merged.version == 3
    want = rows(spark, [("a", 10, "d3"), ("b", 2, "d1"), ("c", 3, "d2"), ("e", 5, "d3")])
    assertDataFrameEqual(jvm.read(uri), want)
    assertDataFrameEqual(rs.read(uri), want)
    assert rs.already_committed(uri, ("enforce", "r1")) and jvm.already_committed(uri, ("ingest", "r1"))
    # and delta-rs goes on writing after delta-spark
    rs.merge(uri, rows(spark, [("b", 20, "d4")]), keys=["k"], when_matched="update", txn=None)
    assertDataFrameEqual(jvm.read(uri), rows(spark, [("a", 10, "d3"), ("b", 20, "d4"), ("c", 3, "d2"),
                                                      ("e", 5, "d3")]))


def test_time_travel_and_history_agree_between_the_engines(spark, tmp_path, rs, jvm):
    """Writes alternate between the engines; both then read every version, and every point in time
    between commits, alike, and list the same commits."""
    uri = str(tmp_path / "t")
    writes = [
        lambda: rs.create(uri, SCHEMA),
        lambda: jvm.append(uri, rows(spark, [("a", 1, "d1")]), txn=None),
        lambda: rs.append(uri, rows(spark, [("b", 2, "d1")]), txn=None),
        lambda: jvm.merge(uri, rows(spark, [("a", 10, "d2")]), keys=["k"], when_matched="update", txn=None),
        lambda: rs.overwrite(uri, rows(spark, [("c", 3, "d1")]), predicate="day = 'd1'", txn=None),
        lambda: jvm.overwrite(uri, rows(spark, [("d", 4, "d3")]), predicate=None, txn=None),
    ]
    moments: list[datetime] = []
    for write in writes:
        write()
        time.sleep(1.1)  # a moment strictly after this commit (and before the next) at any clock granularity
        moments.append(datetime.now(UTC))
    assert rs.version(uri) == jvm.version(uri) == len(writes) - 1
    rs_history = [(h["version"], h["operation"]) for h in rs.history(uri)]
    jvm_history = [(h["version"], h["operation"]) for h in jvm.history(uri)]
    assert rs_history == jvm_history and [v for v, _ in rs_history] == list(range(len(writes) - 1, -1, -1))
    expected = [[], [("a", 1, "d1")], [("a", 1, "d1"), ("b", 2, "d1")], [("a", 10, "d2"), ("b", 2, "d1")],
                [("a", 10, "d2"), ("c", 3, "d1")], [("d", 4, "d3")]]
    for engine in (rs, jvm):
        assert engine.read(uri, version=0).schema == SCHEMA
        by_version = [sorted(engine.read(uri, version=v).collect()) for v in range(len(writes))]
        by_time = [sorted(engine.read(uri, timestamp=m).collect()) for m in moments]
        assert by_version == by_time == [sorted(rows) for rows in expected], engine.name
