"""A snapshot does not depend on how its inputs are partitioned: the same rows in one partition with one
shuffle partition, or hashed over seven with five, give the same feature table bit for bit. (A cluster
and local mode split the same data differently; docs/decisions.md, genuine/lib/ordered.py.)"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pandas as pd
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.core.lake import Lake
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.features.snapshot import FamilyConfigs, FeaturesConfig, Inputs, build_snapshot
from genuine.lib.ordered import EXACT_SCALE, exact_avg, exact_sum, ordered_avg, ordered_sum


def _snapshot(spark, tiny_lake, parts: int, shuffle: int) -> pd.DataFrame:
    cfg = tiny_lake.cfg
    lake = Lake(spark, cfg)

    def split(df: DataFrame) -> DataFrame:
        return df.repartition(parts, F.xxhash64(*df.columns)) if parts > 1 else df.coalesce(1)

    frames = {e: split(lake.read(RAW_TABLE[e])) for e in RAW_SCHEMAS}
    # non-integer post scores, so the per-account means of the content family are exercised
    scores = split(frames["posts"].select("post_id", "account_id",
                                          ((F.abs(F.xxhash64("post_id")) % 997) / 996.0 * 0.37).alias("p_ai")))
    day = date.fromisoformat(cfg.simulate.start_date) + timedelta(days=3)
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(shuffle))
    try:
        inputs = Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                        frames["reports"], frames["labels"], scores)
        snap = build_snapshot(inputs, day, FamilyConfigs.of(cfg.section("features", FeaturesConfig)), {}, "parts")
        return snap.toPandas().sort_values("account_id").reset_index(drop=True)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)


@pytest.mark.slow
def test_a_snapshot_is_the_same_bit_for_bit_however_its_inputs_are_partitioned(spark, tiny_lake):
    one = _snapshot(spark, tiny_lake, parts=1, shuffle=1)
    many = _snapshot(spark, tiny_lake, parts=7, shuffle=5)
    assert len(one) > 100
    pd.testing.assert_frame_equal(one, many, check_exact=True)


def test_ordered_sums_add_in_ascending_order_whatever_the_partitions(spark):
    # values whose float sum depends on the order: 1e16 absorbs a 1.0 added after it, not one added before
    values = [(g, v) for g in ("a", "b") for v in (1e16, 1.0, -1e16, 1.0, 0.1, 0.2, 0.3, 3.0)] + [("c", None)]
    df = spark.createDataFrame(values, "g string, v double")
    want = {g: sum(sorted(v for h, v in values if h == g and v is not None)) for g in ("a", "b")}
    for parts in (1, 3, 8):
        got = {r.g: (r.s, r.m) for r in df.repartition(parts, F.rand(parts)).groupBy("g")
               .agg(ordered_sum("v").alias("s"), ordered_avg("v").alias("m")).collect()}
        assert got == {"a": (want["a"], want["a"] / 8), "b": (want["b"], want["b"] / 8), "c": (None, None)}


def _decimal_sum(values: list[float], scale: int) -> float:
    """Oracle: each value rounded half-up to `scale` decimals (from its shortest repr, as the JVM reads a
    double), summed with no rounding at all."""
    with localcontext() as ctx:
        ctx.prec = 80
        return float(sum(Decimal(repr(v)).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP) for v in values))


@pytest.mark.parametrize(("scale", "values"), [
    (18, [1e16, 1.0, -1e16, 1.0, 0.1, 0.2, 0.3, 3.0]),
    (EXACT_SCALE, [0.1, 0.2, 0.3, 1e-9, 123.456, 1 / 3, 2 / 3, 1 / 7, 5e-30, 0.07]),
])
def test_exact_sums_are_the_decimal_sum_whatever_the_partitions(spark, scale, values):
    rows = [(g, v) for g in ("a", "b") for v in values] + [("c", None)]
    df = spark.createDataFrame(rows, "g string, v double")
    want = _decimal_sum(values, scale)
    for parts in (1, 3, 8):
        got = {r.g: (r.s, r.m) for r in df.repartition(parts, F.rand(parts)).groupBy("g")
               .agg(exact_sum("v", scale).alias("s"), exact_avg("v", scale).alias("m")).collect()}
        assert got == {"a": (want, want / len(values)), "b": (want, want / len(values)), "c": (None, None)}


def test_an_exact_sum_that_would_overflow_its_decimals_is_an_error_not_a_figure(spark):
    df = spark.createDataFrame([(1e9,), (9e9,), (1.0,)], "v double")
    with pytest.raises(Exception, match="(?i)overflow|NUMERIC_VALUE_OUT_OF_RANGE|cannot be represented"):
        df.agg(exact_sum("v")).collect()
