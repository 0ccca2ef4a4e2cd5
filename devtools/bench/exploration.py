"""`genuine bench exploration`: does exploration bring a kind of bot nobody labelled to the moderators?

On a simulated platform already ingested and featurized (the demo's lake, or any other with the
simulator's `_truth/accounts.parquet`), for each AI strategy in turn:
1. every label of that strategy is removed: the platform has never seen it;
2. day by day: the account model is retrained on the labels so far (the training recipe: calibrated
   candidate with its novelty column, thresholds as `model.thresholds_from` says), every account is scored,
   the enforcement policy (`decide`, with its exploration slots) and the queue order (`interleave_rank`)
   pick what moderators open, the first `capacity` unlabelled items are decided by simulated moderators
   (the truth, wrong at the simulator's moderator error rate), and their decisions become labels;
3. each day's figures: the share of the held-out strategy *caught* (confirmed by the moderators so far, or
   flagged at the score that flags 0.5 % of the unlabelled humans), and the recall and PR-AUC of its
   still-unlabelled accounts (never the model's own training rows; NaN once none is left). Day 0 is
   leave-one-strategy-out on the whole platform.

Run with exploration_share 0 and with the configured share, the same days and seeds: the difference is
what exploration buys. Simplification: one feature snapshot (the latest) serves every day, so the
figures measure the label loop, not drift.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.lake import Lake
from genuine.enforcement.config import EnforcementConfig, enforcement_config
from genuine.enforcement.policy import ROUTE_EXPLORATION, decide
from genuine.enforcement.review import interleave_rank, queue_priority
from genuine.enforcement.schemas import OUTCOME_REVIEW, SCORE_INPUT
from genuine.features.catalog import ALL_FEATURES, BY_NAME
from genuine.models.config import ModelConfig
from genuine.models.labels import latest_labels, read_truth
from genuine.models.training import (
    band_thresholds,
    build_calibrated,
    build_novelty,
    feature_families,
    split_roles,
)

log = logging.getLogger(__name__)

HUMAN_FPR = 0.005        # recall is read at the score that flags this share of humans


@dataclass(frozen=True)
class Platform:
    """What the loop needs, in pandas: one feature row per account, truth, the labels, protection."""

    features: pd.DataFrame      # account_id + feature columns (the latest snapshot)
    truth: pd.DataFrame         # account_id, population, strategy
    labels: pd.DataFrame        # account_id, y (1 = ai_managed): the latest label per account
    accounts: pd.DataFrame      # account_id, verified, declared_ai_assisted
    names: list[str]            # the model's feature columns


def recall_at_human_fpr(scores: np.ndarray, is_target: np.ndarray, is_human: np.ndarray,
                        fpr: float = HUMAN_FPR) -> float:
    """Share of the target accounts scoring above the score that flags `fpr` of the humans (NaN: none)."""
    if not is_target.any():
        return float("nan")
    cut = np.quantile(scores[is_human], 1.0 - fpr)
    return float((scores[is_target] > cut).mean())


def _fit(p: Platform, labels: pd.DataFrame, names: list[str], mcfg: ModelConfig) -> tuple[Any, Any, Any]:
    df = labels.merge(p.features, on="account_id")
    role = split_roles(df["y"], mcfg, holdout=False)
    X, y = df[names], df["y"].to_numpy()
    fit, val = role == "fit", role == "validation"
    families = feature_families([BY_NAME[n] for n in names if n in BY_NAME])   # catalogued features only
    model = build_calibrated(mcfg.candidates[0], mcfg, int(fit.sum()), families).fit(X[fit], y[fit])
    thresholds, _ = band_thresholds(model.predict_proba(X[val])[:, 1], X, y, fit, val, mcfg.candidates[0],
                                    mcfg, families)
    return model, thresholds, build_novelty(mcfg).fit(X[fit])


def _queue(spark: SparkSession, scored: pd.DataFrame, accounts: pd.DataFrame, ecfg: EnforcementConfig,
           auto_threshold: float) -> pd.DataFrame:
    """The first `capacity` accounts moderators open: the real policy and queue order over these scores.
    Reach is not part of the loop (0 for all): priority is the uncertainty term alone. Accounts the
    policy acts on automatically are not reviewed, as on the platform."""
    schema = StructType([*SCORE_INPUT.fields, StructField("novelty", DoubleType(), True)])
    now = datetime.now(UTC)
    rows = [(a, now.date(), float(s), b, "bench", "0", "bench", 0, "bench", [], now, float(n))
            for a, s, b, n in scored[["account_id", "score", "band", "novelty"]].itertuples(index=False)]
    acc = spark.createDataFrame(accounts[["account_id", "verified", "declared_ai_assisted"]])
    decisions, _ = decide(spark.createDataFrame(rows, schema), acc, [], ecfg, None)
    q = (decisions.filter(F.col("outcome") == OUTCOME_REVIEW).withColumn("reach", F.lit(0))
         .transform(queue_priority, ecfg.queue, auto_threshold)
         .transform(interleave_rank, ecfg.queue.exploration_share))
    return (q.filter(F.col("queue_rank") <= ecfg.queue.capacity).select("account_id", "route_reason", "queue_rank")
            .toPandas())


def moderator_loop(spark: SparkSession, p: Platform, strategy: str, share: float, days: int, mcfg: ModelConfig,
                   ecfg: EnforcementConfig, error_rate: float, seed: int) -> list[dict[str, Any]]:
    """One run of the loop for one held-out strategy and one exploration share: a row per day."""
    names = p.names
    ecfg = ecfg.model_copy(update={"queue": ecfg.queue.model_copy(update={"exploration_share": share})})
    rng = np.random.default_rng(seed)
    t = p.truth.set_index("account_id")
    unseen = ~p.labels["account_id"].map(t["strategy"]).eq(strategy)
    labels = p.labels[unseen.to_numpy()].copy()
    is_target = p.features["account_id"].map(t["strategy"]).eq(strategy).to_numpy()
    is_ai = p.features["account_id"].map(t["population"]).eq("ai").to_numpy()
    out = []
    for day in range(days + 1):
        started = time.process_time()
        model, thresholds, novelty = _fit(p, labels, names, mcfg)
        X = p.features[names]
        scores = model.predict_proba(X)[:, 1]
        # judged on accounts the model has not been trained on: unlabelled ones only
        fresh = ~p.features["account_id"].isin(labels["account_id"]).to_numpy()
        tgt, hum = is_target & fresh, ~is_ai & fresh
        pool = tgt | hum
        confirmed = labels.loc[labels["y"] == 1, "account_id"]
        is_confirmed = p.features["account_id"].isin(confirmed).to_numpy()
        cut = np.quantile(scores[hum], 1.0 - HUMAN_FPR)
        row = {"strategy": strategy, "share": share, "day": day, "n_unlabelled": int(tgt.sum()),
               # caught: confirmed by a moderator so far, or flagged at 0.5 % human FPR if not yet labelled
               "caught": float((is_confirmed[is_target] | (fresh & (scores > cut))[is_target]).mean()),
               "recall": recall_at_human_fpr(scores, tgt, hum),
               "pr_auc": float(average_precision_score(tgt[pool], scores[pool])),
               "labels_of_strategy": int(labels["account_id"].map(t["strategy"]).eq(strategy).sum()),
               "review_threshold": thresholds.review}
        if day < days:
            scored = p.features[["account_id"]].assign(score=scores, band=thresholds.band(scores),
                                                       novelty=novelty.score(X))
            scored = scored[~scored["account_id"].isin(labels["account_id"])]
            q = _queue(spark, scored, p.accounts, ecfg, thresholds.auto)
            truth_ai = q["account_id"].map(t["population"]).eq("ai").to_numpy()
            wrong = rng.random(len(q)) < error_rate
            decided = pd.DataFrame({"account_id": q["account_id"], "y": (truth_ai ^ wrong).astype(int)})
            labels = pd.concat([labels, decided], ignore_index=True)
            explored = (q["route_reason"] == ROUTE_EXPLORATION).to_numpy()
            row.update({"reviewed": len(q), "explored": int(explored.sum()),
                        "found_by_exploration": int((q["account_id"].map(t["strategy"]).eq(strategy)
                                                     .to_numpy() & explored).sum()),
                        "review_precision": float(truth_ai[~explored].mean()) if (~explored).any() else float("nan")})
        row["cpu_s"] = time.process_time() - started
        out.append(row)
        log.info("exploration loop %s share %.2f day %d: caught %.3f, recall of the unlabelled %.3f (%d labels "
                 "of it)", strategy, share, day, row["caught"], row["recall"], row["labels_of_strategy"])
    return out


def load_platform(spark: SparkSession, cfg: Config, truth_path: Path) -> Platform:
    """The latest feature snapshot, the latest label per account, protection flags, and the truth."""
    mcfg = cfg.section("model", ModelConfig)
    lake = Lake(spark, cfg)
    feats = lake.read("features")
    latest = feats.agg(F.max("snapshot_date")).first()[0]
    features = feats.where(F.col("snapshot_date") == F.lit(latest)).toPandas()
    lab = latest_labels(lake.read("raw_labels"), mcfg.positive_label).select("account_id", "label").toPandas()
    lab = lab[lab["label"].isin([mcfg.positive_label, mcfg.negative_label])]
    labels = pd.DataFrame({"account_id": lab["account_id"], "y": (lab["label"] == mcfg.positive_label).astype(int)})
    accounts = (lake.read("raw_accounts").groupBy("account_id")
                .agg(F.max("verified").alias("verified"), F.max("declared_ai_assisted").alias("declared_ai_assisted"))
                .toPandas())
    truth = read_truth(truth_path, mcfg.protected_strategies)[["account_id", "population", "strategy"]]
    # Features computed from labels are left out: the snapshot's were computed with the labels this bench
    # hides, which would leak back through them.
    return Platform(features, truth, labels, accounts, [f.name for f in ALL_FEATURES if not f.from_labels])


def bench_exploration(spark: SparkSession, cfg: Config, truth_path: Path, strategies: list[str], days: int,
                      error_rate: float, seed: int) -> pd.DataFrame:
    """Every (strategy, share) loop: share 0 and the configured exploration_share."""
    mcfg = cfg.section("model", ModelConfig)
    ecfg = enforcement_config(cfg)
    p = load_platform(spark, cfg, truth_path)
    rows: list[dict[str, Any]] = []
    with threadpool_limits(limits=mcfg.threads):
        for s in strategies:
            # day 0 does not depend on the share: with no day of review, one loop says it all
            for share in sorted({0.0, ecfg.queue.exploration_share} if days else {ecfg.queue.exploration_share}):
                rows += moderator_loop(spark, p, s, share, days, mcfg, ecfg, error_rate, seed)
    out = pd.DataFrame(rows)
    _log_mlflow(cfg, out, {"days": days, "error_rate": error_rate, "seed": seed, "truth": str(truth_path),
                           "capacity": ecfg.queue.capacity, "exploration_share": ecfg.queue.exploration_share,
                           "exploration_min_novelty": ecfg.queue.exploration_min_novelty})
    return out


def _log_mlflow(cfg: Config, out: pd.DataFrame, params: dict[str, Any]) -> None:
    """One MLflow run: recall per strategy and share as a metric with the day as its step, and the table."""
    tracking.configure(cfg.mlflow)
    with mlflow.start_run(run_name="exploration-loop"):
        mlflow.set_tag("genuine.kind", "exploration_loop")
        mlflow.log_params(params)
        for r in out.itertuples(index=False):
            for k in ("caught", "recall", "pr_auc"):
                mlflow.log_metric(f"loop.{r.strategy}.share_{r.share:.2f}.{k}", getattr(r, k), step=int(r.day))
        mlflow.log_text(out.to_csv(index=False), "evaluation/exploration_loop.csv")
