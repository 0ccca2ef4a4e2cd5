"""Content features: what an account posts, how machine-like it reads, and who else posts the same.

Four groups, all per account:

- Text statistics (genuine/lib/text_stats.py): per post, then averaged over the account's posts that have
  text. A post's text is its `text_fields` (title and body by default) joined by a newline.
- Template reuse: share of the account's posts whose normalized text (lower case, numbers -> 0, only
  letters and digits) equals that of another of its own posts, or is a MinHash near-duplicate of one
  (near-duplicates need `near_dup.min_chars` normalized characters; shorter texts count only when equal).
  The near-duplicate pairs are those of the cross-account pass below (`own_pairs`), so a pair of its
  own posts that LSH links only through an over-full bucket's representative is not counted.
- AI-text likelihood: the text detector's `p_ai` per post (models/text_detector.py) averaged over the
  account's POSTS (comments are not scored), and the share of scored posts above `ai_text_threshold`.
  Scores are joined to `posts` by post_id, so a score of a post after the snapshot is never used.
- Near-duplicates across accounts and media reuse, below.

Near-duplicate text across accounts (MinHash LSH)
-------------------------------------------------
Corpus: posts, plus comments when `near_dup.include_comments` (comment farms paste the same lines).
A document takes part only if its normalized text has at least `near_dup.min_chars` characters: very
short texts ("好看!", "nice") are shared by chance and would make giant, meaningless clusters.
Exact copies collapse first: documents are keyed by sha2 of their normalized text, and LSH runs over
DISTINCT texts. A slogan pasted by a million accounts is one row, not a million-squared pairs. The
search itself (shingles, MinHash, banding with `min_shared_bands`, the bucket cap, the exact Jaccard
check, and what each knob costs and buys, measured at 1M accounts) is genuine/lib/near_dup.py; its
knobs are `near_dup` in the config.

Per account, with the account's own (eligible) documents:
- `near_dup_other_accounts`: distinct OTHER accounts that posted a text equal or near-identical to one
  of its texts (union over all its texts);
- `near_dup_cluster_accounts`: for each of its texts, the distinct accounts (itself included) among that
  text and its near-duplicates, ONE hop (not connected components: genuine/lib/graph.py
  `connected_components` can replace this later); the maximum over its texts. 1 = nobody else posts its
  texts; 0 = it has no text long enough to compare.
Both are distinct counts over possibly huge account sets. To keep them linear in documents + links
(a viral text must not expand into accounts x accounts pairs) they are unions of HyperLogLog sketches
(`hll_sketch_agg` / `hll_union_agg`, Apache DataSketches): EXACT while a sketch holds fewer than about
3/32 * 2^`sketch_lg_k` accounts (measured here: exact up to 1,537 accounts with the default 14, up to 392
with 12), relative standard error ~1.04/sqrt(2^lg_k) (~0.8% at 14) above.

Media
-----
- `media_phash_reuse_share`: share of the account's media items (with a phash) whose phash is also used
  by another account. Exact phash equality only (no Hamming-distance banding): re-encoded or cropped
  copies with a nearby hash are missed.
- `media_phash_other_accounts`: distinct other accounts sharing any of its phashes (HLL union as above).
- `media_undeclared_aigc_share`: share of ALL its media items that carry the implicit AI-generated label
  (aigc_label = true) on a post not declared as AI (declared_ai not true) by an account that did not
  declare AI assistance (declared_ai_assisted not true). NULL flags count as "not declared".

Accounts without posts get 0 for every count and NULL for every mean or share.
"""

from __future__ import annotations

import logging
from functools import reduce
from typing import Literal

from pydantic import Field, model_validator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from genuine.core.config import Strict
from genuine.core.errors import ContentInputError
from genuine.features.registry import Family, Feature, count, ratio
from genuine.lib import text_stats as ts
from genuine.lib.checkpoint import materialize
from genuine.lib.near_dup import LshParams, near_duplicates, own_pairs
from genuine.lib.ordered import ordered_avg

log = logging.getLogger(__name__)

FAMILY: Family = "content"


