"""Incremental content features: each post and comment is read, normalized and measured once.

`content_features` re-reads every post and comment of the history for every snapshot: it normalizes each
text, computes each post's text statistics, and shingles and MinHashes every distinct text again. All of
that is a function of one record (or one text) alone, so here it is done once, on the UTC day the record
belongs to, and stored:

- `content_docs`, one row per post and (with `near_dup.include_comments`) per comment, partitioned by the
  UTC day: who wrote it, the key of its normalized text (sha2, as the full path keys it), that text's
  length, and for a post its text statistics (`POST_STATS`);
- `content_texts`, one row per distinct normalized text long enough to compare: the text and its LSH band
  keys (`minhash_band_arrays`), which depend on the text and the LSH settings only;
- `content_days`, the manifest: per UTC day, the posts and comments it held when its rows were computed
  and the hash of the settings used.

A snapshot for day D (`content_from_partials`) reads the rows of the days <= D instead of the raw texts,
and runs what is not a function of one record on them: the candidate pairs of the band buckets, the exact
check of the candidates (whose texts alone are shingled again), template reuse, the reach sketches. The
AI-text scores and the media signals are read from `post_scores` and `posts` as in the full path (no text
work). Every stored value is what the full path computes for the same record, and the combination is the
same code (`combine_content`), so the snapshot equals the full recomputation exactly; the text ids and
their collision check run on the snapshot's own texts, as in the full path
(tests/features/test_content_partials.py).

What stays a recomputation per snapshot, and why: near-duplicate pairs are not a sum over days. A band
bucket's size decides whether it emits all its pairs or a star to its representative (the skew cap,
genuine/lib/near_dup.py), so a text arriving today can change the pairs of texts from last month. The
candidate pairs are therefore drawn again from the stored band keys of all the snapshot's texts; what is
saved is everything before them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from genuine.core.errors import ContentInputError
from genuine.features.behaviour_partials import snapshot_day
from genuine.features.content import (
    POST_STATS,
    ContentConfig,
    combine_content,
    comment_texts,
    post_text_stats,
    post_texts,
)
from genuine.lib.checkpoint import materialize
from genuine.lib.near_dup import (
    MissingBandsError,
    minhash_band_arrays,
    near_duplicates_of_bands,
    shingle_sets,
)

log = logging.getLogger(__name__)

POST, COMMENT = "post", "comment"

# The `content_docs` table (genuine.core.catalog names this module as the schema's owner).
DOCS_SCHEMA = StructType(
    [StructField("account_id", StringType(), True),
     StructField("source", StringType(), True),             # POST or COMMENT
     StructField("record_id", StringType(), True),          # its post_id or event_id
     StructField("key", StringType(), True),                # sha2 of the normalized text; NULL: a post without one
     StructField("chars", IntegerType(), True)]             # characters of the normalized text
    + [StructField(c, IntegerType() if c == "len" else DoubleType(), True) for c in POST_STATS]  # posts with text
    + [StructField("event_date", DateType(), True)]
)

# The `content_texts` table: one row per distinct comparable normalized text.
TEXTS_SCHEMA = StructType([
    StructField("key", StringType(), True),
    StructField("norm", StringType(), True),
    StructField("bands", ArrayType(LongType(), False), True),   # band keys are hashes: never null
])

# The `content_days` manifest: one row per UTC day `content_docs` holds.
DAYS_SCHEMA = StructType([
    StructField("event_date", DateType(), True),
    StructField("docs", LongType(), True),                  # the day's posts + comments when computed
    StructField("config_hash", StringType(), True),         # settings_hash of the ContentConfig used
    StructField("files", StringType(), True),               # fingerprint of the raw part files counted (state.day_files)
])

# Settings read only when a snapshot combines the stored rows: changing them rewrites nothing.
COMBINE_ONLY = {"ai_text_threshold", "sketch_lg_k", "local_checkpoints"}
COMBINE_ONLY_NEAR_DUP = {"max_jaccard_distance", "min_shared_bands", "max_bucket_size"}


def settings_hash(cfg: ContentConfig) -> str:
    """Stable hash of the settings the stored rows depend on (every setting not named as combine-only)."""
    blob = cfg.model_dump(mode="json", exclude=COMBINE_ONLY)
    blob["near_dup"] = {k: v for k, v in blob["near_dup"].items() if k not in COMBINE_ONLY_NEAR_DUP}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def day_documents(posts: DataFrame, interactions: DataFrame, cfg: ContentConfig) -> DataFrame:
    """DOCS_SCHEMA rows plus `norm` for the given posts and comments (e.g. one day's); a row depends on its
    own record only."""
    texts = (post_texts(posts, cfg, keep=("account_id", F.col("post_id").alias("record_id"), "event_date"))
             .withColumn("chars", F.char_length("norm")))
    keep = ("account_id", "record_id", "key", "norm", "chars", "event_date")
    with_stats = post_text_stats(texts, cfg, keep=keep)
    without = texts.where(F.col("text").isNull()).select(*keep, *[F.lit(None).alias(c) for c in POST_STATS])
    docs = with_stats.unionByName(without).withColumn("source", F.lit(POST))
    if cfg.near_dup.include_comments:
        comments = (comment_texts(interactions, keep=(F.col("event_id").alias("record_id"), "event_date"))
                    .select("account_id", "record_id", "key", "norm", F.char_length("norm").alias("chars"), "event_date",
                            *[F.lit(None).alias(c) for c in POST_STATS])
                    .withColumn("source", F.lit(COMMENT)))
        docs = docs.unionByName(comments)
    return docs.select(*[F.col(f.name).cast(f.dataType) for f in DOCS_SCHEMA.fields], "norm")


def day_document_counts(posts: DataFrame, interactions: DataFrame, cfg: ContentConfig) -> DataFrame:
    """(event_date, docs): the records per UTC day that `day_documents` turns into rows."""
    day = F.col("event_date")
    records = posts.select(day)
    if cfg.near_dup.include_comments:
        records = records.union(interactions.where(F.col("kind") == "comment").select(day))
    return records.where(day.isNotNull()).groupBy(day).agg(F.count(F.lit(1)).alias("docs"))


def text_rows(docs: DataFrame, cfg: ContentConfig) -> DataFrame:
    """TEXTS_SCHEMA rows for the distinct comparable texts of `docs` (DOCS_SCHEMA + norm)."""
    comparable = docs.where(F.col("chars") >= cfg.near_dup.min_chars).select("key", "norm").distinct()
    bands = minhash_band_arrays(shingle_sets(comparable, cfg.near_dup.lsh), cfg.near_dup.lsh)
    return comparable.join(bands, "key").select(*TEXTS_SCHEMA.fieldNames())


def content_from_partials(accounts: DataFrame, posts: DataFrame, post_scores: DataFrame, docs: DataFrame,
                          texts: DataFrame, as_of: datetime, cfg: ContentConfig) -> DataFrame:
    """CONTENT_SCHEMA rows equal to content_features(accounts, posts, interactions, post_scores, cfg) on inputs
    cut at `as_of` (the end of a UTC day), from the stored rows of the days up to it. `posts` and
    `post_scores` are already cut (the AI-text and media parts read them as the full path does)."""
    day = snapshot_day(as_of)
    nd = cfg.near_dup
    d = docs.where(F.col("event_date") <= F.lit(day))
    post_docs = d.where(F.col("source") == POST)
    per_post = post_docs.where(F.col("len").isNotNull()).select("account_id", *POST_STATS)
    members = (d.where((F.col("chars") >= nd.min_chars) & F.col("account_id").isNotNull())
               .select("account_id", "key").distinct())
    # left, not semi: a key the texts table lacks reaches the search with NULL bands, which raises
    corpus = members.select("key").distinct().join(texts, "key", "left")
    try:
        pairs = materialize(near_duplicates_of_bands(corpus, nd.lsh, local_checkpoints=cfg.local_checkpoints),
                            local_checkpoints=cfg.local_checkpoints)
    except MissingBandsError as exc:
        raise ContentInputError(f"content_texts is incomplete for the snapshot's documents ({exc}): rebuild "
                                "the content state (drop the content_* tables)") from None
    return combine_content(accounts, posts, post_scores, per_post, post_docs.select("account_id", "key", "chars"),
                           members, pairs, cfg)
