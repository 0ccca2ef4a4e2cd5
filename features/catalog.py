"""All registered features across families, the feature table schema derived from them, and the
generator of docs/features.md. Importing the family modules here (not in registry.py) keeps the
registry free of Spark transforms."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql.types import DateType, LongType, MapType, StringType, StructField, StructType, TimestampType

from features import behaviour, content, network, reports
from features.registry import FAMILIES, Feature

ALL_FEATURES: list[Feature] = [*behaviour.FEATURES, *content.FEATURES, *network.FEATURES, *reports.FEATURES]
FEATURE_NAMES: list[str] = [f.name for f in ALL_FEATURES]
BY_NAME: dict[str, Feature] = {f.name: f for f in ALL_FEATURES}

KEY_COLUMNS = [StructField("account_id", StringType(), True), StructField("snapshot_date", DateType(), True),
               StructField("as_of", TimestampType(), True)]
LINEAGE_COLUMNS = [StructField("input_versions", MapType(StringType(), LongType(), True), True),
                   StructField("run_id", StringType(), True)]
FEATURE_TABLE = StructType(KEY_COLUMNS + [StructField(f.name, f.dtype, True) for f in ALL_FEATURES]
                           + LINEAGE_COLUMNS)


def render_docs() -> str:
    lines = ["# Account features", "",
             "Generated from the registry (`features/catalog.py`; regenerate with `genuine features --docs`). "
             "One row per account per snapshot in the `features` table; a snapshot as of date D uses only "
             "events at or before the end of D (UTC) and records the Delta versions of its inputs in "
             "`input_versions`. Null means too little activity to measure; counts are 0, never null.", ""]
    for family in FAMILIES:
        feats = [f for f in ALL_FEATURES if f.family == family]
        lines += [f"## {family} ({len(feats)})", "", "| feature | unit | type | bot-like when | meaning |",
                  "|---|---|---|---|---|"]
        for f in feats:
            lines.append(f"| `{f.name}` | {f.unit} | {f.dtype.simpleString()} | {f.direction or '-'} | {f.meaning} |")
        lines.append("")
    return "\n".join(lines)


def write_docs(path: Path) -> None:
    path.write_text(render_docs(), encoding="utf-8")