class NearDupConfig(Strict):
    """`features.content.near_dup`: which texts are compared, and the knobs of the search (lib/near_dup.py)."""

    include_comments: bool = Field(True, description="comments join posts in the cross-account corpus")
    min_chars: int = Field(20, ge=1, description="normalized characters a text needs to be compared")
    shingle_chars: int = Field(3, ge=1, description="k of the character k-shingles")
    hash_features: int = Field(1 << 20, ge=1024, le=1 << 30, description="feature-index space of the shingle "
                               "sets for MinHash (hashing trick: shingle hash mod this)")
    bands: int = Field(30, ge=1, description="LSH bands (OR)")
    rows_per_band: int = Field(6, ge=1, description="min-hashes ANDed into one band key")
    max_jaccard_distance: float = Field(0.3, ge=0.0, lt=1.0, description="near-duplicate when <= this")
    min_shared_bands: int = Field(2, ge=1, description="bands a pair must share to become a candidate")
    max_bucket_size: int = Field(16, ge=2, description="larger band buckets link to a representative only")
    seed: int = Field(20261001, description="MinHashLSH seed: same seed, same buckets")

    @model_validator(mode="after")
    def _lengths(self) -> NearDupConfig:
        if self.min_chars < self.shingle_chars:
            raise ValueError("near_dup.min_chars must be >= near_dup.shingle_chars")
        if self.min_shared_bands > self.bands:
            raise ValueError("near_dup.min_shared_bands must be <= near_dup.bands")
        return self

    @property
    def lsh(self) -> LshParams:
        """The knobs of the search itself, for genuine/lib/near_dup.py."""
        return LshParams(shingle_chars=self.shingle_chars, hash_features=self.hash_features, bands=self.bands,
                         rows_per_band=self.rows_per_band, min_shared_bands=self.min_shared_bands,
                         max_bucket_size=self.max_bucket_size, max_jaccard_distance=self.max_jaccard_distance,
                         seed=self.seed)


class ContentConfig(Strict):
    """`features.content` in conf/base.yml."""

    text_fields: list[Literal["title", "body"]] = Field(default_factory=lambda: ["title", "body"], min_length=1)
    ngram_tokens: int = Field(3, ge=1, description="n of the repeated token n-gram rate")
    ai_text_threshold: float = Field(0.5, ge=0.0, le=1.0, description="p_ai above this counts as AI text")
    sketch_lg_k: int = Field(14, ge=4, le=21, description="log2 K of the HLL sketches of distinct accounts")
    local_checkpoints: bool = Field(False, description="materialize intermediates with executor-local "
                                    "checkpoints (faster, not fault tolerant)")
    near_dup: NearDupConfig = Field(default_factory=NearDupConfig)


FEATURES: list[Feature] = [
    count("text_posts", FAMILY, "posts with some text (title or body) up to the snapshot", unit="posts",
          direction=None),
    Feature("text_length_mean", FAMILY, "characters", "mean length of a post's text in characters "
            "(code points)", direction=None),
    ratio("lexical_diversity_mean", FAMILY, "mean over posts of distinct tokens / tokens (token = one Han "
          "character or one Latin word)", direction="lower"),
    ratio("repeated_ngram_rate_mean", FAMILY, "mean over posts of the share of token n-grams that repeat "
          "within the same post"),
    ratio("punctuation_rate_mean", FAMILY, "mean over posts of punctuation characters per character",
          unit="per character", direction=None),
    ratio("emoji_rate_mean", FAMILY, "mean over posts of emoji per character", unit="per character",
          direction=None),
    ratio("chinese_share_mean", FAMILY, "mean over posts of the share of tokens that are Han characters",
          direction=None),
    ratio("template_reuse_share", FAMILY, "share of posts whose normalized text equals or nearly "
          "duplicates (MinHash) another post of the same account"),
    Feature("ai_text_p_mean", FAMILY, "probability", "mean AI-text probability of the account's posts "
            "(text detector)"),
    ratio("ai_text_high_share", FAMILY, "share of scored posts whose AI-text probability is above the "
          "configured threshold"),
    count("near_dup_other_accounts", FAMILY, "distinct other accounts that posted text equal or near-identical "
          "(MinHash Jaccard) to one of its posts or comments", unit="accounts"),
    count("near_dup_cluster_accounts", FAMILY, "largest number of accounts (itself included) among one of its "
          "texts and that text's near-duplicates (1 hop); 0 without comparable text", unit="accounts"),
    ratio("media_phash_reuse_share", FAMILY, "share of its media items whose perceptual hash another account "
          "also used"),
    count("media_phash_other_accounts", FAMILY, "distinct other accounts that used one of its media "
          "perceptual hashes", unit="accounts"),
    ratio("media_undeclared_aigc_share", FAMILY, "share of its media items carrying an implicit AI-generated "
          "label on a post and account that did not declare AI"),
]

