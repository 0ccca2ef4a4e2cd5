"""Compute one feature snapshot for the whole account base (spark-submit jobs/features.py [--as-of DATE]).

Inputs are read at pinned Delta versions (recorded in the ledger and in the snapshot itself); posts
are scored by the registered text detector once per model version and cached in `post_scores`. The
snapshot replaces any earlier snapshot of the same date in one Delta transaction carrying the run id,
so a retried run (same run id) writes nothing twice and a re-run (new run id) leaves one row per account.
With `--truth` (the simulator's ground truth) it also writes the separation report.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from genuine.core.config import Config
from genuine.core.errors import NoEventsError, TruthError
from genuine.core.lake import Lake
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.features.catalog import ALL_FEATURES, FEATURE_NAMES, FEATURE_TABLE
from genuine.features.separation import SeparationConfig, SeparationReport, separation_aucs, write_report
from genuine.features.snapshot import FamilyConfigs, FeaturesConfig, Inputs, SnapshotConfig, build_snapshot
from genuine.jobs.common import JobContext, base_parser, config_from, job

log = logging.getLogger(__name__)

JOB = "features"
POST_SCORES = StructType([StructField("post_id", StringType(), True), StructField("account_id", StringType(), True),
                          StructField("p_ai", DoubleType(), True), StructField("model_version", StringType(), True)])

_OWNED_CHECKPOINT_DIRS: set[str] = set()
"""Checkpoint dirs this job set on the session (so it may empty them after each run)."""


@dataclass
class FeatureRun:
    run_id: str
    snapshot_date: date | None              # None only for a retry whose snapshot was since replaced
    accounts: int
    version: int | None
    input_versions: dict[str, int]
    skipped: str | None = None              # why nothing was written (retry of a committed run)
    report: SeparationReport | None = None


def text_model_uri(cfg: Config) -> tuple[str, str] | None:
    """(uri, version) of the text detector's champion, or None when none is registered yet."""
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    client = mlflow.MlflowClient()
    try:
        mv = client.get_model_version_by_alias(cfg.mlflow.text_model, "champion")
    except MlflowException:
        return None
    return f"models:/{cfg.mlflow.text_model}/{mv.version}", str(mv.version)


def post_scores(lake: Lake, cfg: Config, posts: DataFrame, run_id: str) -> DataFrame:
    """p_ai for every post; only posts this model version has not scored yet are scored."""
    model = text_model_uri(cfg)
    if model is None:
        log.warning("no text detector registered as %s@champion: AI-text features will be null "
                    "(run `genuine train-text-detector` first)", cfg.mlflow.text_model)
        return posts.select("post_id", "account_id", F.lit(None).cast("double").alias("p_ai"))
    uri, version = model
    done = lake.read_or_empty("post_scores", POST_SCORES).where(F.col("model_version") == version)
    todo = posts.join(done.select("post_id"), "post_id", "left_anti")
    from genuine.models.text_detector import score_posts

    texts = todo.select("post_id", "account_id",
                        F.concat_ws("\n", F.coalesce("title", F.lit("")), F.coalesce("body", F.lit(""))).alias("text"))
    scored = score_posts(texts, uri, text_col="text").select(
        "post_id", "account_id", "p_ai", F.lit(version).alias("model_version"))
    lake.merge("post_scores", scored, keys=["post_id", "model_version"], when_matched="ignore",
               schema=POST_SCORES, txn=("features.post_scores", run_id))
    return lake.read("post_scores").where(F.col("model_version") == version).select("post_id", "account_id", "p_ai")


def default_snapshot_date(interactions: DataFrame, posts: DataFrame) -> date:
    """The UTC day of the latest post or interaction."""
    row = interactions.select(F.max("created_at").alias("t")).unionByName(
        posts.select(F.max("created_at").alias("t"))).agg(F.max("t")).first()
    latest = row[0] if row is not None else None
    if latest is None:
        raise NoEventsError("no posts or interactions in the raw tables: ingest an export first "
                            "(`genuine ingest EXPORT_DIR`)")
    return latest.date()


def _ensure_checkpoint_dir(spark: SparkSession, cfg: Config, scfg: SnapshotConfig) -> str | None:
    """Give the graph algorithms a reliable checkpoint dir when the session has none; the dir we own, if any."""
    sc = spark.sparkContext
    current = sc.getCheckpointDir()
    if current is None:
        root = scfg.checkpoint_dir
        sc.setCheckpointDir(root if "://" in root or Path(root).is_absolute() else _under_lake(cfg, root))
        current = sc.getCheckpointDir()
        if current is not None:
            _OWNED_CHECKPOINT_DIRS.add(current)
    return current if current in _OWNED_CHECKPOINT_DIRS else None


def _under_lake(cfg: Config, rel: str) -> str:
    root = cfg.lake.root
    return root.rstrip("/") + "/" + rel if "://" in root else str((Path(root) / rel).resolve())


def _empty_checkpoints(spark: SparkSession, directory: str) -> None:
    """Delete this run's checkpoint files (Spark recreates the folder on the next checkpoint)."""
    sc = spark.sparkContext
    jvm = sc._jvm
    assert jvm is not None, "checkpoint cleanup needs a classic (non-Connect) SparkContext"
    path = jvm.org.apache.hadoop.fs.Path(directory)
    path.getFileSystem(sc._jsc.hadoopConfiguration()).delete(path, True)  # type: ignore[union-attr]
    log.debug("emptied checkpoint dir %s", directory)


