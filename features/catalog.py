"""All registered features across families, the feature table schema derived from them, and the
generator of docs/features.md. Importing the family modules here (not in registry.py) keeps the
registry free of Spark transforms."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql.types import DateType, LongType, MapType, StringType, StructField, StructType, TimestampType

from genuine.features import behaviour, change, content, network, reports
from genuine.features.registry import FAMILIES, Feature

ALL_FEATURES: list[Feature] = [*behaviour.FEATURES, *content.FEATURES, *network.FEATURES, *reports.FEATURES,
                               *change.FEATURES]
FEATURE_NAMES: list[str] = [f.name for f in ALL_FEATURES]
BY_NAME: dict[str, Feature] = {f.name: f for f in ALL_FEATURES}

KEY_COLUMNS = [StructField("account_id", StringType(), True), StructField("snapshot_date", DateType(), True),
               StructField("as_of", TimestampType(), True)]
LINEAGE_COLUMNS = [StructField("input_versions", MapType(StringType(), LongType(), True), True),
                   StructField("run_id", StringType(), True)]
DOCS_PATH = Path("docs") / "features.md"
"""The committed, generated feature reference, relative to the repository root (tests check it equals
render_docs()). Relative on purpose: an installed wheel holds no docs/, so the path is the checkout's."""

# The schema of the `features` table: its entry in genuine.core.catalog (keys, path) names this as its owner.
FEATURE_TABLE = StructType(KEY_COLUMNS + [StructField(f.name, f.dtype, True) for f in ALL_FEATURES]
                           + LINEAGE_COLUMNS)


def render_docs() -> str:
    lines = ["# Account features", "",
             "Generated from the registry (`features/catalog.py`): do not edit by hand, regenerate with "
             "`genuine features --docs` (or `make docs`); `tests/features/test_catalog.py` fails when it is stale. "
             "One row per account per snapshot in the `features` table; a snapshot as of date D uses only "
             "events at or before the end of D (UTC) and records the Delta versions of its inputs in "
             "`input_versions`. Null means too little activity to measure; counts are 0, never null.", "",
             "## Computing a snapshot", "",
             "```bash",
             "genuine features [--as-of YYYY-MM-DD] [--truth EXPORT/_truth/accounts.parquet] [--run-id ID]",
             "```", "",
             "- `--as-of` defaults to the UTC day of the latest post or interaction. The cut at the end of that "
             "day is applied once, to every input, in `features/snapshot.py` (`cut_inputs`): events, sessions, "
             "reports, moderator labels (by `decided_at`) and AI-text scores of later posts are all invisible; "
             "accounts created later get no row. `tests/features/test_snapshot_pit.py` checks the whole "
             "snapshot against one computed on inputs cut beforehand.",
             "- The snapshot replaces any earlier snapshot of the same date in one Delta commit that carries "
             "the transaction `(features, run id)`: retrying a run id that already committed writes nothing, "
             "and a re-run with a new run id leaves exactly one row per account.",
             "- Without a registered text detector (`genuine-text-detector@champion` in MLflow) the AI-text "
             "features are null and the job logs a warning.",
             "- The graph algorithms checkpoint into `features.snapshot.checkpoint_dir` (under `lake.root`) "
             "when the Spark session has no checkpoint dir; the job empties it when it ends.",
             "- Cost per family: `genuine bench features --accounts N --days D` (figures in "
             "`docs/benchmarks.md`).", "",
             "## Separation report", "",
             "With `--truth` (the simulator's ground truth: `account_id`, `population`, `strategy`) the job "
             "writes `<features.separation.out_dir>/<date>/separation.md` and one heatmap PNG per population: "
             "for every feature, the AUC of ordinary people (`features.separation.baseline`) against each AI "
             "strategy, each genuine-but-unusual human population, and each population pooled (`all ai`, "
             "`all unusual_human`). AUC = P(group value > ordinary value) + 0.5 P(equal), i.e. sklearn's "
             "`roc_auc_score` with the group as positive; above 0.5 the group's values are higher. It is "
             "computed in Spark from per-value counts (exact integer numerator, one division); only one row "
             "per feature and group reaches the driver. Accounts with a null (or NaN) value are left out of "
             "that feature's AUC and the report prints the coverage next to it. The report also lists, for "
             "each unusual human population, the features that separate it from ordinary people in the same "
             "direction as they separate AI accounts: the ones a model must not lean on alone.", ""]
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