CONTENT_SCHEMA = StructType(
    [StructField("account_id", StringType(), True)] + [StructField(f.name, f.dtype, True) for f in FEATURES]
)
# What content_features expects from the text detector (models/text_detector.score_posts): one row per post.
POST_SCORES_SCHEMA = StructType([StructField("post_id", StringType(), True),
                                 StructField("account_id", StringType(), True),
                                 StructField("p_ai", DoubleType(), True)])


def content_features(accounts: DataFrame, posts: DataFrame, interactions: DataFrame,
                     post_scores: DataFrame, cfg: ContentConfig) -> DataFrame:
    """One row per account of `accounts`: account_id + the FEATURES columns, in registry order and dtype.

    Inputs are already cut at the snapshot time by the caller (RAW_ACCOUNTS / RAW_POSTS /
    RAW_INTERACTIONS columns; post_scores as POST_SCORES_SCHEMA).
    """
    _require(accounts, ["account_id", "declared_ai_assisted"], "accounts")
    _require(posts, ["post_id", "account_id", "media", "declared_ai", *cfg.text_fields], "posts")
    _require(interactions, ["actor_id", "kind", "body"], "interactions")
    _require(post_scores, ["post_id", "p_ai"], "post_scores")
    nd = cfg.near_dup
    log.info("content features: LSH %d bands x %d rows (>= %d shared) over %d-shingles, Jaccard distance "
             "<= %.2f, min %d chars, bucket cap %d", nd.bands, nd.rows_per_band, nd.min_shared_bands,
             nd.shingle_chars, nd.max_jaccard_distance, nd.min_chars, nd.max_bucket_size)

    # Each intermediate below feeds several parts; materialized once (lib/checkpoint.materialize: a
    # checkpoint, nothing left cached) instead of recomputed per consumer, which tripled the family's cost.
    texts = materialize(post_texts(posts, cfg), local_checkpoints=cfg.local_checkpoints)
    docs = near_dup_documents(texts, interactions, cfg)
    pairs = materialize(near_duplicates(docs, nd.lsh, local_checkpoints=cfg.local_checkpoints),
                        local_checkpoints=cfg.local_checkpoints)
    post_keys = texts.select("account_id", "key", F.char_length("norm").alias("chars"))
    return combine_content(accounts, posts, post_scores, post_text_stats(texts, cfg), post_keys,
                           docs.select("account_id", "key").distinct(), pairs, cfg)


def combine_content(accounts: DataFrame, posts: DataFrame, post_scores: DataFrame, per_post: DataFrame,
                    post_keys: DataFrame, members: DataFrame, pairs: DataFrame, cfg: ContentConfig) -> DataFrame:
    """The family from its per-post parts, shared by the full and the incremental path.

    per_post: POST_STATS per post with text; post_keys: (account_id, key, chars) per post (key NULL for an
    empty normalized text); members: distinct (account_id, key) of the near-duplicate corpus; pairs: its
    verified near-duplicate pairs.
    """
    own_texts = post_keys.where(F.col("chars") >= cfg.near_dup.min_chars).select("account_id", "key").distinct()
    parts = [
        text_features(per_post),
        _template_reuse(post_keys, own_pairs(own_texts, pairs)),
        _ai_text(posts, post_scores, cfg),
        _near_dup_reach(members, pairs, cfg.sketch_lg_k),
        _media(posts, accounts, cfg.sketch_lg_k),
    ]
    # Each part has at most one row per account: stack them and take each column's only non-null value,
    # one shuffle instead of a chain of joins.
    stacked = reduce(lambda acc, part: acc.unionByName(part, allowMissingColumns=True), parts)
    merged = stacked.groupBy("account_id").agg(*[F.max(f.name).alias(f.name) for f in FEATURES])
    base = accounts.select("account_id").where(F.col("account_id").isNotNull())
    return base.join(merged, "account_id", "left").select("account_id", *[_final(f) for f in FEATURES])


def post_texts(posts: DataFrame, cfg: ContentConfig,
               keep: tuple[str | Column, ...] = ("post_id", "account_id")) -> DataFrame:
    """(`keep`, text, norm, key): the text of each post, its normalized form and that form's key."""
    text = ts.post_text(*[F.col(c) for c in cfg.text_fields])
    return (posts.select(*keep, text.alias("text"))
            .withColumn("norm", ts.normalize(F.col("text")))
            .withColumn("key", F.when(F.col("norm") != "", F.sha2("norm", 256))))