def _committed(lake: Lake, run_id: str) -> FeatureRun | None:
    """What a committed run with this id wrote (None when it wrote nothing yet): a retry returns this."""
    if not lake.exists(JOB) or not lake.already_committed(JOB, (JOB, run_id)):
        return None
    rows = lake.read(JOB).where(F.col("run_id") == run_id)
    head = rows.select("snapshot_date", "input_versions").limit(1).collect()
    n = rows.count()
    if not head:
        log.warning("run %s committed a snapshot that a later run has since replaced", run_id)
        return FeatureRun(run_id, None, 0, None, {}, skipped="committed, since replaced")
    return FeatureRun(run_id, head[0]["snapshot_date"], n, None, dict(head[0]["input_versions"] or {}),
                      skipped="txn already committed")


def read_inputs(ctx: JobContext) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """Raw tables at the versions recorded in the ledger; an absent table is an empty frame of its schema."""
    versions: dict[str, int] = {}
    frames: dict[str, DataFrame] = {}
    for entity, schema in RAW_SCHEMAS.items():
        table = RAW_TABLE[entity]
        v = ctx.ledger.read(table)
        if v is None:
            frames[entity] = ctx.spark.createDataFrame([], schema)
        else:
            versions[table] = v
            frames[entity] = ctx.lake.read(table, version=v)
    return frames, versions


def run(cfg: Config, as_of: date | None = None, run_id: str | None = None,
        spark: SparkSession | None = None, truth: Path | str | None = None) -> FeatureRun:
    """Compute (or, on a retry, find) the snapshot; with `truth`, also write the separation report."""
    fcfg: FeaturesConfig = cfg.section("features", FeaturesConfig)
    truth = Path(truth) if truth is not None else None
    if truth is not None and not truth.exists():
        raise TruthError(f"ground truth not found: {truth}")
    params = {"as_of": str(as_of) if as_of else None, "truth": str(truth) if truth else None}
    with job(JOB, cfg, params, run_id, spark) as ctx:
        lake = ctx.lake
        owned = _ensure_checkpoint_dir(ctx.spark, cfg, fcfg.snapshot)
        try:
            result = _committed(lake, ctx.run_id) if run_id else None
            if result is not None:
                log.info("run %s already committed its snapshot %s (%d rows): nothing to write",
                         ctx.run_id, result.snapshot_date, result.accounts)
            else:
                result = _compute(ctx, fcfg, as_of)
        finally:
            if owned:
                _empty_checkpoints(ctx.spark, owned)
        if truth is not None and result.snapshot_date is not None and result.accounts:
            result.report = separation_report(lake, result.snapshot_date, truth, fcfg.separation)
        return result


def _compute(ctx: JobContext, fcfg: FeaturesConfig, as_of: date | None) -> FeatureRun:
    lake = ctx.lake
    frames, versions = read_inputs(ctx)
    snapshot_date = as_of or default_snapshot_date(frames["interactions"], frames["posts"])
    scores = post_scores(lake, ctx.cfg, frames["posts"], ctx.run_id)
    inputs = Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                    frames["reports"], frames["labels"], scores)
    snap = build_snapshot(inputs, snapshot_date, FamilyConfigs.of(fcfg), versions, ctx.run_id).cache()
    try:
        n = snap.count()
        result = lake.overwrite(JOB, snap, predicate=f"snapshot_date = DATE'{snapshot_date.isoformat()}'",
                                schema=FEATURE_TABLE, txn=(JOB, ctx.run_id))
    finally:
        snap.unpersist()
    ctx.ledger.wrote(JOB, result)
    ctx.ledger.count("accounts", n)
    log.info("feature snapshot %s: %d accounts -> %s (version %s)", snapshot_date, n, lake.uri(JOB), result.version)
    return FeatureRun(ctx.run_id, snapshot_date, n, result.version, versions,
                      skipped=result.skipped if result.version is None else None)


def read_truth(lake: Lake, truth: Path, scfg: SeparationConfig) -> DataFrame:
    """The ground-truth table (account_id + group columns), checked before any work is done on it."""
    df = lake.spark.read.parquet(str(truth.resolve()))
    needed = ["account_id", scfg.group_column, scfg.population_column]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise TruthError(f"{truth} lacks column(s) {missing} (has {df.columns}); see features.separation in conf")
    return df.select(*needed)


def separation_report(lake: Lake, snapshot_date: date, truth: Path, scfg: SeparationConfig) -> SeparationReport:
    """Per-feature AUCs of one stored snapshot against the ground truth, as Markdown + heatmaps."""
    snap = lake.read(JOB).where(F.col("snapshot_date") == F.lit(snapshot_date))
    aucs = separation_aucs(snap, read_truth(lake, truth, scfg), FEATURE_NAMES, baseline=scfg.baseline,
                           group_column=scfg.group_column, population_column=scfg.population_column)
    table = pd.DataFrame(aucs.toPandas())   # one row per (feature, group): a few hundred rows
    if table.empty:
        log.warning("no account of snapshot %s is in %s or no group other than %r: empty separation report",
                    snapshot_date, truth, scfg.baseline)
    out_dir = Path(lake.cfg.reports.root, scfg.out_dir, snapshot_date.isoformat())   # an absolute out_dir wins
    return write_report(table, ALL_FEATURES, out_dir, scfg, f"snapshot {snapshot_date}, truth {truth.name}")


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="snapshot date (UTC), default: latest event")
    p.add_argument("--truth", type=Path, default=None, help="simulator ground truth for the separation report")
    args = p.parse_args(argv)
    run(config_from(args), args.as_of, args.run_id, truth=args.truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
