"""Train the account model on labels joined point-in-time to feature snapshots, then run promotion.

spark-submit jobs/train.py [--truth DIR/_truth/accounts.parquet]
spark-submit jobs/train.py --promote VERSION [--force]     (re-run the gates for a registered version)
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.errors import TableNotFound
from genuine.features.catalog import ALL_FEATURES
from genuine.jobs.common import base_parser, config_from, job
from genuine.models.config import ModelConfig
from genuine.models.labels import labelled_accounts, read_truth
from genuine.models.monitoring import sample_population
from genuine.models.promotion import PromotionDecision, promote, promote_registered
from genuine.models.training import TrainResult, train_account_model

log = logging.getLogger(__name__)


@dataclass
class TrainRun:
    run_id: str
    train: TrainResult
    decision: PromotionDecision


def run(cfg: Config, truth: Path | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> TrainRun:
    mcfg = cfg.section("model", ModelConfig)
    truth_pdf = read_truth(truth, mcfg.protected_strategies) if truth else None
    with job("train", cfg, {"truth": str(truth) if truth else None}, run_id, spark) as ctx:
        lake = ctx.lake
        fv = ctx.ledger.read("features")
        lv = ctx.ledger.read("raw_labels")
        if fv is None or lv is None:
            missing = [t for t, v in (("features", fv), ("raw_labels", lv)) if v is None]
            raise TableNotFound(f"training needs the {' and '.join(missing)} table(s) under {cfg.lake.root}: "
                                "run `genuine ingest` and `genuine features` first")
        av = ctx.ledger.read("raw_accounts")     # verified accounts are a protected population
        accounts = lake.read("raw_accounts", version=av) if av is not None else None
        frame = labelled_accounts(lake.read("raw_labels", version=lv), lake.read("features", version=fv), accounts,
                                  [f.name for f in ALL_FEATURES], mcfg.positive_label)
        pdf: pd.DataFrame = frame.toPandas()   # one row per labelled account: small
        lineage = {"feature_table": cfg.table("features"), "feature_table_version": fv,
                   "snapshot_dates": ",".join(map(str, sorted(pdf["snapshot_date"].dropna().unique()))),
                   "labels_table_version": lv, "accounts_table_version": av, "job_run_id": ctx.run_id,
                   "config_hash": cfg.fingerprint(), "truth": str(truth) if truth else None}
        lineage = {k: v for k, v in lineage.items() if v is not None}
        # the drift reference: every account of the latest training snapshot (what scoring sees), sampled
        latest = pdf["snapshot_date"].dropna().max()
        population = None if pd.isna(latest) else sample_population(
            lake.read("features", version=fv).where(F.col("snapshot_date") == F.lit(latest)),
            [f.name for f in ALL_FEATURES], mcfg.monitoring.reference_sample, mcfg.seed)
        result = train_account_model(pdf, ALL_FEATURES, mcfg, truth=truth_pdf, mlflow_cfg=cfg.mlflow, lineage=lineage,
                                     drift_population=population)
        decision = promote(tracking.configure(cfg.mlflow), cfg.mlflow.account_model, result.model_version,
                           result.holdout, mcfg.gates)
        ctx.ledger.count("training_rows", len(pdf))
        log.info("trained %s v%s (%s, MLflow run %s); promotion: %s, champion %s -> %s", result.model_name,
                 result.model_version, result.chosen, result.run_id,
                 "promoted" if decision.promoted else "rejected", decision.champion_before, decision.champion_after)
        return TrainRun(ctx.run_id, result, decision)


def promote_version(cfg: Config, version: str, force: bool = False) -> PromotionDecision:
    """Re-run the promotion gates for a registered version against the current champion (no Spark)."""
    return promote_registered(tracking.configure(cfg.mlflow), cfg.mlflow.account_model, version,
                              cfg.section("model", ModelConfig).gates, force=force, store=cfg.mlflow.tracking_uri)


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
        return 0 if promote_version(cfg, args.promote, args.force).promoted else 1
    run(cfg, args.truth, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
