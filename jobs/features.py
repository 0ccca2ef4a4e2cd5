"""Compute one feature snapshot for the whole account base (spark-submit jobs/features.py [--as-of DATE]).

Inputs are read at pinned Delta versions (recorded in the ledger and in the snapshot itself); posts
are scored by the registered text detector once per model version and cached in `post_scores`. The
snapshot replaces any earlier snapshot of the same date in one Delta transaction carrying the run id,
so a retried run (same run id) writes nothing twice and a re-run (new run id) leaves one row per account.
With `--truth` (the simulator's ground truth) it also writes the separation report.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from genuine.core import catalog, tracking
from genuine.core.config import Config
from genuine.core.errors import TruthError
from genuine.core.lake import Lake
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.features.catalog import FEATURE_TABLE
from genuine.features.checkpoints import run_checkpoints
from genuine.features.post_scores import no_scores, text_model_uri, unscored_texts
from genuine.features.separation import read_truth, separation_report
from genuine.features.snapshot import (
    FamilyConfigs,
    FeatureRun,
    FeaturesConfig,
    Inputs,
    build_snapshot,
    committed_run,
    default_snapshot_date,
)
from genuine.features.state import (
    CHANGE_DAYS,
    CONTENT_DAYS,
    FINGERPRINTED,
    NETWORK_DAYS,
    listed_day_files,
    update_behaviour_state,
    update_behaviour_totals,
    update_change_state,
    update_content_state,
    update_network_state,
)
from genuine.features.state import DAYS as BEHAVIOUR_DAYS
from genuine.jobs.common import JobContext, base_parser, config_from, job
from genuine.jobs.io import merge, read_pinned
from genuine.lib.timing import timed
from genuine.models.text_detector import score_posts

log = logging.getLogger(__name__)

JOB = "features"


def post_scores(lake: Lake, cfg: Config, posts: DataFrame, run_id: str) -> DataFrame:
    """p_ai for every post; only posts this model version has not scored yet are scored."""
    model = text_model_uri(cfg)
    if model is None:
        log.warning("no text detector registered as %s@champion: AI-text features will be null "
                    "(run `genuine train-text-detector` first)", cfg.mlflow.text_model)
        return no_scores(posts)
    uri, version = model
    done = lake.read_or_empty("post_scores", catalog.schema("post_scores")).where(F.col("model_version") == version)
    tracking.configure(cfg.mlflow)      # the executors resolve the models:/ uri through the process's registry
    scored = score_posts(unscored_texts(posts, done), uri, text_col="text").select(
        "post_id", "account_id", "p_ai", F.lit(version).alias("model_version"))
    merge(lake, "post_scores", scored, ("features.post_scores", run_id))
    return lake.read("post_scores").where(F.col("model_version") == version).select("post_id", "account_id", "p_ai")


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
        with run_checkpoints(ctx.spark, cfg.lake.root, fcfg.snapshot):
            if run_id and lake.exists(JOB) and lake.already_committed(JOB, (JOB, ctx.run_id)):
                result = committed_run(lake.read(JOB).where(F.col("run_id") == ctx.run_id), ctx.run_id)
                log.info("run %s already committed its snapshot %s (%d rows): nothing to write",
                         ctx.run_id, result.snapshot_date, result.accounts)
            else:
                result = _compute(ctx, fcfg, as_of)
        if truth is not None and result.snapshot_date is not None and result.accounts:
            snap = lake.read(JOB).where(F.col("snapshot_date") == F.lit(result.snapshot_date))
            result.report = separation_report(snap, read_truth(ctx.spark, truth, fcfg.separation),
                                              result.snapshot_date, truth, cfg.reports.root, fcfg.separation)
        return result


def _compute(ctx: JobContext, fcfg: FeaturesConfig, as_of: date | None) -> FeatureRun:
    lake, ledger = ctx.lake, ctx.ledger
    # Raw tables at the versions recorded in the ledger; an absent table is an empty frame of its schema.
    frames = {entity: read_pinned(lake, ledger, RAW_TABLE[entity]) for entity in RAW_SCHEMAS}
    versions = {t: ledger.inputs[t] for t in (RAW_TABLE[e] for e in RAW_SCHEMAS) if t in ledger.inputs}
    snapshot_date = as_of or default_snapshot_date(frames["interactions"], frames["posts"])
    with timed(log, "features: post scores"):
        scores = post_scores(lake, ctx.cfg, frames["posts"], ctx.run_id)
    inputs = Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                    frames["reports"], frames["labels"], scores)
    if fcfg.incremental:
        # which raw part files hold each day, from the logs at the versions read: days whose files did not
        # change since the state counted them are not counted again
        files = listed_day_files(lake, versions, FINGERPRINTED)
        with timed(log, "features: behaviour state"):
            partials, replies = update_behaviour_state(lake, frames["posts"], frames["interactions"], snapshot_date,
                                                       fcfg.behaviour, ledger, files[BEHAVIOUR_DAYS])
            totals = update_behaviour_totals(lake, frames["accounts"], partials, snapshot_date, fcfg.behaviour,
                                             ledger)
        with timed(log, "features: content state"):
            docs, texts = update_content_state(lake, frames["posts"], frames["interactions"], snapshot_date,
                                               fcfg.content, ledger, files[CONTENT_DAYS])
        with timed(log, "features: network state"):
            pairs = update_network_state(lake, frames["interactions"], snapshot_date, fcfg.network, ledger,
                                         files[NETWORK_DAYS])
        with timed(log, "features: change state"):
            sessions, events = update_change_state(lake, frames["posts"], frames["interactions"], frames["sessions"],
                                                   snapshot_date, fcfg.change, ledger, files[CHANGE_DAYS])
        inputs = replace(inputs, behaviour_totals=totals, behaviour_replies=replies, content_docs=docs,
                         content_texts=texts, network_pairs=pairs, change_sessions=sessions, change_events=events)
    snap = build_snapshot(inputs, snapshot_date, FamilyConfigs.of(fcfg), versions, ctx.run_id).cache()
    try:
        n = snap.count()
        result = lake.overwrite(JOB, snap, predicate=f"snapshot_date = DATE'{snapshot_date.isoformat()}'",
                                schema=FEATURE_TABLE, txn=(JOB, ctx.run_id),
                                partition_by=catalog.table(JOB).partition_by)
    finally:
        snap.unpersist()
    ledger.wrote(JOB, result)
    ledger.count("accounts", n)
    log.info("feature snapshot %s: %d accounts -> %s (version %s)", snapshot_date, n, lake.uri(JOB), result.version)
    return FeatureRun(ctx.run_id, snapshot_date, n, result.version, versions,
                      skipped=result.skipped if result.version is None else None)


def parser() -> argparse.ArgumentParser:
    """The entrypoint's arguments (also what the schedules are checked against, tests/schedules)."""
    p = base_parser(__doc__ or "")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="snapshot date (UTC), default: latest event")
    p.add_argument("--truth", type=Path, default=None, help="simulator ground truth for the separation report")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run(config_from(args), args.as_of, args.run_id, truth=args.truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
