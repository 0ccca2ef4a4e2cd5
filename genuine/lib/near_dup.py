"""Near-duplicate text at scale: MinHash LSH over character shingles, banded, verified exactly.

Input: distinct texts as (key, norm), `norm` a normalized text (genuine/lib/text_stats.normalize) long
enough to have a shingle. Output: the verified pairs (key_a, key_b), key_a < key_b, whose Jaccard
distance of shingle sets is <= `max_jaccard_distance`. The caller chooses the corpus and keys the texts
(features/content.py: posts and comments, keyed by sha2 of the normalized text, so exact copies are one
text before any of this runs). The knobs are an `LshParams` (features.content.near_dup in the config).

1. Character `shingle_chars`-shingles, as 64-bit hashes -> feature indices (hash mod `hash_features`)
   -> MLlib's MinHash family with `bands * rows_per_band` functions (seeded, so reproducible),
   evaluated per Arrow batch in NumPy with MLlib's own coefficients (`minhash_signatures`: the same
   values as MinHashLSHModel.transform, ~10x cheaper).
2. Banding instead of `approxSimilarityJoin`: MLlib's join makes a candidate of any pair that agrees on
   ONE min-hash, i.e. with probability ~ their Jaccard similarity per table, so unrelated texts sharing
   common shingles would flood the join at scale. We AND `rows_per_band` hashes into a band key, and a
   pair becomes a candidate when it shares a bucket in at least `min_shared_bands` of the `bands` bands
   (MMDS ch. 3 with a threshold on the OR): candidate probability P(Binomial(b, s^r) >= m). The
   defaults (30 bands x 6 rows, m = 2) give 0.883 at Jaccard s = 0.7, 0.979 at 0.75, 0.9987 at 0.8, but
   0.080 at s = 0.5, 0.007 at 0.4 and ~0 below. The curve is that steep because most pairs that share
   a bucket are only loosely similar (texts filled in from the same phrase banks and templates). Measured
   at 1M simulated accounts (6.9M distinct texts, 206M band rows): with m = 1 there were 140M distinct
   candidates, of which 5 % had s >= 0.7 and the median s was 0.42; verifying them moved ~600 bytes of
   shingle set per candidate twice through a shuffle and filled the disk. m = 2 removes the candidates
   that share a single band by chance (x4.7 fewer at s = 0.5, x17 at 0.4) and costs nothing extra: the
   per-pair band count is the aggregation that de-duplicates the candidates anyway. The price is recall
   near the threshold (~10 % of the pairs at s = 0.7, ~2 % at 0.75, ~0.1 % at 0.8); at 1M accounts it
   gave 16.4M candidates instead of 140M and 4.97M verified pairs instead of ~7.0M (estimated from a
   0.1 % sample of the m = 1 candidates: 80 % of their verified pairs had 0.7 <= s < 0.8, the part of the
   curve that gives way). Clearly copied texts (s >= 0.8) are all but always found, and exact copies
   need no LSH at all (the caller's keys). Every candidate is then verified with the exact
   Jaccard distance of the shingle sets against `max_jaccard_distance`: no false positives; a true pair
   is missed only with the LSH miss probability above.
3. Skew cap: a band bucket holding more than `max_bucket_size` texts does not emit all its pairs; each
   member is compared with the bucket's representative (its smallest id, a hash of its key: `text_ids`)
   only. Cost stays linear in such a bucket; near-duplicate links inside it are then a star, which
   connected components would still join into one cluster, and true near-duplicates usually also meet
   in a smaller bucket of another band. So raw candidates per text are at most bands x max_bucket_size: linear in texts. The
   cap is 16: at 1M accounts the buckets of 17-64 texts alone emitted 250M of the 400M raw pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.ml.feature import MinHashLSH
from pyspark.ml.linalg import Vectors
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StructField, StructType

from genuine.lib import text_stats as ts
from genuine.lib.checkpoint import materialize

log = logging.getLogger(__name__)

# org.apache.spark.ml.feature.MinHashLSH.HASH_PRIME (not reachable from Python): the modulus of MLlib's
# MinHash family, needed to evaluate that family outside the JVM (minhash_signatures).
MLLIB_HASH_PRIME = 2038074743


@dataclass(frozen=True)
class LshParams:
    """The cost and accuracy knobs of the search (module docstring); validated where they are configured."""

    shingle_chars: int          # k of the character k-shingles
    hash_features: int          # feature-index space of the shingle sets (shingle hash mod this)
    bands: int                  # LSH bands (OR)
    rows_per_band: int          # min-hashes ANDed into one band key
    min_shared_bands: int       # bands a pair must share to become a candidate
    max_bucket_size: int        # larger band buckets link to their representative only
    max_jaccard_distance: float  # a verified pair is at most this far apart
    seed: int                   # MinHashLSH seed: same seed, same buckets


def near_duplicates(texts: DataFrame, p: LshParams, *, local_checkpoints: bool = False) -> DataFrame:
    """(key, norm) rows, possibly repeated -> verified near-duplicate pairs (key_a, key_b), key_a < key_b.

    The LSH stage works on a 64-bit id per distinct text instead of its key (e.g. a 64-character hex
    digest): candidate pairs are shuffled, de-duplicated and joined several times, and two longs are a
    fraction of two strings. Only the verified pairs are mapped back to keys. Intermediates read more
    than once are materialized (genuine/lib/checkpoint.py).
    """
    ids = text_ids(texts.select("key", "norm").distinct(), local_checkpoints=local_checkpoints)
    shingles = materialize(shingle_sets(ids.select(F.col("_id").alias("key"), "norm"), p),
                           local_checkpoints=local_checkpoints)
    bands = materialize(minhash_bands(shingles, p), local_checkpoints=local_checkpoints)
    return keyed_pairs(near_dup_pairs(bands, shingles, p), ids)


def near_duplicates_of_bands(texts: DataFrame, p: LshParams, *, local_checkpoints: bool = False) -> DataFrame:
    """`near_duplicates` of distinct (key, norm, bands) rows whose band keys were computed earlier
    (`minhash_band_arrays`, e.g. when the text was first seen): the same pairs, without the MinHash.

    Only the texts that meet a candidate are shingled again, for the exact check. Raises MissingBandsError
    naming a text without band keys (a text the caller's store lacks) instead of losing its pairs.
    """
    ids = text_ids(texts.select("key", "norm", "bands"), local_checkpoints=local_checkpoints)
    lacking = ids.where(F.col("bands").isNull()).select("key").limit(1).collect()
    if lacking:
        raise MissingBandsError(f"no band keys for the text {lacking[0]['key']}")
    bands = ids.select(F.col("_id").alias("key"), F.explode("bands").alias("bucket"))
    candidates = materialize(candidate_pairs(bands, p), local_checkpoints=local_checkpoints)
    met = (candidates.select(F.col("key_a").alias("_id")).union(candidates.select(F.col("key_b").alias("_id")))
           .distinct())
    shingles = materialize(shingle_sets(ids.join(met, "_id", "left_semi").select(F.col("_id").alias("key"), "norm"),
                                        p), local_checkpoints=local_checkpoints)
    return keyed_pairs(verified_pairs(candidates, shingles, p), ids)


def keyed_pairs(id_pairs: DataFrame, ids: DataFrame) -> DataFrame:
    """Pairs of 64-bit text ids -> pairs of the texts' keys (`ids`: key, _id)."""
    key_a = ids.select(F.col("_id").alias("key_a"), F.col("key").alias("_ka"))
    key_b = ids.select(F.col("_id").alias("key_b"), F.col("key").alias("_kb"))
    return (id_pairs.join(key_a, "key_a").join(key_b, "key_b")
            .select(F.col("_ka").alias("key_a"), F.col("_kb").alias("key_b")))


class MissingBandsError(ValueError):
    """A text given to `near_duplicates_of_bands` has no stored band keys."""


ID_SALTS = 4     # hash seeds tried in turn for 64-bit text ids that collide (text_ids)


def text_ids(texts: DataFrame, *, local_checkpoints: bool = False, salts: range = range(ID_SALTS),
             id_of: Callable[[Column, int], Column] | None = None) -> DataFrame:
    """Distinct (key, norm) -> (key, norm, _id): a 64-bit id per text that depends on the text alone.

    The id orders the texts where order matters (an over-full bucket's representative is its smallest id),
    so it must not depend on partitioning: `monotonically_increasing_id` did (it encodes the partition),
    and a cluster and local mode found different pairs. A hash of the key does not, but two keys can share
    it (probability ~ n^2 / 2^65: ~3e-4 at 1e8 texts), so the ids are checked and, on a collision, hashed
    again with the next salt. Raises when every salt collides.
    """
    hash_id = id_of or (lambda key, salt: F.xxhash64(key, F.lit(salt)))
    for salt in salts:
        ids = materialize(texts.withColumn("_id", hash_id(F.col("key"), salt)), local_checkpoints=local_checkpoints)
        shared = ids.groupBy("_id").count().where(F.col("count") > 1).limit(1).count()
        if not shared:
            return ids
        log.warning("text ids: two texts share a 64-bit hash with salt %d; hashing again with the next", salt)
    raise RuntimeError(f"text ids collide under every one of the {len(salts)} salts")


def shingle_sets(texts: DataFrame, p: LshParams) -> DataFrame:
    """(key, norm) -> (key, shingles): the sorted shingle hashes of each text (text_stats.shingle_hashes)."""
    return texts.select("key", ts.shingle_hashes(F.col("norm"), p.shingle_chars).alias("shingles"))


def mllib_minhash_coefficients(spark: SparkSession, p: LshParams) -> np.ndarray:
    """(a, b) of each of MLlib's `bands * rows_per_band` MinHash functions for `p.seed`, shape (k, 2).

    Read from a fitted MinHashLSHModel (fitting needs only the vector size: one dummy row).
    """
    dummy = spark.createDataFrame([(Vectors.sparse(p.hash_features, [0], [1.0]),)], ["_vec"])
    model = MinHashLSH(inputCol="_vec", outputCol="_hashes", numHashTables=p.bands * p.rows_per_band,
                       seed=p.seed).fit(dummy)
    java = model._java_obj
    if java is None:
        raise RuntimeError("MinHashLSH.fit returned a model without its JVM object")
    return np.array([(c._1(), c._2()) for c in java.randCoefficients()], dtype=np.int64)


def minhash_signatures(shingles: DataFrame, p: LshParams) -> DataFrame:
    """(key, shingles) -> (key, _h): the `bands * rows_per_band` min-hashes of each non-empty shingle set.

    The hash family, coefficients and values are MLlib's MinHashLSH (h(i) = ((1 + i) * a + b) mod
    MLLIB_HASH_PRIME over the set's feature indices, index = shingle hash mod `hash_features`, as the
    hashing trick of HashingTF does); tests check equality with MinHashLSHModel.transform. They are
    computed per Arrow batch in NumPy because MLlib's transform costs ~0.4 ms of CPU per text with 180
    functions (a boxed Scala iterator per function) and was a third of the content family; here the
    same values cost a few tens of microseconds.
    """
    coefs = mllib_minhash_coefficients(shingles.sparkSession, p)
    n_features = p.hash_features
    key_type = shingles.schema["key"].dataType
    out_schema = StructType([StructField("key", key_type, True),
                             StructField("_h", ArrayType(LongType(), False), False)])

    def sign(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        k = len(coefs)
        for batch in batches:
            col = batch.column("shingles")
            n = len(batch)
            offsets = col.offsets.to_numpy().astype(np.int64)
            offsets -= offsets[0]
            if col.null_count or (n and np.any(np.diff(offsets) == 0)):
                raise ValueError("minhash_signatures: every text needs at least one shingle")
            flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
            idx = np.mod(flat, n_features) + 1
            out = np.empty((n, k), dtype=np.int64)
            if n:
                starts = offsets[:-1]
                for j in range(k):
                    out[:, j] = np.minimum.reduceat((idx * coefs[j, 0] + coefs[j, 1]) % MLLIB_HASH_PRIME, starts)
            hashes = pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)),
                                              pa.array(out.ravel()))
            yield pa.RecordBatch.from_arrays([batch.column("key"), hashes], schema=pa.schema(
                [pa.field("key", batch.schema.field("key").type), pa.field("_h", pa.list_(pa.int64()), False)]))

    return shingles.select("key", "shingles").mapInArrow(sign, out_schema)