def comment_texts(interactions: DataFrame, keep: tuple[str | Column, ...] = ()) -> DataFrame:
    """(account_id, `keep`, norm, key) of every comment: its author, normalized body and that body's key."""
    return (interactions.where(F.col("kind") == "comment")
            .select(F.col("actor_id").alias("account_id"), *keep, ts.normalize(F.col("body")).alias("norm"))
            .withColumn("key", F.sha2("norm", 256)))


def near_dup_documents(texts: DataFrame, interactions: DataFrame, cfg: ContentConfig) -> DataFrame:
    """(account_id, key, norm) of every post and (optionally) comment long enough to compare."""
    docs = texts.select("account_id", "key", "norm")
    if cfg.near_dup.include_comments:
        docs = docs.unionByName(comment_texts(interactions))
    return docs.where((F.char_length("norm") >= cfg.near_dup.min_chars) & F.col("account_id").isNotNull())


# The per-post text statistics that `text_features` averages per account (also stored per post by the
# incremental path, features/content_partials.py).
POST_STATS = ("len", "div", "rep", "punct", "emoji", "han")


def post_text_stats(texts: DataFrame, cfg: ContentConfig, keep: tuple[str, ...] = ("account_id",)) -> DataFrame:
    """`keep` + POST_STATS per post with some text (`texts` as from post_texts)."""
    # Tokens once per post (the optimizer does not inline an expensive column used three times).
    with_tokens = texts.where(F.col("text").isNotNull()).select(
        *keep, "text", ts.tokens(F.col("text")).alias("_tok"))
    tok = F.col("_tok")
    return with_tokens.select(
        *keep,
        F.char_length("text").alias("len"),
        ts.lexical_diversity(tok).alias("div"),
        ts.repeated_ngram_rate(tok, cfg.ngram_tokens).alias("rep"),
        ts.char_rate(F.col("text"), ts.PUNCT).alias("punct"),
        ts.char_rate(F.col("text"), ts.EMOJI).alias("emoji"),
        ts.han_token_share(F.col("text"), tok).alias("han"),
    )


def text_features(per_post: DataFrame) -> DataFrame:
    """Per account: its posts with text and the means of their POST_STATS."""
    return per_post.groupBy("account_id").agg(
        F.count(F.lit(1)).alias("text_posts"),
        ordered_avg("len").alias("text_length_mean"),
        ordered_avg("div").alias("lexical_diversity_mean"),
        ordered_avg("rep").alias("repeated_ngram_rate_mean"),
        ordered_avg("punct").alias("punctuation_rate_mean"),
        ordered_avg("emoji").alias("emoji_rate_mean"),
        ordered_avg("han").alias("chinese_share_mean"),
    )


def _template_reuse(post_keys: DataFrame, own_pairs: DataFrame) -> DataFrame:
    """Share of posts with normalized text that equal or nearly duplicate another post of the account."""
    posts = post_keys.where(F.col("key").isNotNull()).select("account_id", "key")
    equal = (posts.groupBy("account_id", "key").agg(F.count(F.lit(1)).alias("_c"))
             .where(F.col("_c") >= 2).select("account_id", "key"))
    near = own_pairs.select("account_id", F.col("key_a").alias("key")).unionByName(
        own_pairs.select("account_id", F.col("key_b").alias("key")))
    reused = equal.unionByName(near).distinct().withColumn("_reused", F.lit(1.0))
    return (posts.join(reused, ["account_id", "key"], "left")
            .groupBy("account_id")
            .agg(F.avg(F.coalesce("_reused", F.lit(0.0))).alias("template_reuse_share")))


def _ai_text(posts: DataFrame, post_scores: DataFrame, cfg: ContentConfig) -> DataFrame:
    """Detector scores of the account's posts; a score whose post is not in `posts` (after the snapshot) is ignored."""
    scored = (posts.select("post_id", "account_id")
              .join(post_scores.select("post_id", "p_ai"), "post_id")
              .where(F.col("p_ai").isNotNull()))
    return scored.groupBy("account_id").agg(
        ordered_avg("p_ai").alias("ai_text_p_mean"),
        F.avg((F.col("p_ai") > cfg.ai_text_threshold).cast("double")).alias("ai_text_high_share"),
    )


