"""The contract every Delta engine behind `Lake` must honour, run against each engine available here."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pandas as pd
import pytest
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from genuine.core.errors import DuplicateMergeKeys, PredicateViolation, SchemaMismatch
from tests.oracles import read_delta_rs, sorted_frame

SCHEMA = StructType([StructField("k", StringType(), True), StructField("v", LongType(), True),
                     StructField("day", StringType(), True)])


def rows(spark, data):
    return spark.createDataFrame(data, SCHEMA)


def test_create_declares_schema_and_reads_empty(lake):
    lake.create("raw_accounts", SCHEMA)
    assert lake.version("raw_accounts") == 0
    df = lake.read("raw_accounts")
    assert df.schema == SCHEMA
    assert df.count() == 0


def test_append_is_one_version_and_readable_without_spark(lake, spark):
    data = [("a", 1, "d1"), ("b", 2, "d1"), ("c", None, None)]
    res = lake.append("raw_posts", rows(spark, data).repartition(3), schema=SCHEMA)
    assert (res.version, res.rows) == (1, 3)   # version 0 = create, version 1 = the write
    got = sorted_frame(read_delta_rs(lake.uri("raw_posts")), ["k"])
    want = pd.DataFrame(data, columns=["k", "v", "day"])
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assertDataFrameEqual(lake.read("raw_posts"), rows(spark, data))


def test_a_declared_new_column_is_added_and_an_undeclared_one_refused(lake, spark):
    """A table made before its schema gained a nullable column: the next write adds it (old rows read
    null); a column nobody declared is an error, not silently dropped from the files."""
    lake.append("scores", rows(spark, [("a", 1, "d1")]), schema=SCHEMA)
    wider = StructType([*SCHEMA.fields, StructField("novelty", DoubleType(), True)])
    lake.append("scores", spark.createDataFrame([("b", 2, "d2", 0.5)], wider), schema=wider)
    assertDataFrameEqual(lake.read("scores"), spark.createDataFrame([("a", 1, "d1", None), ("b", 2, "d2", 0.5)], wider))
    assert read_delta_rs(lake.uri("scores")).set_index("k")["novelty"].fillna(-1).to_dict() == {"a": -1, "b": 0.5}
    stray = StructType([*wider.fields, StructField("stray", StringType(), True)])
    with pytest.raises(SchemaMismatch, match="no column stray"):
        lake.append("scores", spark.createDataFrame([("c", 3, "d3", 0.1, "x")], stray), schema=wider)
    assert lake.read("scores").count() == 2


def test_txn_makes_a_retried_write_land_once(lake, spark):
    df = rows(spark, [("a", 1, "d1")])
    first = lake.append("raw_reports", df, schema=SCHEMA, txn=("ingest", "run-1"))
    again = lake.append("raw_reports", df, schema=SCHEMA, txn=("ingest", "run-1"))
    other = lake.append("raw_reports", df, schema=SCHEMA, txn=("ingest", "run-2"))
    assert first.version == 1 and again.version is None and other.version == 2
    assert lake.already_committed("raw_reports", ("ingest", "run-1"))
    assert not lake.already_committed("raw_reports", ("ingest", "run-3"))
    assert lake.read("raw_reports").count() == 2


def test_empty_append_commits_nothing(lake, spark):
    lake.create("raw_labels", SCHEMA)
    res = lake.append("raw_labels", rows(spark, []))
    assert res.version is None and lake.version("raw_labels") == 0


def test_overwrite_whole_and_by_predicate(lake, spark):
    lake.append("features", rows(spark, [("a", 1, "d1"), ("b", 2, "d2"), ("c", 3, "d2")]), schema=SCHEMA)
    lake.overwrite("features", rows(spark, [("x", 9, "d2")]), predicate="day = 'd2'")
    assertDataFrameEqual(lake.read("features"), rows(spark, [("a", 1, "d1"), ("x", 9, "d2")]))
    with pytest.raises(PredicateViolation):
        lake.overwrite("features", rows(spark, [("y", 1, "d1")]), predicate="day = 'd2'")
    lake.overwrite("features", rows(spark, [("z", 0, "d3")]))
    assertDataFrameEqual(lake.read("features"), rows(spark, [("z", 0, "d3")]))
    assert lake.read("features", version=2).count() == 2   # time travel to before the full overwrite


@pytest.mark.parametrize("partition_by", [(), ("day",)])
def test_an_overwrite_of_no_rows_removes_what_its_predicate_selects_and_nothing_else(lake, spark, partition_by):
    """No rows for days that hold none (a state update whose day has nothing to store) keep every row;
    delta-rs once committed that as an overwrite without actions, which empties the whole table. No rows
    for a day that holds some delete that day's alone."""
    data = [("a", 1, "d1"), ("b", 2, "d2")]
    lake.append("features", rows(spark, data), schema=SCHEMA, partition_by=partition_by)
    before = lake.version("features")
    lake.overwrite("features", rows(spark, []), predicate="day IN ('d3', 'd4')", partition_by=partition_by)
    assertDataFrameEqual(lake.read("features"), rows(spark, data))
    assert lake.version("features") in (before, before + 1)
    lake.overwrite("features", rows(spark, []), predicate="day = 'd2'", partition_by=partition_by)
    assertDataFrameEqual(lake.read("features"), rows(spark, data[:1]))


