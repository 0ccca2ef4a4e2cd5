"""The incremental content path equals the full recomputation (content_features) for the same day, exactly."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from genuine.core import catalog
from genuine.core.errors import ContentInputError
from genuine.core.lake import Lake
from genuine.features.content import ContentConfig, content_features
from genuine.features.content_partials import (
    DAYS_SCHEMA,
    DOCS_SCHEMA,
    TEXTS_SCHEMA,
    content_from_partials,
    day_documents,
    settings_hash,
    text_rows,
)
from genuine.features.post_scores import no_scores
from genuine.features.snapshot import end_of_day
from genuine.features.state import CONTENT_DAYS, DOCS, TEXTS, update_content_state
from genuine.lib.near_dup import near_duplicates, near_duplicates_of_bands
from tests.features.test_content import _frames, _records

DAY0 = date(2026, 10, 1)


def assert_same(got: DataFrame, want: DataFrame) -> None:
    """Bit for bit: the same rows, columns, types and values (no tolerance)."""
    assert got.schema == want.schema
    g = got.toPandas().sort_values("account_id").reset_index(drop=True)
    w = want.toPandas().sort_values("account_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(g, w, check_exact=True)


def _dated(df: DataFrame, key: str, days: int = 3) -> DataFrame:
    """Spread the records over `days` UTC days by a hash of their id (the raw tables' event_date)."""
    return df.withColumn("event_date", F.date_add(F.lit(DAY0), F.pmod(F.xxhash64(key), F.lit(days)).cast("int")))


@pytest.fixture(scope="module")
def content_cfg(cfg) -> ContentConfig:
    return ContentConfig.model_validate(cfg.features["content"])


@pytest.fixture(scope="module")
def frames(spark):
    accounts, posts, inter, scores = _frames(spark, *_records())
    return accounts, _dated(posts, "post_id").cache(), _dated(inter, "event_id").cache(), scores


@pytest.mark.parametrize("update", [{}, {"near_dup": {"include_comments": False}}, {"text_fields": ["body"]},
                                    {"near_dup": {"max_bucket_size": 2, "min_shared_bands": 1}}])
def test_partials_equal_full_recomputation_at_each_day(spark, frames, content_cfg, update):
    """The oracle data of test_content spread over three days: at each day, the snapshot from the stored
    rows equals content_features over the records up to that day, bit for bit (also with a bucket cap that
    every shared bucket overflows)."""
    cfg = content_cfg.model_validate({**content_cfg.model_dump(), **update,
                                      "near_dup": {**content_cfg.near_dup.model_dump(), **update.get("near_dup", {})}})
    accounts, posts, inter, scores = frames
    docs = day_documents(posts, inter, cfg).cache()
    texts = text_rows(docs, cfg).cache()
    for d in (DAY0, DAY0 + timedelta(days=1), DAY0 + timedelta(days=2)):
        upto = F.col("event_date") <= F.lit(d)
        p, i = posts.where(upto), inter.where(upto)
        s = scores.join(p.select("post_id"), "post_id", "left_semi")
        assert_same(content_from_partials(accounts, p, s, docs.drop("norm"), texts, end_of_day(d), cfg),
                    content_features(accounts, p, i, s, cfg))


def test_day_by_day_documents_and_texts_equal_one_pass(spark, frames, content_cfg):
    """A day's rows depend on that day's records only; the texts are one row per distinct comparable text."""
    _, posts, inter, _ = frames
    one_pass = day_documents(posts, inter, content_cfg)
    by_day = None
    for d in range(3):
        sel = F.col("event_date") == F.lit(DAY0 + timedelta(days=d))
        part = day_documents(posts.where(sel), inter.where(sel), content_cfg)
        by_day = part if by_day is None else by_day.unionByName(part)
    assertDataFrameEqual(by_day, one_pass)
    assert [(f.name, f.dataType) for f in one_pass.drop("norm").schema] == [(f.name, f.dataType) for f in DOCS_SCHEMA]
    # every post and every comment is one row: nothing is dropped for being short or empty, and a row is
    # its record's (an account posting the same text twice in a day has two rows; the catalog's keys hold)
    n = posts.count() + inter.where(F.col("kind") == "comment").count()
    assert one_pass.count() == n
    assert one_pass.select(*catalog.table("content_docs").keys).distinct().count() == n
    twice = one_pass.groupBy("account_id", "source", "key", "event_date").count().where(F.col("count") > 1)
    assert twice.count() >= 1                       # the data has such repeats: the keys are tested on them
    texts = text_rows(one_pass, content_cfg)
    assert [(f.name, f.dataType) for f in texts.schema] == [(f.name, f.dataType) for f in TEXTS_SCHEMA]
    comparable = one_pass.where(F.col("chars") >= content_cfg.near_dup.min_chars).select("key").distinct()
    assertDataFrameEqual(texts.select("key"), comparable)


def test_pairs_from_stored_bands_equal_the_full_search(spark, frames, content_cfg):
    """near_duplicates_of_bands over stored band keys finds the pairs near_duplicates finds, for the default
    cap and for one so small that every shared bucket overflows to its representative."""
    _, posts, inter, _ = frames
    docs = day_documents(posts, inter, content_cfg).where(F.col("chars") >= content_cfg.near_dup.min_chars)
    for cap in (content_cfg.near_dup.max_bucket_size, 2):
        nd = content_cfg.near_dup.model_copy(update={"max_bucket_size": cap, "min_shared_bands": 1})
        cfg = content_cfg.model_copy(update={"near_dup": nd})
        want = near_duplicates(docs.select("key", "norm"), nd.lsh)
        assert want.count() >= 3                     # the data has near-duplicate pairs to find
        assertDataFrameEqual(near_duplicates_of_bands(text_rows(docs, cfg), nd.lsh), want)


def test_a_text_missing_from_the_state_is_an_error(spark, frames, content_cfg):
    accounts, posts, _, scores = frames
    inter = frames[2]
    docs = day_documents(posts, inter, content_cfg)
    texts = text_rows(docs, content_cfg)
    dropped = texts.orderBy("key").limit(1).select("key").first()["key"]
    with pytest.raises(ContentInputError, match=dropped):
        content_from_partials(accounts, posts, scores, docs.drop("norm"), texts.where(F.col("key") != dropped),
                              end_of_day(DAY0 + timedelta(days=2)), content_cfg)


def test_settings_hash_ignores_only_combine_settings(content_cfg):
    h = settings_hash(content_cfg)
    for update in ({"ai_text_threshold": 0.9}, {"sketch_lg_k": 12}, {"local_checkpoints": True}):
        assert settings_hash(content_cfg.model_copy(update=update)) == h
    for nd in ({"max_jaccard_distance": 0.1}, {"min_shared_bands": 1}, {"max_bucket_size": 4}):
        assert settings_hash(content_cfg.model_copy(
            update={"near_dup": content_cfg.near_dup.model_copy(update=nd)})) == h
    for update in ({"ngram_tokens": 2}, {"text_fields": ["body"]}):
        assert settings_hash(content_cfg.model_copy(update=update)) != h
    for nd in ({"min_chars": 30}, {"bands": 20}, {"seed": 1}, {"include_comments": False}, {"shingle_chars": 4}):
        assert settings_hash(content_cfg.model_copy(
            update={"near_dup": content_cfg.near_dup.model_copy(update=nd)})) != h


def _state(lake: Lake) -> tuple[int | None, ...]:
    return tuple(lake.version(t) for t in (DOCS, TEXTS, CONTENT_DAYS))


def _one_pass(lake: Lake, posts: DataFrame, inter: DataFrame, last: date, cfg: ContentConfig) -> None:
    """The three state tables equal a one-pass computation of every day up to `last`."""
    upto = F.col("event_date") <= F.lit(last)
    want = day_documents(posts.where(upto), inter.where(upto), cfg)
    assertDataFrameEqual(lake.read(DOCS).select(*DOCS_SCHEMA.fieldNames()), want.drop("norm"))
    assertDataFrameEqual(lake.read(TEXTS).select(*TEXTS_SCHEMA.fieldNames()), text_rows(want, cfg))
    counts = (want.groupBy("event_date").count().toPandas().sort_values("event_date"))
    assertDataFrameEqual(lake.read(CONTENT_DAYS), lake.spark.createDataFrame(
        [(d, int(n), settings_hash(cfg), None) for d, n in zip(counts["event_date"], counts["count"], strict=True)],
        DAYS_SCHEMA))


def _files(lake: Lake, where) -> set[str]:  # noqa: ANN001
    return {r[0] for r in lake.read(DOCS).where(where).select(F.input_file_name()).distinct().collect()}


def test_job_state_on_a_simulated_platform(spark, tiny_lake, cfg_factory, tmp_path):
    """update_content_state on the tiny lake (300 accounts x 7 days, real ingest): a snapshot 3 days back,
    the same again (writes nothing), the latest day (one commit per table, only the new days' docs), late
    comments of an old day (that day alone rewritten), other settings (every day and text rewritten). After
    each, the tables equal a one-pass computation and the snapshot equals the full path."""
    tables = [f"lake.tables.{t}={tmp_path}/{t}" for t in (DOCS, TEXTS, CONTENT_DAYS)]
    cfg = cfg_factory(*tables, root=tiny_lake.root)
    lake = Lake(spark, cfg)
    accounts, posts, inter = (lake.read(t) for t in ("raw_accounts", "raw_posts", "raw_interactions"))
    ccfg = ContentConfig.model_validate(cfg.features["content"])
    last = inter.agg(F.max("event_date")).first()[0]

    def check(upto: date, interactions: DataFrame, c: ContentConfig) -> None:
        docs, texts = lake.read(DOCS), lake.read(TEXTS)
        sel = F.col("event_date") <= F.lit(upto)
        p, i = posts.where(sel), interactions.where(sel)
        assert_same(content_from_partials(accounts, p, no_scores(p), docs, texts, end_of_day(upto), c),
                    content_features(accounts, p, i, no_scores(p), c))

    update_content_state(lake, posts, inter, last - timedelta(days=3), ccfg)
    assert lake.read(DOCS).agg(F.max("event_date")).first()[0] == last - timedelta(days=3)
    _one_pass(lake, posts, inter, last - timedelta(days=3), ccfg)
    check(last - timedelta(days=3), inter, ccfg)
    versions = _state(lake)
    update_content_state(lake, posts, inter, last - timedelta(days=3), ccfg)
    assert _state(lake) == versions
    old_files = _files(lake, F.col("event_date") <= F.lit(last - timedelta(days=3)))
    update_content_state(lake, posts, inter, last, ccfg)
    assert _state(lake) == tuple(v + 1 for v in versions)
    assert _files(lake, F.col("event_date") <= F.lit(last - timedelta(days=3))) == old_files
    _one_pass(lake, posts, inter, last, ccfg)
    check(last, inter, ccfg)

    # a late batch: three comments of an earlier day, re-sent under new ids, one of them a new text
    late_day = last - timedelta(days=4)
    late = (inter.where((F.col("event_date") == F.lit(late_day)) & (F.col("kind") == "comment"))
            .orderBy("event_id").limit(3)
            .withColumn("event_id", F.concat(F.lit("late-"), F.col("event_id")))
            .withColumn("body", F.concat(F.col("body"), F.lit(" and one more line that nobody wrote before"))))
    with_late = inter.unionByName(late)
    others = _files(lake, F.col("event_date") != F.lit(late_day))
    update_content_state(lake, posts, with_late, last, ccfg)
    assert _files(lake, F.col("event_date") != F.lit(late_day)) == others
    _one_pass(lake, posts, with_late, last, ccfg)
    check(last, with_late, ccfg)

    other = ccfg.model_copy(update={"near_dup": ccfg.near_dup.model_copy(update={"shingle_chars": 4})})
    update_content_state(lake, posts, with_late, last, other)
    _one_pass(lake, posts, with_late, last, other)
    check(last, with_late, other)
    before = _state(lake)
    update_content_state(lake, posts, with_late, last, other)
    assert _state(lake) == before
