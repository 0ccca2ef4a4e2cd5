"""Synthetic feature snapshots, labels and truth generated in Spark.

Two users: `genuine bench score` (a million accounts in a few seconds, without simulating a platform
first) and the end-to-end job tests (a features table and labels in the lake, so train -> promote ->
score runs on real Delta tables and a real MLflow store). The values are not a model of the platform
(the simulator is); they only have to look like the feature table (schema, units, nulls, counts never
null) and carry a known signal: each strategy shifts a few features, in standard-deviation units, in the
bot direction of the registry (`SIGNALS`). Genuine-but-unusual humans shift the features that would
wrongly flag them, as in docs/simulator.md.

Randomness is a hash of (seed, account number, draw number), not `rand()`: the same account gets the
same values whatever the partitioning, so a snapshot can be regenerated exactly. Accounts and features
are generated per Arrow batch with numpy on the executors (nothing per account on the driver).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, LongType, MapType, StringType, StructField, StructType

from genuine.core.lake import Lake
from genuine.core.schemas import RAW_ACCOUNTS, RAW_LABELS
from genuine.devtools.simulator.params import DEFAULT_SHARES, STRATEGY_POPULATION
from genuine.features.catalog import ALL_FEATURES, FEATURE_TABLE
from genuine.features.registry import Feature

# strategy -> feature -> shift of the latent normal, in the feature's bot direction (negative: more human)
SIGNALS: dict[str, dict[str, float]] = {
    "ordinary": {},
    "prolific_creator": {"actions_per_active_day": 1.5, "session_mean_actions": 1.2, "reports_received": 1.0,
                         "reporters_distinct": 0.8, "follow_in_degree": -1.5, "gap_cv": -0.5},
    "brand": {"automation_client_share": 1.5, "zero_second_share": 1.0, "gap_regular_share": 0.8,
              "lexical_diversity_mean": -1.5, "template_reuse_share": -1.0, "reply_latency_median_s": -1.0,
              "account_age_days": -1.0},
    "night_shift": {"night_share": 2.5, "hour_js_distance": 2.0},
    "fixed_interval": {"gap_cv": 3.5, "gap_regular_share": 3.5, "zero_second_share": 4.0,
                       "automation_client_share": 3.0, "hour_entropy_bits": 2.5, "ai_text_p_mean": 2.0,
                       "account_age_days": 1.5, "reports_received": 1.0},
    "jittered_scheduler": {"gap_cv": 2.0, "gap_entropy_bits": 1.5, "template_reuse_share": 3.0,
                           "repeated_ngram_rate_mean": 2.0, "automation_client_share": 2.5,
                           "ai_text_p_mean": 1.5, "follow_out_degree": 1.5, "follow_clustering": 1.0},
    "engagement_farm": {"coord_weighted_degree": 3.0, "coord_partners": 3.0, "coord_cluster_size": 3.0,
                        "coord_cluster_density": 2.0, "near_dup_other_accounts": 2.5,
                        "near_dup_cluster_accounts": 2.5, "media_phash_other_accounts": 2.0,
                        "account_age_days": 1.0},
    "device_ring": {"device_max_accounts": 3.5, "device_cluster_accounts": 3.0, "coord_partners": 1.5,
                    "follow_triangles": 1.0, "reports_received": 1.0, "account_age_days": 1.0},
    "humanized": {"ai_text_p_mean": 2.0, "ai_text_high_share": 2.0, "lexical_diversity_mean": 1.2,
                  "reply_fast_share": 1.5, "gap_cv": 1.0, "media_undeclared_aigc_share": 1.5},
    # issue 12's strategies and traps (docs/simulator.md), on features every build has
    "hijacked": {"automation_client_share": 1.5, "ai_text_p_mean": 1.0, "gap_cv": 0.8, "account_age_days": -1.0},
    "dormant_sleeper": {"coord_weighted_degree": 2.0, "coord_partners": 2.0, "burstiness": 1.5,
                        "active_days": -1.5, "account_age_days": -1.0},
    "loose_ring": {"coord_partners": 1.5, "coord_weighted_degree": 1.0, "near_dup_other_accounts": 1.0},
    "llm_persona": {"ai_text_p_mean": 2.0, "ai_text_high_share": 1.5, "reply_fast_share": 2.5,
                    "reply_latency_median_s": 2.0},
    "fan_community": {"coord_weighted_degree": 1.5, "coord_partners": 1.5, "emoji_rate_mean": 1.0},
    "smm_manager": {"device_max_accounts": 2.0, "automation_client_share": 1.5, "zero_second_share": 1.0},
    "ai_assisted_creator": {"ai_text_p_mean": 2.0, "ai_text_high_share": 2.0, "text_length_mean": 1.0},
    "shift_worker": {"night_share": 1.5, "hour_js_distance": 1.5, "hour_entropy_bits": -1.0},
}
VERIFIED_SHARE: dict[str, float] = {"human": 0.02, "unusual_human": 0.20, "ai": 0.0}
_UNIT_SHARES = ("share 0-1", "bits 0-1", "probability")
_MANTISSA = float(1 << 53)


def _uniform(seed: int, draw: int) -> Column:
    """U(0, 1), open at both ends, from a hash of (seed, account number, draw): Spark expression."""
    h = F.xxhash64(F.lit(seed), F.col("_i"), F.lit(draw))
    return (h.bitwiseAND(F.lit((1 << 53) - 1)).cast("double") + F.lit(0.5)) / F.lit(_MANTISSA)


def _np_uniform(seed: int, ids: np.ndarray, draw: int) -> np.ndarray:
    """U(0, 1) from splitmix64 of (seed, account number, draw): numpy, for the per-batch generators."""
    with np.errstate(over="ignore"):
        z = (ids.astype(np.uint64) * np.uint64(0xD1B54A32D192ED03)
             + np.uint64((seed * 0x9E3779B97F4A7C15 + draw * 0xBF58476D1CE4E5B9) % 2**64))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / _MANTISSA


def _np_normal(seed: int, ids: np.ndarray, draw: int) -> np.ndarray:
    """N(0, 1) by Box-Muller on two hashed uniforms."""
    return np.sqrt(-2.0 * np.log(_np_uniform(seed, ids, 2 * draw))) * np.cos(2 * np.pi * _np_uniform(seed, ids, 2 * draw + 1))


def _np_value(f: Feature, z: np.ndarray) -> np.ndarray:
    """Latent normal -> a value in the feature's unit and type."""
    if f.is_count:
        return np.floor(np.exp(0.8 * z + 1.0)).astype(np.int64)
    if f.unit in _UNIT_SHARES:
        return 1.0 / (1.0 + np.exp(2.0 - z))
    if f.unit.startswith("index -1..1"):
        return np.tanh(z / 2.0)
    return np.exp(0.5 * z + 0.5)


