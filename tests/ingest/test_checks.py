"""The ingest checks that were rewritten for speed, against plain-Python oracles: the media phash check
(string functions instead of a lambda), phashes stored lower case, and the duplicate checks that window
only the rows of repeated keys."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from genuine.ingest.reader import MEDIA_ITEM, Scan, empty_scan
from genuine.ingest.validate import _phashes_ok, check_duplicates, repeated_keys, row_checks
from tests.oracles import sorted_frame

HEX16 = re.compile(r"[0-9a-fA-F]{16}")
MEDIA = [
    None, [], [None], [{"phash": None, "aigc_label": True}],
    [{"phash": "0123456789abcdef", "aigc_label": False}],
    [{"phash": "0123456789ABCDEF", "aigc_label": None}, {"phash": "fedcba9876543210", "aigc_label": True}],
    [{"phash": "0123456789abcde", "aigc_label": False}],                      # 15 characters
    [{"phash": "0123456789abcdef0", "aigc_label": False}],                    # 17
    [{"phash": "0123456789abcdeg", "aigc_label": False}],                     # not hex
    [{"phash": "0123456789abcdef,0123456789abcde", "aigc_label": False}, {"phash": "", "aigc_label": False}],
    [{"phash": "0123456789abcdef,0123456789abcdef", "aigc_label": False}],    # two valid hashes, one item
    [{"phash": "0123456789abcdef", "aigc_label": False}, None],
    [{"phash": "", "aigc_label": False}],
    [{"phash": "0123456789abcdef", "aigc_label": True}] * 5,
]


def _oracle_ok(media: list | None) -> bool | None:
    if media is None:
        return None
    return all(m is not None and m["phash"] is not None and HEX16.fullmatch(m["phash"]) for m in media)


def test_phash_check_equals_an_item_by_item_oracle(spark):
    schema = StructType([StructField("i", LongType()), StructField("media", ArrayType(MEDIA_ITEM, True), True)])
    df = spark.createDataFrame(list(enumerate(MEDIA)), schema)
    got = {r["i"]: r["ok"] for r in df.select("i", _phashes_ok(F.col("media")).alias("ok")).collect()}
    assert got == {i: _oracle_ok(m) for i, m in enumerate(MEDIA)}


def _batch(seed: int, n: int) -> pd.DataFrame:
    """Rows of one key column with few distinct keys, few contents and some rows already failed."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        failed = rng.random() < 0.2
        rows.append({"_row": i, "event_id": f"e{rng.randrange(n // 3)}", "source_file": f"f{rng.randrange(3)}",
                     "_rid": rng.randrange(1000), "_hash": rng.randrange(3) if rng.random() < 0.3 else 0,
                     "_reason": "missing_field" if failed else None, "_detail": "x" if failed else None})
    return pd.DataFrame(rows)


def _oracle_duplicates(batch: pd.DataFrame) -> pd.DataFrame:
    """Within a batch: a key whose still-valid rows hold several contents is a conflict (all of them);
    otherwise every still-valid row after the first (failed rows last, then file, then record id) is a copy."""
    out = batch.copy()
    for _, group in batch.groupby("event_id"):
        valid = group[group._reason.isna()]
        if valid._hash.nunique() > 1:
            out.loc[valid.index, "_reason"] = "duplicate_key_conflict"
            continue
        ordered = group.assign(_failed=group._reason.notna()).sort_values(["_failed", "source_file", "_rid"])
        for idx in [i for i in ordered.index if pd.isna(batch.loc[i, "_reason"])][1:]:
            out.loc[idx, "_reason"] = "duplicate_record"
    out["_new"] = out._reason.isna()
    return out[["_row", "_reason", "_new"]]


def test_duplicate_checks_equal_a_brute_force_oracle(spark):
    schema = StructType([StructField("_row", LongType()), StructField("event_id", StringType()),
                         StructField("source_file", StringType()), StructField("_rid", LongType()),
                         StructField("_hash", LongType()), StructField("_reason", StringType()),
                         StructField("_detail", StringType())])
    for seed in range(3):
        batch = _batch(seed, 60)
        df = spark.createDataFrame(batch.astype(object).where(batch.notna(), None).to_dict("records"), schema)
        repeated = repeated_keys(df, "interactions")
        assert repeated.count() == int((batch.event_id.value_counts() > 1).sum())
        got = check_duplicates(df, "interactions", None, repeated).select("_row", "_reason", "_new").toPandas()
        want = _oracle_duplicates(batch)
        assert (want._reason == "duplicate_record").any() and (want._reason == "duplicate_key_conflict").any()
        pd.testing.assert_frame_equal(sorted_frame(got, ["_row"]), sorted_frame(want, ["_row"]), check_dtype=False)
        # A batch of unique keys has no repeated keys: nothing is windowed, and nothing changes.
        unique = batch.drop_duplicates("event_id")
        plain = check_duplicates(df.join(spark.createDataFrame(unique[["_row"]]), "_row", "left_semi"),
                                 "interactions", None, None).select("_row", "_reason", "_new").toPandas()
        pd.testing.assert_frame_equal(sorted_frame(plain, ["_row"]), sorted_frame(_oracle_duplicates(unique), ["_row"]),
                                      check_dtype=False)


def test_phashes_are_stored_lower_case(spark, cfg):
    schema = empty_scan(spark, "posts").frame.schema
    media = [[{"phash": "0123456789ABCDEF", "aigc_label": True}, {"phash": "00000000000000aa", "aigc_label": None}],
             [{"phash": "fedcba9876543210", "aigc_label": False}], [], None]
    rows = [{f.name: None for f in schema.fields} | {"post_id": f"p{i}", "media": m} for i, m in enumerate(media)]
    scan = Scan(spark.createDataFrame(rows, schema), F.lit(None).cast("string"))
    out = row_checks(scan, "posts", cfg.ingest, datetime.now(UTC), b"k" * 32).select("post_id", "media").collect()
    got = {r["post_id"]: None if r["media"] is None else [m.asDict() for m in r["media"]] for r in out}
    want = {f"p{i}": None if m is None else [x | {"phash": x["phash"].lower()} for x in m] for i, m in enumerate(media)}
    assert got == want
