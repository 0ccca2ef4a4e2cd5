"""Train the account model on labels joined point-in-time to feature snapshots, then run promotion.

The labels and the training step are shared with jobs/retrain.py (which fixes a recent holdout instead
of a random one).

spark-submit jobs/train.py [--truth DIR/_truth/accounts.parquet]
spark-submit jobs/train.py --promote VERSION [--force]     (re-run the gates for a registered version)

With --promote the exit status is retrain's: 0 when VERSION is champion afterwards (promoted, forced, or
already), EXIT_NOT_PROMOTED (5, genuine.core.errors) when the gates refused it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.errors import EXIT_NOT_PROMOTED, TableNotFound
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.decisions import labels_from_decisions
from genuine.features.catalog import ALL_FEATURES
from genuine.jobs.common import JobContext, base_parser, config_from, job
from genuine.models.config import ModelConfig
from genuine.models.labels import label_history, labelled_accounts, read_truth
from genuine.models.monitoring import sample_population
from genuine.models.promotion import PromotionDecision, promote, promote_registered
from genuine.models.retraining import LABELS_CUTOFF, labels_cutoff
from genuine.models.training import TrainResult, train_account_model

log = logging.getLogger(__name__)


@dataclass
class TrainRun:
    run_id: str
    train: TrainResult
    decision: PromotionDecision


@dataclass
class TrainingData:
    """Every label so far joined point in time to the snapshots, and the table versions it came from."""
    frame: pd.DataFrame                 # labelled_accounts, one row per labelled account (small)
    feature_version: int
    lineage: dict[str, Any]


def training_data(ctx: JobContext, mcfg: ModelConfig) -> TrainingData:
    """The labels of every source (imported raw_labels, moderator decisions and appeal outcomes from the
    decisions table, each at its decision time; the same decision stored in both counts once), the latest
    per account (an appeal overturns the decision it judged) joined point in time to the snapshots."""
    cfg, lake = ctx.cfg, ctx.lake
    fv = ctx.ledger.read("features")
    lv = ctx.ledger.read("raw_labels")
    dv = ctx.ledger.read("decisions")
    if fv is None or (lv is None and dv is None):
        missing = [t for t, v in (("features", fv), ("raw_labels", lv if dv is None else dv)) if v is None]
        raise TableNotFound(f"training needs the {' and '.join(missing)} table(s) under {cfg.lake.root}: "
                            "run `genuine ingest` and `genuine features` first")
    raw = lake.read("raw_labels", version=lv) if lv is not None else None
    human = None
    if dv is not None:
        applied = lake.read("decisions", version=dv).where(F.col("applied"))
        human = labels_from_decisions(applied, enforcement_config(cfg), ctx.run_id)
    av = ctx.ledger.read("raw_accounts")     # verified accounts are a protected population
    accounts = lake.read("raw_accounts", version=av) if av is not None else None
    frame = labelled_accounts(label_history(raw, human), lake.read("features", version=fv), accounts,
                              [f.name for f in ALL_FEATURES], mcfg.positive_label, mcfg.retrain.source_precedence)
    pdf: pd.DataFrame = frame.toPandas()   # one row per labelled account: small
    lineage = {"feature_table": cfg.table("features"), "feature_table_version": fv,
               "snapshot_dates": ",".join(map(str, sorted(pdf["snapshot_date"].dropna().unique()))),
               "labels_table_version": lv, "decisions_table_version": dv, "accounts_table_version": av,
               "job_run_id": ctx.run_id, "config_hash": cfg.fingerprint()}
    return TrainingData(pdf, fv, {k: v for k, v in lineage.items() if v is not None})


def train_and_promote(ctx: JobContext, mcfg: ModelConfig, data: TrainingData, truth: Path | None,
                      truth_pdf: pd.DataFrame | None, holdout_ids: Collection[str] | None = None) -> TrainRun:
    """Train with the recipe of models/training.py on every account but `holdout_ids` (None: a random
    holdout), register the version with when its accounts were first labelled (the next retraining's
    holdout starts after it), run the promotion gates."""
    cfg, pdf = ctx.cfg, data.frame
    trained_on = pdf if holdout_ids is None else pdf[~pdf["account_id"].isin(set(holdout_ids))]
    lineage = {**data.lineage, LABELS_CUTOFF: labels_cutoff(trained_on[trained_on["snapshot_date"].notna()]),
               "truth": str(truth) if truth else None}
    # the drift reference: every account of the latest training snapshot (what scoring sees), sampled
    latest = pdf["snapshot_date"].dropna().max()
    population = None if pd.isna(latest) else sample_population(
        ctx.lake.read("features", version=data.feature_version).where(F.col("snapshot_date") == F.lit(latest)),
        [f.name for f in ALL_FEATURES], mcfg.monitoring.reference_sample, mcfg.seed)
    result = train_account_model(pdf, ALL_FEATURES, mcfg, truth=truth_pdf, mlflow_cfg=cfg.mlflow,
                                 lineage={k: v for k, v in lineage.items() if v is not None},
                                 drift_population=population, holdout_ids=holdout_ids)
    decision = promote(tracking.configure(cfg.mlflow), cfg.mlflow.account_model, result.model_version,
                       result.holdout, mcfg.gates)
    ctx.ledger.count("training_rows", len(pdf))
    log.info("trained %s v%s (%s, MLflow run %s); promotion: %s, champion %s -> %s", result.model_name,
             result.model_version, result.chosen, result.run_id,
             "promoted" if decision.promoted else "rejected", decision.champion_before, decision.champion_after)
    return TrainRun(ctx.run_id, result, decision)


def run(cfg: Config, truth: Path | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> TrainRun:
    mcfg = cfg.section("model", ModelConfig)
    truth_pdf = read_truth(truth, mcfg.protected_strategies) if truth else None
    with job("train", cfg, {"truth": str(truth) if truth else None}, run_id, spark) as ctx:
        return train_and_promote(ctx, mcfg, training_data(ctx, mcfg), truth, truth_pdf)


def promote_version(cfg: Config, version: str, force: bool = False) -> PromotionDecision:
    """Re-run the promotion gates for a registered version against the current champion (no Spark)."""
    return promote_registered(tracking.configure(cfg.mlflow), cfg.mlflow.account_model, version,
                              cfg.section("model", ModelConfig).gates, force=force, store=cfg.mlflow.tracking_uri)


def promotion_exit_status(decision: PromotionDecision) -> int:
    """0 when the version is champion after the decision (promoted, forced or already), EXIT_NOT_PROMOTED
    when the gates refused it: the status `retrain` exits with, so a scheduler reads both alike."""
    return 0 if decision.champion_after == decision.challenger_version else EXIT_NOT_PROMOTED


def parser() -> argparse.ArgumentParser:
    """The entrypoint's arguments (also what the schedules are checked against, tests/schedules)."""
    p = base_parser(__doc__ or "")
    p.add_argument("--truth", type=Path, default=None, help="simulator ground truth for per-strategy evaluation")
    p.add_argument("--promote", default=None, metavar="VERSION", help="only re-run the gates for this version")
    p.add_argument("--force", action="store_true", help="with --promote: move champion even if gates fail")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cfg = config_from(args)
    if args.promote is not None:
        return promotion_exit_status(promote_version(cfg, args.promote, args.force))
    run(cfg, args.truth, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