def minhash_band_arrays(shingles: DataFrame, p: LshParams) -> DataFrame:
    """(key, shingles) -> (key, bands): the `bands` bucket keys of each text, in band order."""
    r = p.rows_per_band
    # Band j's bucket is a 64-bit hash of (j, its r min-hashes); a collision only adds a candidate,
    # which the exact verification then rejects.
    band_keys = F.transform(F.sequence(F.lit(0), F.lit(p.bands - 1)),
                            lambda j: F.xxhash64(j, F.slice("_h", j * r + 1, F.lit(r))))
    return minhash_signatures(shingles, p).select("key", band_keys.alias("bands"))


def minhash_bands(shingles: DataFrame, p: LshParams) -> DataFrame:
    """(key, shingles) -> (key, bucket): one bucket row per text per LSH band."""
    return minhash_band_arrays(shingles, p).select("key", F.explode("bands").alias("bucket"))


def near_dup_pairs(bands: DataFrame, shingles: DataFrame, p: LshParams) -> DataFrame:
    """Verified near-duplicate text pairs (key_a, key_b), key_a < key_b, from distinct (key, bucket) rows.

    Oversized buckets link members to the representative only (module docstring, step 3).
    """
    return verified_pairs(candidate_pairs(bands, p), shingles, p)


def candidate_pairs(bands: DataFrame, p: LshParams) -> DataFrame:
    """Candidate pairs (key_a, key_b), key_a < key_b, sharing a bucket in `min_shared_bands` bands."""
    w = Window.partitionBy("bucket")
    sized = (bands.withColumn("_n", F.count(F.lit(1)).over(w)).withColumn("_rep", F.min("key").over(w))
             .where(F.col("_n") >= 2))
    # Small buckets: all pairs, by a self-join on the bucket (at most max_bucket_size^2 / 2 per bucket).
    small = sized.where(F.col("_n") <= p.max_bucket_size).select("bucket", "key")
    a = small.select(F.col("bucket").alias("_ab"), F.col("key").alias("key_a"))
    pairs_small = (a.join(small, (F.col("_ab") == F.col("bucket")) & (F.col("key_a") < F.col("key")))
                   .select("key_a", F.col("key").alias("key_b")))
    pairs_large = (sized.where((F.col("_n") > p.max_bucket_size) & (F.col("key") != F.col("_rep")))
                   .select(F.col("_rep").alias("key_a"), F.col("key").alias("key_b")))
    # A pair emitted by fewer than min_shared_bands bands is dropped (module docstring, step 2): the count
    # is one aggregation that replaces the distinct it needs anyway.
    return (pairs_small.unionByName(pairs_large).groupBy("key_a", "key_b")
            .agg(F.count(F.lit(1)).alias("_bands")).where(F.col("_bands") >= p.min_shared_bands)
            .select("key_a", "key_b"))


