"""The incremental state counts again only the days whose raw part files changed (features/state.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from genuine.core import catalog
from genuine.core.lake import Lake
from genuine.features.behaviour import BehaviourConfig
from genuine.features.change import ChangeConfig
from genuine.features.content import ContentConfig
from genuine.features.content_partials import day_document_counts
from genuine.features.network import NetworkConfig
from genuine.features.state import (
    CHANGE_DAYS,
    CHANGE_EVENTS,
    CHANGE_SESSIONS,
    CONTENT_DAYS,
    DAYS,
    FINGERPRINTED,
    NETWORK_DAYS,
    PAIRS,
    PARTIALS,
    REPLIES,
    STATE_TABLES,
    ManifestDay,
    day_counts,
    day_files,
    listed_day_files,
    refingerprinted,
    update_behaviour_state,
    update_change_state,
    update_content_state,
    update_network_state,
)

D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
RAW = ("raw_posts", "raw_interactions")
STATE = tuple(t for tables in STATE_TABLES.values() for t in tables)
MANIFESTS = tuple(tables[-1] for tables in STATE_TABLES.values())
DOCS = STATE_TABLES["content"][0]


def test_day_counts_take_a_day_from_the_manifest_only_over_the_same_files_and_settings(spark):
    """The counts frame disagrees with the manifest on purpose: where the answer follows the manifest,
    the day was not counted again."""
    counts = spark.createDataFrame([(D1, 999), (D2, 7), (D3, 4)], "event_date date, n long")
    manifest = {D1: ManifestDay(5, "h", "a"), D2: ManifestDay(6, "h", "old")}
    files = {D1: "a", D2: "b", D3: "c"}
    assert day_counts(counts, D3, manifest, "h", files, "t") == {D1: 5, D2: 7, D3: 4}
    assert day_counts(counts, D2, manifest, "h", files, "t") == {D1: 5, D2: 7}
    # other settings may count other rows (e.g. which kinds are actions): every day counted
    assert day_counts(counts, D3, manifest, "other", files, "t") == {D1: 999, D2: 7, D3: 4}
    # no fingerprints, or a manifest row written before them: counted
    assert day_counts(counts, D3, manifest, "h", None, "t") == {D1: 999, D2: 7, D3: 4}
    assert day_counts(counts, D3, {D1: ManifestDay(5, "h")}, "h", files, "t") == {D1: 999, D2: 7, D3: 4}
    # a current row over other files gets the new fingerprint; a stale or rewritten one does not
    assert refingerprinted({D1: 5, D2: 6}, manifest, "h", files, set()) == [D2]
    assert refingerprinted({D1: 5, D2: 6}, manifest, "h", files, {D2}) == []
    assert refingerprinted({D1: 5, D2: 7}, manifest, "h", files, set()) == []
    assert refingerprinted({D1: 5, D2: 6}, manifest, "other", files, set()) == []
    assert refingerprinted({D1: 5, D2: 6}, manifest, "h", None, set()) == []


def _lakes(spark, tiny_lake, cfg_factory, tmp_path) -> tuple[Lake, Lake, Lake]:  # noqa: ANN001
    """The tiny lake's posts and interactions copied into tables of this test (so they can change), and two
    sets of state tables over them: one kept with fingerprints (delta-spark, whose reads prune partitions),
    one without (every day counted: the reference)."""
    raw = [f"lake.tables.{t}={tmp_path}/{t}" for t in RAW]
    src = Lake(spark, tiny_lake.cfg)

    def state(where: str, *extra: str) -> Lake:
        return Lake(spark, cfg_factory(*raw, *[f"lake.tables.{t}={tmp_path}/{where}/{t}" for t in STATE], *extra,
                                       root=tiny_lake.root))

    pruned, full = state("pruned", "lake.engine=delta-spark"), state("full")
    for t in RAW:
        stored = catalog.table(t)
        pruned.append(t, src.read(t), schema=stored.schema, partition_by=stored.partition_by)
    return src, pruned, full


def _update(lake: Lake, through: date, fingerprints: bool) -> None:
    cfg = lake.cfg
    posts, inter, sessions = lake.read("raw_posts"), lake.read("raw_interactions"), lake.read("raw_sessions")
    # raw_sessions stays the tiny lake's own
    versions = {t: lake.version(t) for t in (*RAW, "raw_sessions")}
    files = {m: day_files(lake, versions, tables) if fingerprints else None for m, tables in FINGERPRINTED.items()}
    update_behaviour_state(lake, posts, inter, through, BehaviourConfig.model_validate(cfg.features["behaviour"]),
                           files=files[DAYS])
    update_content_state(lake, posts, inter, through, ContentConfig.model_validate(cfg.features["content"]),
                         files=files[CONTENT_DAYS])
    update_network_state(lake, inter, through, NetworkConfig.from_config(cfg), files=files[NETWORK_DAYS])
    update_change_state(lake, posts, inter, sessions, through, ChangeConfig.model_validate(cfg.features["change"]),
                        files=files[CHANGE_DAYS])


def _versions(lake: Lake) -> dict[str, int | None]:
    return {t: lake.version(t) for t in STATE}


def _same_state(pruned: Lake, full: Lake) -> None:
    """Both state sets hold the same rows (the manifests but for the fingerprints), and the pruned one's
    fingerprints are those of the raw tables now."""
    for t in (PARTIALS, REPLIES, DOCS, PAIRS, CHANGE_SESSIONS, CHANGE_EVENTS):
        assertDataFrameEqual(pruned.read(t), full.read(t))
    for t in MANIFESTS:
        assertDataFrameEqual(pruned.read(t).drop("files"), full.read(t).drop("files"))
    versions = {t: pruned.version(t) for t in (*RAW, "raw_sessions")}
    assert set(FINGERPRINTED) == set(MANIFESTS)
    for t, tables in FINGERPRINTED.items():
        now = day_files(pruned, versions, tables)
        assert {r[0]: r[1] for r in pruned.read(t).select("event_date", "files").collect()} == {
            r[0]: now[r[0]] for r in pruned.read(t).select("event_date").collect()}


def test_state_kept_with_fingerprints_equals_the_state_that_counts_every_day(spark, tiny_lake, cfg_factory, tmp_path):
    """Through a first run, a re-run (writes nothing), late interactions of an old day (a new part file:
    that day counted again and rewritten) and a compaction (other files, the same rows: only the manifests'
    fingerprints change, and a re-run after it writes nothing), the state kept with fingerprints equals the
    one that counts every day."""
    src, pruned, full = _lakes(spark, tiny_lake, cfg_factory, tmp_path)
    last = src.read("raw_interactions").agg(F.max("event_date")).first()[0]
    through = last - timedelta(days=1)
    for lake, fp in ((pruned, True), (full, False)):
        _update(lake, through, fp)
    _same_state(pruned, full)
    before = _versions(pruned)
    _update(pruned, through, True)
    assert _versions(pruned) == before

    # late interactions of an old day: a new part file in that day's partition
    late_day = last - timedelta(days=4)
    inter = pruned.read("raw_interactions")
    late = (inter.where((F.col("event_date") == F.lit(late_day)) & F.col("kind").isin("comment", "like"))
            .orderBy("event_id").limit(20).withColumn("event_id", F.concat(F.lit("late-"), F.col("event_id"))))
    stored = catalog.table("raw_interactions")
    pruned.append("raw_interactions", late, schema=stored.schema, partition_by=stored.partition_by)
    old = {t: pruned.read(t).select("event_date", "files").collect() for t in MANIFESTS}
    for lake, fp in ((pruned, True), (full, False)):
        _update(lake, last, fp)
    _same_state(pruned, full)
    for t in MANIFESTS:   # the days that kept their files kept their fingerprints
        now = {r[0]: r[1] for r in pruned.read(t).select("event_date", "files").collect()}
        assert [r[0] for r in old[t] if now[r[0]] != r[1]] == [late_day]

    # a compaction: the late day's two files become one, its rows the same
    before = _versions(pruned)
    pruned.compact("raw_interactions")
    _update(pruned, last, True)
    after = _versions(pruned)
    assert {t for t in STATE if after[t] != before[t]} == set(MANIFESTS)
    assert all(after[t] == before[t] + 1 for t in MANIFESTS)
    _same_state(pruned, full)
    _update(pruned, last, True)
    assert _versions(pruned) == after


def test_a_count_of_some_days_reads_only_their_partitions(spark, tiny_lake, cfg_factory, tmp_path):
    """The filter `day_counts` puts on a grouped count reaches both scans as a partition filter (delta-spark),
    so counting the changed days does not read the others."""
    lake = Lake(spark, cfg_factory("lake.engine=delta-spark", root=tiny_lake.root))
    day = lake.read("raw_posts").agg(F.max("event_date")).first()[0]
    counts = day_document_counts(lake.read("raw_posts"), lake.read("raw_interactions"),
                                 ContentConfig.model_validate(lake.cfg.features["content"]))
    plan = counts.where(F.col("event_date").isin([day]))._jdf.queryExecution().executedPlan().toString()
    filters = re.findall(r"PartitionFilters: \[([^\]]*)\]", plan)
    assert len(filters) == 2 and all("event_date" in f and day.isoformat() in f for f in filters), plan


def test_logs_that_cannot_be_listed_leave_every_day_to_be_counted(spark, tiny_lake):
    """delta-rs refusing a table (here a version the log does not hold; on a cluster, a store it has no
    credentials for) gives no fingerprints, so the job counts every day instead of failing."""
    lake = Lake(spark, tiny_lake.cfg)
    version = lake.version("raw_posts")
    assert listed_day_files(lake, {"raw_posts": version}, {"posts": ["raw_posts"]}) == {
        "posts": day_files(lake, {"raw_posts": version}, ["raw_posts"])}
    assert len(day_files(lake, {"raw_posts": version}, ["raw_posts"])) == (
        lake.read("raw_posts").select("event_date").distinct().count())
    assert listed_day_files(lake, {"raw_posts": version + 100}, {"posts": ["raw_posts"]}) == {"posts": None}
