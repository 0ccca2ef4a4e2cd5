"""Compute one feature snapshot for the whole account base (spark-submit jobs/features.py [--as-of DATE]).

Inputs are read at pinned Delta versions (recorded in the ledger and in the snapshot itself); posts
are scored by the registered text detector once per model version and cached in `post_scores`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from features.catalog import FEATURE_TABLE
from features.snapshot import FamilyConfigs, Inputs, build_snapshot
from genuine.config import Config
from genuine.lake import Lake
from genuine.schemas import RAW_SCHEMAS, RAW_TABLE
from jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)

POST_SCORES = StructType([StructField("post_id", StringType(), True), StructField("account_id", StringType(), True),
                          StructField("p_ai", DoubleType(), True), StructField("model_version", StringType(), True)])


@dataclass
class FeatureRun:
    run_id: str
    snapshot_date: date
    accounts: int
    version: int | None
    input_versions: dict[str, int]


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
    from models.text_detector import score_posts

    texts = todo.select("post_id", "account_id",
                        F.concat_ws("\n", F.coalesce("title", F.lit("")), F.coalesce("body", F.lit(""))).alias("text"))
    scored = score_posts(texts, uri, text_col="text").select(
        "post_id", "account_id", "p_ai", F.lit(version).alias("model_version"))
    lake.merge("post_scores", scored, keys=["post_id", "model_version"], when_matched="ignore",
               schema=POST_SCORES, txn=("features.post_scores", run_id))
    return lake.read("post_scores").where(F.col("model_version") == version).select("post_id", "account_id", "p_ai")


def default_snapshot_date(interactions: DataFrame, posts: DataFrame) -> date:
    latest = interactions.select(F.max("created_at").alias("t")).unionByName(
        posts.select(F.max("created_at").alias("t"))).agg(F.max("t")).first()[0]
    if latest is None:
        raise ValueError("no events in the raw tables: ingest an export first")
    return latest.date()


def run(cfg: Config, as_of: date | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> FeatureRun:
    params = {"as_of": str(as_of) if as_of else None}
    with job("features", cfg, params, run_id, spark) as ctx:
        lake = ctx.lake
        versions: dict[str, int] = {}
        frames: dict[str, DataFrame] = {}
        for entity, schema in RAW_SCHEMAS.items():
            table = RAW_TABLE[entity]
            v = ctx.ledger.read(table)
            if v is None:
                frames[entity] = ctx.spark.createDataFrame([], schema)
            else:
                versions[table] = v
                frames[entity] = lake.read(table, version=v)
        snapshot_date = as_of or default_snapshot_date(frames["interactions"], frames["posts"])
        scores = post_scores(lake, cfg, frames["posts"], ctx.run_id)
        inputs = Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                        frames["reports"], frames["labels"], scores)
        snap = build_snapshot(inputs, snapshot_date, FamilyConfigs.from_section(cfg.features), versions, ctx.run_id)
        snap = snap.cache()
        n = snap.count()
        result = lake.overwrite("features", snap, predicate=f"snapshot_date = DATE'{snapshot_date.isoformat()}'",
                                schema=FEATURE_TABLE, txn=("features", ctx.run_id))
        ctx.ledger.wrote("features", result)
        ctx.ledger.count("accounts", n)
        snap.unpersist()
        log.info("feature snapshot %s: %d accounts -> %s (version %s)", snapshot_date, n, lake.uri("features"),
                 result.version)
        return FeatureRun(ctx.run_id, snapshot_date, n, result.version, versions)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="snapshot date (UTC), default: latest event")
    p.add_argument("--truth", type=Path, default=None, help="simulator ground truth for the separation report")
    args = p.parse_args(argv)
    run(config_from(args), args.as_of, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