def synthetic_accounts(spark: SparkSession, n: int, *, seed: int = 7, shares: Mapping[str, float] | None = None,
                       partitions: int | None = None) -> DataFrame:
    """n accounts: _i (account number), account_id, strategy, population, verified."""
    shares = dict(shares if shares is not None else DEFAULT_SHARES)
    unknown = set(shares) - set(STRATEGY_POPULATION)
    if unknown:
        raise ValueError(f"unknown strategies {sorted(unknown)}; known: {list(STRATEGY_POPULATION)}")
    total = sum(shares.values())
    if total <= 0 or any(v < 0 for v in shares.values()):
        raise ValueError("strategy shares must be >= 0 with a positive sum")
    names = [s for s in shares if shares[s] > 0]
    bounds = np.cumsum([shares[s] / total for s in names])
    bounds[-1] = 2.0                                    # float rounding never leaves a gap
    strat_names = np.array(names, dtype=object)
    pops = np.array([STRATEGY_POPULATION[s] for s in names], dtype=object)
    vshare = np.array([VERIFIED_SHARE[STRATEGY_POPULATION[s]] for s in names])

    def gen(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids = batch.column(0).to_numpy()
            code = np.searchsorted(bounds, _np_uniform(seed, ids, 0), side="right")
            acc = np.char.add(f"syn{seed}-", np.char.zfill(ids.astype(str), 9))
            yield pa.RecordBatch.from_arrays(
                [pa.array(ids, pa.int64()), pa.array(acc.astype(object), pa.string()),
                 pa.array(strat_names[code], pa.string()), pa.array(pops[code], pa.string()),
                 pa.array(_np_uniform(seed, ids, 1) < vshare[code], pa.bool_())],
                names=["_i", "account_id", "strategy", "population", "verified"])

    schema = StructType([StructField("_i", LongType()), StructField("account_id", StringType()),
                         StructField("strategy", StringType()), StructField("population", StringType()),
                         StructField("verified", BooleanType())])
    base = spark.range(0, n, numPartitions=partitions or spark.sparkContext.defaultParallelism)
    return base.mapInArrow(gen, schema)


def synthetic_features(accounts: DataFrame, snapshot_date: dt.date, *, seed: int = 7, missing_share: float = 0.05,
                       run_id: str = "synthetic") -> DataFrame:
    """One FEATURE_TABLE row per account for `snapshot_date` (as_of = end of that day, UTC). Double
    features are null with probability `missing_share` (too little activity); counts never are.
    Computed per Arrow batch with numpy on the executors (a 60-column Spark expression tree costs
    seconds of planning and runs interpreted)."""
    as_of = dt.datetime.combine(snapshot_date, dt.time(23, 59, 59))
    feats = list(ALL_FEATURES)
    strategies = list(SIGNALS)
    shift = np.array([[SIGNALS[s].get(f.name, 0.0) * (-1.0 if f.direction == "lower" else 1.0) for f in feats]
                      for s in strategies])                        # strategy x feature, signed
    index = {s: i for i, s in enumerate(strategies)}
    arrow_types = {f.name: (pa.int64() if f.is_count else pa.float64()) for f in feats}

    def gen(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids = batch.column(0).to_numpy()
            rows = np.array([index.get(s, -1) for s in batch.column(2).to_pylist()])
            if (rows < 0).any():
                raise ValueError("accounts carry a strategy without SIGNALS")
            cols = []
            for j, f in enumerate(feats):
                v = _np_value(f, _np_normal(seed, ids, 10 + j) + shift[rows, j])
                mask = None if f.is_count else _np_uniform(seed, ids, 1000 + j) < missing_share
                cols.append(pa.array(v, arrow_types[f.name], mask=mask))
            yield pa.RecordBatch.from_arrays([batch.column(1), *cols], names=["account_id", *[f.name for f in feats]])

    schema = StructType([StructField("account_id", StringType()),
                         *[StructField(f.name, f.dtype) for f in feats]])
    values = accounts.select("_i", "account_id", "strategy").mapInArrow(gen, schema)
    out = values.select(
        "account_id", F.lit(snapshot_date).alias("snapshot_date"), F.lit(as_of).cast("timestamp").alias("as_of"),
        *[f.name for f in feats], F.lit(None).cast(MapType(StringType(), LongType())).alias("input_versions"),
        F.lit(run_id).alias("run_id"))
    return out.select([F.col(c.name).cast(c.dataType) for c in FEATURE_TABLE.fields])


def synthetic_labels(accounts: DataFrame, snapshot_date: dt.date, *, fraction: float, seed: int = 7,
                     early_share: float = 0.02, overturned_share: float = 0.05) -> DataFrame:
    """RAW_LABELS rows for a `fraction` of the accounts: the true label, decided 1-6 days after the
    snapshot. `early_share` of them were decided before it (no snapshot to join: training must count and
    skip them); `overturned_share` of the labelled humans also carry an older imported `ai_managed`
    label that the later decision overrides."""
    as_of = dt.datetime.combine(snapshot_date, dt.time(23, 59, 59))
    labelled = accounts.where(_uniform(seed, 2) < F.lit(fraction))
    early = _uniform(seed, 3) < F.lit(early_share)
    delay = F.when(early, F.lit(-2 * 86400.0)).otherwise(F.lit(86400.0) + _uniform(seed, 4) * F.lit(5 * 86400.0))
    decided = (F.lit(as_of).cast("timestamp").cast("double") + delay).cast("timestamp")
    truth_label = F.when(F.col("population") == "ai", F.lit("ai_managed")).otherwise(F.lit("human"))
    main = labelled.select("account_id", truth_label.alias("label"), F.lit("moderator").alias("source"),
                           decided.alias("decided_at"))
    overturned = (labelled.where((F.col("population") != "ai") & ~early & (_uniform(seed, 5) < F.lit(overturned_share)))
                  .select("account_id", F.lit("ai_managed").alias("label"), F.lit("import").alias("source"),
                          (F.lit(as_of).cast("timestamp").cast("double") - F.lit(3600.0)).cast("timestamp")
                          .alias("decided_at")))
    rows = main.unionByName(overturned)
    return rows.select(*[F.col(c) for c in ("account_id", "label", "source", "decided_at")],
                       F.lit("synthetic").alias("ingest_run_id"), F.lit(None).cast("string").alias("source_file")) \
        .select([F.col(c.name).cast(c.dataType) for c in RAW_LABELS.fields])


def synthetic_raw_accounts(accounts: DataFrame, snapshot_date: dt.date) -> DataFrame:
    """RAW_ACCOUNTS rows (the job takes `verified` from there)."""
    created = dt.datetime.combine(snapshot_date - dt.timedelta(days=90), dt.time(0, 0))
    return accounts.select(
        "account_id", F.lit(created).cast("timestamp").alias("created_at"), F.lit(None).cast("string").alias("nickname"),
        F.lit(None).cast("string").alias("bio"), "verified", F.lit(False).alias("declared_ai_assisted"),
        F.lit("CN").alias("region"), F.lit("synthetic").alias("ingest_run_id"),
        F.lit(None).cast("string").alias("source_file"),
    ).select([F.col(c.name).cast(c.dataType) for c in RAW_ACCOUNTS.fields])


def synthetic_truth(accounts: DataFrame) -> DataFrame:
    """Ground truth in the simulator's `_truth/accounts.parquet` layout."""
    return accounts.select("account_id", "population", "strategy", F.lit(None).cast("string").alias("cluster_id"))


__all__ = ["SIGNALS", "synthetic_accounts", "synthetic_features", "synthetic_labels", "synthetic_raw_accounts",
           "synthetic_truth"]


# More bots and unusual humans than the platform has, so every strategy has labelled accounts to hold out.
TRAINING_SHARES = {"ordinary": 0.55, "prolific_creator": 0.05, "brand": 0.05, "night_shift": 0.05,
                   "fixed_interval": 0.06, "jittered_scheduler": 0.06, "engagement_farm": 0.06, "device_ring": 0.06,
                   "humanized": 0.06}


def write_synthetic_lake(lake: Lake, truth_path: Path, n: int, snapshot_date: dt.date, *, seed: int,
                         label_fraction: float, shares: Mapping[str, float] | None = None) -> int:
    """A synthetic snapshot, its labels and accounts into `lake`, the truth into `truth_path`: what
    `genuine train` needs to register a champion without a simulated platform (the account-model job
    tests, the daily tests and `make chaos`). Returns the feature table version."""
    acc = synthetic_accounts(lake.spark, n, seed=seed, shares=shares, partitions=2).cache()
    fv = lake.append("features", synthetic_features(acc, snapshot_date, seed=seed), schema=FEATURE_TABLE).version
    lake.append("raw_labels", synthetic_labels(acc, snapshot_date, fraction=label_fraction, seed=seed),
                schema=RAW_LABELS)
    lake.append("raw_accounts", synthetic_raw_accounts(acc, snapshot_date), schema=RAW_ACCOUNTS)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    synthetic_truth(acc).toPandas().to_parquet(truth_path, index=False)
    acc.unpersist()
    assert fv is not None
    return fv
