"""Train the account model on labels joined point-in-time to feature snapshots, then run promotion.

spark-submit jobs/train.py [--truth DIR/_truth/accounts.parquet]
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.config import Config
from jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)


@dataclass
class TrainRun:
    run_id: str
    train: object       # models.account_model.TrainResult
    decision: object    # models.promotion.PromotionDecision


def run(cfg: Config, truth: Path | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> TrainRun:
    from features.catalog import ALL_FEATURES
    from models.account_model import ModelConfig, configure_mlflow, train_account_model, training_frame
    from models.promotion import promote

    mcfg = cfg.section("model", ModelConfig)
    with job("train", cfg, {"truth": str(truth) if truth else None}, run_id, spark) as ctx:
        lake = ctx.lake
        fv = ctx.ledger.read("features")
        lv = ctx.ledger.read("raw_labels")
        if fv is None or lv is None:
            raise ValueError("training needs the features and raw_labels tables: run ingest and features first")
        labels = lake.read("raw_labels", version=lv).select("account_id", "label", "source", "decided_at")
        frame = training_frame(labels, lake.read("features", version=fv), mcfg.positive_label)
        verified = lake.read("raw_accounts").select("account_id", F.coalesce("verified", F.lit(False)).alias("verified"))
        pdf = frame.join(verified, "account_id", "left").toPandas()   # labelled accounts only: small
        truth_pdf = pd.read_parquet(truth) if truth else None
        lineage = {"feature_table": cfg.table("features"), "feature_table_version": fv,
                   "snapshot_dates": ",".join(map(str, sorted(pdf.snapshot_date.dropna().unique()))),
                   "labels_table_version": lv, "job_run_id": ctx.run_id, "config_hash": cfg.fingerprint()}
        result = train_account_model(pdf, ALL_FEATURES, mcfg, truth=truth_pdf, mlflow_cfg=cfg.mlflow, lineage=lineage)
        decision = promote(configure_mlflow(cfg.mlflow), cfg.mlflow.account_model, result.model_version,
                           result.holdout, mcfg.gates)
        ctx.ledger.count("training_rows", len(pdf))
        log.info("trained %s v%s (%s); promotion: %s", result.model_name, result.model_version, result.chosen,
                 decision)
        return TrainRun(ctx.run_id, result, decision)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--truth", type=Path, default=None, help="simulator ground truth for per-strategy evaluation")
    args = p.parse_args(argv)
    run(config_from(args), args.truth, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