def verified_pairs(candidates: DataFrame, shingles: DataFrame, p: LshParams) -> DataFrame:
    """The candidates whose exact Jaccard distance of shingle sets is <= `max_jaccard_distance`."""
    sa = shingles.select(F.col("key").alias("key_a"), F.col("shingles").alias("_sa"))
    sb = shingles.select(F.col("key").alias("key_b"), F.col("shingles").alias("_sb"))
    inter = F.size(F.array_intersect("_sa", "_sb"))
    union = F.size(F.array_union("_sa", "_sb"))
    return (candidates.join(sa, "key_a").join(sb, "key_b")
            .where(1 - inter / union <= p.max_jaccard_distance)
            .select("key_a", "key_b"))


def own_pairs(members: DataFrame, pairs: DataFrame) -> DataFrame:
    """(account_id, key_a, key_b): the pairs (key_a, key_b) whose two texts one account both posted.

    members: distinct (account_id, key), who posted which text. Taken from the one cross-account pass
    instead of a second LSH pass per account (which sorted every account's texts x bands again and cost
    as much as the whole cross-account pass). Each pair is expanded from its endpoint with fewer
    posters, so a viral text with a million posters costs the posters of its rarer partner, not a
    million rows per pair.
    """
    users = members.groupBy("key").agg(F.count(F.lit(1)).alias("_u"))
    ua = users.select(F.col("key").alias("key_a"), F.col("_u").alias("_ua"))
    ub = users.select(F.col("key").alias("key_b"), F.col("_u").alias("_ub"))
    a_first = F.col("_ua") <= F.col("_ub")
    sided = (pairs.join(ua, "key_a").join(ub, "key_b")
             .select("key_a", "key_b", F.when(a_first, F.col("key_a")).otherwise(F.col("key_b")).alias("key"),
                     F.when(a_first, F.col("key_b")).otherwise(F.col("key_a")).alias("_other")))
    other = members.select("account_id", F.col("key").alias("_other"))
    return (sided.join(members, "key").join(other, ["account_id", "_other"], "left_semi")
            .select("account_id", "key_a", "key_b"))