def test_merge_upsert_and_insert_only(lake, spark):
    lake.append("account_status", rows(spark, [("a", 1, "d1"), ("b", 2, "d1")]), schema=SCHEMA)
    lake.merge("account_status", rows(spark, [("b", 20, "d2"), ("c", 30, "d2")]), keys=["k"])
    assertDataFrameEqual(lake.read("account_status"),
                         rows(spark, [("a", 1, "d1"), ("b", 20, "d2"), ("c", 30, "d2")]))
    lake.merge("account_status", rows(spark, [("a", 99, "d9"), ("d", 4, "d9")]), keys=["k"], when_matched="ignore")
    assertDataFrameEqual(lake.read("account_status"),
                         rows(spark, [("a", 1, "d1"), ("b", 20, "d2"), ("c", 30, "d2"), ("d", 4, "d9")]))
    with pytest.raises(DuplicateMergeKeys):
        lake.merge("account_status", rows(spark, [("a", 1, "d1"), ("a", 2, "d1")]), keys=["k"])


def test_time_travel_by_timestamp_and_history(lake, spark):
    lake.append("scores", rows(spark, [("a", 1, "d1")]), schema=SCHEMA)
    time.sleep(1.1)
    between = datetime.now(UTC)
    time.sleep(1.1)
    lake.append("scores", rows(spark, [("b", 2, "d1")]))
    assert lake.read("scores", timestamp=between).count() == 1
    assert lake.read("scores").count() == 2
    ops = [h.get("operation") for h in lake.history("scores")]
    assert len(ops) == 3


def test_nulls_in_every_column_append_after_non_null_first_write(lake, spark):
    strict = StructType([StructField("k", StringType(), False), StructField("v", LongType(), False),
                         StructField("day", StringType(), False)])
    lake.append("runs", spark.createDataFrame([("a", 1, "d")], strict))
    lake.append("runs", rows(spark, [(None, None, None)]))
    assert lake.read("runs").where("k is null").count() == 1


def test_concurrent_merges_lose_no_update(lake, spark):
    """Two writers upsert different keys into the same table at once: both updates survive."""
    lake.append("action_log", rows(spark, [(f"k{i}", 0, "d0") for i in range(4)]).coalesce(1), schema=SCHEMA)
    errors: list[BaseException] = []

    def worker(key: str) -> None:
        try:
            lake.merge("action_log", rows(spark, [(key, 1, "d1")]), keys=["k"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("k0", "k1", "k2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assertDataFrameEqual(lake.read("action_log"),
                         rows(spark, [("k0", 1, "d1"), ("k1", 1, "d1"), ("k2", 1, "d1"), ("k3", 0, "d0")]))