def _near_dup_reach(members: DataFrame, pairs: DataFrame, lg_k: int) -> DataFrame:
    """Per account: other accounts posting the same/near texts, and the largest 1-hop text cluster."""
    reach = _shared_key_reach(members, pairs, lg_k)
    has_docs = members.select("account_id").distinct().withColumn("_has", F.lit(True))
    return (has_docs.join(reach, "account_id", "left").select(
        "account_id",
        F.coalesce("_others", F.lit(0)).alias("near_dup_other_accounts"),
        F.coalesce("_cluster", F.lit(1)).alias("near_dup_cluster_accounts")))


def _media(posts: DataFrame, accounts: DataFrame, lg_k: int) -> DataFrame:
    items = (posts.select("account_id", "declared_ai", F.explode("media").alias("_m"))
             .where(F.col("_m").isNotNull() & F.col("account_id").isNotNull())
             .join(accounts.select("account_id", "declared_ai_assisted"), "account_id", "left")
             .select("account_id", F.lower(F.col("_m.phash")).alias("key"),
                     (F.coalesce(F.col("_m.aigc_label"), F.lit(False))
                      & ~F.coalesce("declared_ai", F.lit(False))
                      & ~F.coalesce("declared_ai_assisted", F.lit(False))).cast("double").alias("_undeclared")))
    hashed = items.where(F.col("key").isNotNull())
    members = hashed.select("account_id", "key").distinct()
    users = members.groupBy("key").agg(F.count(F.lit(1)).alias("_users"))
    reuse = (hashed.join(users, "key").groupBy("account_id")
             .agg(F.avg((F.col("_users") >= 2).cast("double")).alias("media_phash_reuse_share")))
    undeclared = items.groupBy("account_id").agg(F.avg("_undeclared").alias("media_undeclared_aigc_share"))
    others = _shared_key_reach(members, None, lg_k).select(
        "account_id", F.col("_others").alias("media_phash_other_accounts"))
    return undeclared.join(reuse, "account_id", "left").join(others, "account_id", "left")


def _shared_key_reach(members: DataFrame, pairs: DataFrame | None, lg_k: int) -> DataFrame:
    """Accounts reached through shared keys, as HLL sketch unions (linear in members + links).

    members: distinct (account_id, key). A key's reach is the accounts using it or (with `pairs`) one
    of its linked keys. Returns (account_id, _others, _cluster) only for accounts with at least one key
    shared with another account or linked: _others = |union of its keys' reach| - 1 (itself),
    _cluster = max over its keys of |reach|.
    """
    per_key = members.groupBy("key").agg(F.count(F.lit(1)).alias("_users"),
                                         F.hll_sketch_agg("account_id", lg_k).alias("_sk"))
    shared = per_key.where(F.col("_users") >= 2).select(F.col("key").alias("_src"), F.col("key").alias("_dst"))
    if pairs is not None:
        links = pairs.select(F.col("key_a").alias("_src"), F.col("key_b").alias("_dst"))
        links = links.unionByName(links.select(F.col("_dst").alias("_src"), F.col("_src").alias("_dst")))
        linked = links.select(F.col("_src"), F.col("_src").alias("_dst"))
        edges = links.unionByName(shared).unionByName(linked).distinct()
    else:
        edges = shared
    reach = (edges.join(per_key.select(F.col("key").alias("_dst"), "_sk"), "_dst")
             .groupBy("_src").agg(F.hll_union_agg("_sk").alias("_sk"))
             .select(F.col("_src").alias("key"), "_sk", F.hll_sketch_estimate("_sk").alias("_size")))
    return (members.join(reach, "key").groupBy("account_id")
            .agg(F.hll_union_agg("_sk").alias("_sk"), F.max("_size").alias("_cluster"))
            .select("account_id", (F.hll_sketch_estimate("_sk") - 1).alias("_others"), "_cluster"))


def _final(feature: Feature) -> Column:
    """Counts are 0 for accounts without the activity; when() rather than coalesce() keeps the column
    nullable as declared (Delta would otherwise make it NOT NULL)."""
    col = F.col(feature.name)
    if feature.is_count:
        col = F.when(col.isNull(), F.lit(0)).otherwise(col)
    return col.cast(feature.dtype).alias(feature.name)


def _require(df: DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ContentInputError(f"{name} lacks column(s) {missing}; has {df.columns}")
