"""Maintenance on both engines: compaction, the retention policy as table properties, VACUUM.

What VACUUM should delete is computed here independently of either engine: the Delta log's add and remove
actions, replayed from the JSON commits, give the files the latest version references; every other data
file on disk is what a retention of 0 hours must remove, and nothing else.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql.types import LongType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from genuine.core.lake import Lake
from tests.oracles import data_files_on_disk, live_files

SCHEMA = StructType([StructField("k", StringType(), True), StructField("v", LongType(), True)])
APPENDS = 4


def parquet(files: tuple[str, ...]) -> set[str]:
    return {f for f in files if f.endswith(".parquet") and not Path(f).name.startswith((".", "_"))}


def small_appends(lake: Lake, spark, table: str) -> list[tuple[str, int]]:
    data: list[tuple[str, int]] = []
    for i in range(APPENDS):
        batch = [(f"k{i}-{j}", i * 10 + j) for j in range(3)]
        lake.append(table, spark.createDataFrame(batch, SCHEMA).coalesce(1), schema=SCHEMA)
        data += batch
    return data


def test_compaction_keeps_rows_and_time_travel_and_vacuum_removes_exactly_the_unreferenced(lake, spark):
    data = small_appends(lake, spark, "raw_posts")
    table = Path(lake.uri("raw_posts"))
    old_version = 2                      # create = 0, then one version per append
    old_rows = spark.createDataFrame(data[:3 * old_version], SCHEMA)

    before = lake.file_count("raw_posts")
    res = lake.compact("raw_posts")
    assert before == APPENDS and res.files_before == APPENDS
    assert res.files_after == lake.file_count("raw_posts") == 1
    assert res.version == lake.version("raw_posts")
    assertDataFrameEqual(lake.read("raw_posts"), spark.createDataFrame(data, SCHEMA))
    assertDataFrameEqual(lake.read("raw_posts", version=old_version), old_rows)
    again = lake.compact("raw_posts")                            # one file: nothing to compact, no commit
    assert (again.files_before, again.files_after, again.version) == (1, 1, None)

    # Within retention (24 h): the compacted-away files stay, time travel still works.
    assert lake.set_retention("raw_posts", 24, 24) is True
    assert lake.set_retention("raw_posts", 24, 24) is False     # unchanged policy: no new commit
    kept = lake.vacuum("raw_posts", 24)
    assert parquet(kept.files) == set()
    assertDataFrameEqual(lake.read("raw_posts", version=old_version), old_rows)

    # Retention 0: exactly the files the latest version does not reference go, first as a dry run.
    lake.set_retention("raw_posts", 0, 0)
    on_disk, live = data_files_on_disk(table), live_files(table)
    expected = on_disk - live
    assert len(expected) == APPENDS and len(live) == 1
    dry = lake.vacuum("raw_posts", 0, dry_run=True)
    assert dry.dry_run and parquet(dry.files) == expected and dry.bytes > 0
    assert data_files_on_disk(table) == on_disk                 # a dry run deletes nothing

    done = lake.vacuum("raw_posts", 0)
    assert parquet(done.files) == expected and done.bytes >= dry.bytes
    assert data_files_on_disk(table) == live
    assertDataFrameEqual(lake.read("raw_posts"), spark.createDataFrame(data, SCHEMA))
    lake.cleanup_log("raw_posts")
    assertDataFrameEqual(lake.read("raw_posts"), spark.createDataFrame(data, SCHEMA))
