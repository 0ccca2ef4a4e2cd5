"""Train the account model on labels joined point-in-time to feature snapshots, then run promotion.

spark-submit jobs/train.py [--truth DIR/_truth/accounts.parquet]
spark-submit jobs/train.py --promote VERSION [--force]     (re-run the gates for a registered version)
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.errors import TableNotFound, VersionNotFound
from genuine.jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)


@dataclass
class TrainRun:
    run_id: str
    train: Any       # models.account_model.TrainResult
    decision: Any    # models.promotion.PromotionDecision


def read_truth(path: Path, protected: list[str]) -> pd.DataFrame:
    """Simulator ground truth (file or parquet folder); a protected strategy that never occurs in it is
    named, since its FPR would silently be missing from the gates."""
    if not Path(path).exists():
        raise FileNotFoundError(f"truth file not found: {path}")
    truth = pd.read_parquet(path)
    absent = sorted(set(protected) - set(truth.get("strategy", pd.Series(dtype=object)).dropna().unique()))
    if absent:
        log.warning("protected strategies %s do not occur in the truth %s: no FPR gate for them", absent, path)
    return truth


def run(cfg: Config, truth: Path | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> TrainRun:
    from genuine.features.catalog import ALL_FEATURES
    from genuine.models.account_model import (
        ModelConfig,
        configure_mlflow,
        train_account_model,
        training_frame,
    )
    from genuine.models.promotion import promote

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
        names = [f.name for f in ALL_FEATURES]
        labels = lake.read("raw_labels", version=lv).select("account_id", "label", "source", "decided_at")
        feats = lake.read("features", version=fv).select("account_id", "snapshot_date", "as_of", *names)
        frame = training_frame(labels, feats, mcfg.positive_label)
        av = ctx.ledger.read("raw_accounts")
        if av is not None:      # verified accounts are a protected population
            verified = lake.read("raw_accounts", version=av).select(
                "account_id", F.coalesce("verified", F.lit(False)).alias("verified")).dropDuplicates(["account_id"])
            frame = frame.join(verified, "account_id", "left")
        pdf: pd.DataFrame = frame.toPandas()   # one row per labelled account: small
        lineage = {"feature_table": cfg.table("features"), "feature_table_version": fv,
                   "snapshot_dates": ",".join(map(str, sorted(pdf["snapshot_date"].dropna().unique()))),
                   "labels_table_version": lv, "accounts_table_version": av, "job_run_id": ctx.run_id,
                   "config_hash": cfg.fingerprint(), "truth": str(truth) if truth else None}
        lineage = {k: v for k, v in lineage.items() if v is not None}
        result = train_account_model(pdf, ALL_FEATURES, mcfg, truth=truth_pdf, mlflow_cfg=cfg.mlflow, lineage=lineage)
        decision = promote(configure_mlflow(cfg.mlflow), cfg.mlflow.account_model, result.model_version,
                           result.holdout, mcfg.gates)
        ctx.ledger.count("training_rows", len(pdf))
        log.info("trained %s v%s (%s, MLflow run %s); promotion: %s, champion %s -> %s", result.model_name,
                 result.model_version, result.chosen, result.run_id,
                 "promoted" if decision.promoted else "rejected", decision.champion_before, decision.champion_after)
        return TrainRun(ctx.run_id, result, decision)


def promote_version(cfg: Config, version: str, force: bool = False) -> Any:
    """Re-run the promotion gates for a registered version against the current champion, on the holdout
    that version's training run logged (no Spark: everything needed is in the MLflow store)."""
    from mlflow.exceptions import MlflowException

    from genuine.models.account_model import ModelConfig, configure_mlflow
    from genuine.models.promotion import load_holdout, promote

    mcfg = cfg.section("model", ModelConfig)
    client = configure_mlflow(cfg.mlflow)
    name = cfg.mlflow.account_model
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        raise VersionNotFound(f"{name} has no version {version} in {cfg.mlflow.tracking_uri}") from None
    if not mv.run_id:
        raise VersionNotFound(f"{name} version {version} has no training run: not trained by genuine")
    decision = promote(client, name, str(mv.version), load_holdout(client, mv.run_id), mcfg.gates, force=force)
    log.info("promotion of %s v%s: %s, champion %s -> %s", name, mv.version,
             "promoted" if decision.promoted else "rejected", decision.champion_before, decision.champion_after)
    return decision


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--truth", type=Path, default=None, help="simulator ground truth for per-strategy evaluation")
    p.add_argument("--promote", default=None, metavar="VERSION", help="only re-run the gates for this version")
    p.add_argument("--force", action="store_true", help="with --promote: move champion even if gates fail")
    args = p.parse_args(argv)
    cfg = config_from(args)
    if args.promote is not None:
        return 0 if promote_version(cfg, args.promote, args.force).promoted else 1
    run(cfg, args.truth, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
