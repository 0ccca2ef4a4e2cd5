"""Training of the account model: candidates, calibration, thresholds, figures, registration in MLflow.

Training data are small (one row per labelled account, see labels.py), so the model is fitted with pandas
and scikit-learn on the driver; everything per-account over the whole base (the label join, scoring)
stays in Spark. Leave-one-strategy-out retrains the whole recipe without one AI strategy to say how the
model fares on a kind of bot it has never seen.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.delta_dataset_source import DeltaDatasetSource
from mlflow.data.pandas_dataset import from_pandas
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer
from threadpoolctl import threadpool_limits

from genuine.core import tracking
from genuine.core.config import MlflowConfig
from genuine.features.registry import Feature
from genuine.models import plots
from genuine.models.config import CandidateKind, ModelConfig
from genuine.models.ensemble import FamilyVote, member_memo
from genuine.models.evaluation import evaluate_scores, finite_metrics, safe_metric
from genuine.models.labels import prepare_training_data
from genuine.models.monitoring import drift_reference
from genuine.models.novelty import NoveltyScorer
from genuine.models.pyfunc import log_account_model
from genuine.models.thresholds import ThresholdChoice, Thresholds, choose_thresholds

log = logging.getLogger(__name__)

HOLDOUT_ARTIFACT = "evaluation/holdout.parquet"


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    model_uri: str                      # models:/<name>/<version>
    chosen: str                         # candidate kind picked by validation PR-AUC
    thresholds: Thresholds
    metrics: dict[str, float]
    holdout: pd.DataFrame               # account_id, features, y, population, strategy, protected_group
    validation_ids: list[str]
    reference: dict[str, Any] = field(repr=False)


def build_novelty(cfg: ModelConfig) -> NoveltyScorer:
    return NoveltyScorer(n_estimators=cfg.novelty.n_estimators, max_samples=cfg.novelty.max_samples,
                         random_state=cfg.seed)


def build_candidate(kind: CandidateKind, cfg: ModelConfig, n_fit: int) -> Pipeline:
    """Uncalibrated candidate pipelines, behind the novelty column when `novelty.as_feature`."""
    steps = _classifier_steps(kind, cfg, n_fit)
    if cfg.novelty.enabled and cfg.novelty.as_feature:
        steps.insert(0, ("novelty", build_novelty(cfg)))
    return Pipeline(steps)


def _classifier_steps(kind: CandidateKind, cfg: ModelConfig, n_fit: int) -> list[tuple[str, Any]]:
    """Trees take NaN natively (missing = too little activity is itself a signal); the linear model
    imputes and adds missing-indicators instead."""
    if kind == "hgb":
        h = cfg.hgb
        clf = HistGradientBoostingClassifier(
            learning_rate=h.learning_rate, max_iter=h.max_iter, max_leaf_nodes=h.max_leaf_nodes,
            min_samples_leaf=h.min_samples_leaf, l2_regularization=h.l2_regularization,
            max_features=h.max_features, early_stopping=h.early_stopping, class_weight=cfg.class_weight,
            random_state=cfg.seed)
        return [("clf", clf)]
    if kind == "logreg":
        return [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", QuantileTransformer(output_distribution="normal", n_quantiles=max(10, min(1000, n_fit)),
                                          random_state=cfg.seed)),
            ("clf", LogisticRegression(C=cfg.logreg.C, max_iter=cfg.logreg.max_iter, class_weight=cfg.class_weight)),
        ]
    raise ValueError(f"unknown candidate {kind!r}")


def build_calibrated(kind: CandidateKind, cfg: ModelConfig, n_fit: int,
                     families: Mapping[str, str] | None = None) -> CalibratedClassifierCV | FamilyVote:
    """Cross-fitted calibration on the fit split: the validation split stays untouched for thresholds.
    With `model.family_vote` and the features' families, the calibrated recipe is one member of a
    FamilyVote (models/ensemble.py)."""
    n_inner = n_fit * (cfg.calibration_folds - 1) // cfg.calibration_folds   # rows each fold model sees
    calibrated = CalibratedClassifierCV(
        build_candidate(kind, cfg, n_inner), method=cfg.calibration, ensemble=True,
        cv=StratifiedKFold(cfg.calibration_folds, shuffle=True, random_state=cfg.seed))
    if cfg.family_vote != "off" and families:
        return FamilyVote(calibrated, dict(families), cfg.family_vote)
    return calibrated


def feature_families(features: Sequence[Feature]) -> dict[str, str]:
    """Column -> family: the family vote's experts and the reference's `families`."""
    return {f.name: str(f.family) for f in features}


def human_reference(X_humans: pd.DataFrame, features: Sequence[Feature], cfg: ModelConfig,
                    importance: Mapping[str, float]) -> dict[str, Any]:
    """Per-feature quantile grid of human-labelled training accounts. Scoring places an account's value
    on this grid to say how rare it would be for a human; NaN (too little activity) is left out."""
    probs = np.linspace(0.0, 1.0, cfg.reasons.reference_quantiles)
    out: dict[str, Any] = {}
    for f in features:
        v = X_humans[f.name].to_numpy(dtype="float64")
        v = v[~np.isnan(v)]
        has = len(v) > 0
        out[f.name] = {
            "family": f.family, "direction": f.direction, "unit": f.unit, "n": int(len(v)),
            "grid": np.quantile(v, probs).tolist() if has else None,
            "p999": float(np.quantile(v, 0.999)) if has else None,
            "p001": float(np.quantile(v, 0.001)) if has else None,
            "importance": float(max(importance.get(f.name, 0.0), 0.0)) if cfg.reasons.weight_by_importance else 0.0,
        }
    return {
        "version": 1,
        "feature_order": [f.name for f in features],
        "families": feature_families(features),
        "quantiles": cfg.reasons.reference_quantiles,
        "top_k": cfg.reasons.top_k,
        "min_tail_percentile": cfg.reasons.min_tail_percentile,
        "n_humans": int(len(X_humans)),
        "features": out,
    }


def split_roles(y: pd.Series, cfg: ModelConfig, holdout: bool | np.ndarray = True) -> np.ndarray:
    """Stratified random roles: fit (trees + cross-fitted calibration), validation (model choice,
    thresholds, importance), holdout (reported figures and promotion; none when `holdout` is False).
    A boolean mask as `holdout` fixes the holdout instead (retraining's recent holdout, shared with the
    champion); the other rows are split as usual."""
    idx = np.arange(len(y))
    if isinstance(holdout, np.ndarray):
        dev, hold = idx[~holdout], idx[holdout]
    else:
        dev, hold = (train_test_split(idx, test_size=cfg.holdout_fraction, stratify=y, random_state=cfg.seed)
                     if holdout else (idx, idx[:0]))
    fit, val = train_test_split(dev, test_size=cfg.validation_fraction, stratify=y.iloc[dev],
                                random_state=cfg.seed + 1)
    role = np.empty(len(y), dtype=object)
    role[fit], role[val], role[hold] = "fit", "validation", "holdout"
    return role


def out_of_fold_scores(X: pd.DataFrame, y: np.ndarray, kind: CandidateKind, cfg: ModelConfig,
                       families: Mapping[str, str] | None = None) -> np.ndarray:
    """Each row scored by the calibrated recipe refitted without its fold: scores of every labelled
    non-holdout account that no model saw, to choose thresholds on more humans than validation holds."""
    oof = np.full(len(y), np.nan)
    folds = StratifiedKFold(cfg.threshold_folds, shuffle=True, random_state=cfg.seed + 2)
    for inner, outer in folds.split(X, y):
        model = build_calibrated(kind, cfg, len(inner), families).fit(X.iloc[inner], y[inner])
        oof[outer] = model.predict_proba(X.iloc[outer])[:, 1]
    return oof


# the metric prefix of the scores each `model.thresholds_from` reads the cuts off
THRESHOLD_SCORES: dict[str, str] = {"validation": "val", "out_of_fold": "oof"}


def band_thresholds(p_val: np.ndarray, X: pd.DataFrame, y: np.ndarray, fit: np.ndarray, val: np.ndarray,
                    kind: CandidateKind, cfg: ModelConfig, families: Mapping[str, str] | None = None,
                    ) -> tuple[Thresholds, dict[str, ThresholdChoice]]:
    """Both bands' thresholds, read off the scores `model.thresholds_from` names: `p_val` (the fitted
    model's on the validation split), or out of fold over fit + validation."""
    if cfg.thresholds_from == "out_of_fold":
        dev = fit | val
        return choose_thresholds(y[dev], out_of_fold_scores(X[dev], y[dev], kind, cfg, families), cfg)
    return choose_thresholds(y[val], p_val, cfg)


def _flat(prefix: str, obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: json.dumps(obj) if isinstance(obj, list) else obj}


def leave_one_strategy_out(df: pd.DataFrame, role: np.ndarray, names: list[str], kind: CandidateKind,
                           cfg: ModelConfig, families: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Retrain the whole recipe (fit, calibration, thresholds) without one AI strategy, then score
    that strategy: how the model fares on a kind of bot it has never seen."""
    rows = []
    strategies = sorted(df.loc[df["population"].eq("ai") & df["strategy"].notna(), "strategy"].unique())
    hold_humans = (role == "holdout") & (df["y"] == 0).to_numpy()
    X = df[names]
    y = df["y"].to_numpy()
    for s in strategies:
        held = (df["strategy"] == s).to_numpy() & (df["y"] == 1).to_numpy()
        if held.sum() < cfg.loso.min_accounts:
            log.info("leave-one-strategy-out: %s has %d labelled accounts (< %d), skipped",
                     s, int(held.sum()), cfg.loso.min_accounts)
            continue
        fit = (role == "fit") & ~held
        val = (role == "validation") & ~held
        model = build_calibrated(kind, cfg, int(fit.sum()), families).fit(X[fit], y[fit])
        th, _ = choose_thresholds(y[val], model.predict_proba(X[val])[:, 1], cfg)
        s_held = model.predict_proba(X[held])[:, 1]
        s_hum = model.predict_proba(X[hold_humans])[:, 1]
        yy = np.r_[np.ones(len(s_held), dtype="int64"), np.zeros(len(s_hum), dtype="int64")]
        ss = np.r_[s_held, s_hum]
        row = {"strategy": s, "n": int(held.sum()), "n_humans": int(hold_humans.sum()),
               "roc_auc": safe_metric(roc_auc_score, yy, ss), "pr_auc": safe_metric(average_precision_score, yy, ss),
               "threshold_auto": th.auto, "threshold_review": th.review}
        for band, t in th.as_dict().items():
            row[f"recall_{band}"] = float((s_held >= t).mean())
            row[f"human_fpr_{band}"] = float((s_hum >= t).mean()) if len(s_hum) else math.nan
            # precision in the mix "this unseen strategy + the holdout humans": depends on that mix
            tp, fp = int((s_held >= t).sum()), int((s_hum >= t).sum())
            row[f"precision_{band}"] = tp / (tp + fp) if tp + fp else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


@contextmanager
def _timed(stage: str, timings: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[f"time.{stage}_s"] = time.perf_counter() - start
    log.info("training stage %s: %.1f s", stage, timings[f"time.{stage}_s"])


def _fit_candidates(X: pd.DataFrame, y: np.ndarray, fit: np.ndarray, val: np.ndarray,
                    cfg: ModelConfig) -> CandidateKind:
    """Each candidate on the fit split, one nested MLflow run each; the best validation PR-AUC wins
    (ties: the earlier candidate in the config)."""
    val_ap: dict[str, float] = {}
    for kind in cfg.candidates:
        with mlflow.start_run(run_name=f"candidate-{kind}", nested=True):
            est = build_candidate(kind, cfg, int(fit.sum())).fit(X[fit], y[fit])
            p_val = est.predict_proba(X[val])[:, 1]
            val_ap[kind] = float(average_precision_score(y[val], p_val))
            mlflow.log_params({"kind": kind, **_flat(kind, getattr(cfg, kind).model_dump())})
            mlflow.log_metrics({"val.pr_auc": val_ap[kind], "val.roc_auc": safe_metric(roc_auc_score, y[val], p_val)})
    chosen = max(cfg.candidates, key=lambda k: (val_ap[k], -cfg.candidates.index(k)))
    log.info("candidates (validation PR-AUC): %s; chosen %s", val_ap, chosen)
    mlflow.log_metrics({f"candidate.{k}.val_pr_auc": v for k, v in val_ap.items()})
    mlflow.log_param("chosen_candidate", chosen)
    return chosen


def train_account_model(train_df: pd.DataFrame, features: Sequence[Feature], cfg_model: ModelConfig | Mapping[str, Any],
                        truth: pd.DataFrame | None = None, mlflow_cfg: MlflowConfig | None = None,
                        lineage: Mapping[str, Any] | None = None,
                        drift_population: pd.DataFrame | None = None,
                        holdout_ids: Collection[str] | None = None) -> TrainResult:
    """Train, evaluate, log and register one account model version.

    `train_df`: one row per labelled account (see `labels.training_frame`): account_id, label, snapshot
    columns and the feature columns (NaN allowed). `truth` (simulator only): account_id, population,
    strategy[, cluster_id, verified] for per-strategy, leave-one-strategy-out and protected figures.
    `lineage`: feature table path, its Delta version, snapshot dates...: tagged on run and version.
    `drift_population`: feature rows of every account of the training snapshot (jobs/train.py passes a
    sample), the population `genuine monitor` compares later snapshots with; without it the labelled
    training rows stand in (labels over-represent flagged accounts: only right for synthetic data).
    `holdout_ids`: the accounts of a fixed holdout (retraining), instead of a stratified random one.
    """
    cfg = cfg_model if isinstance(cfg_model, ModelConfig) else ModelConfig.model_validate(dict(cfg_model))
    mcfg = mlflow_cfg or MlflowConfig()
    client = tracking.configure(mcfg)
    names = [f.name for f in features]
    families = feature_families(features)
    if len(set(names)) != len(names):
        raise ValueError("duplicate feature names")
    df, counts = prepare_training_data(train_df, names, truth, cfg)
    role = split_roles(df["y"], cfg, True if holdout_ids is None
                       else df["account_id"].isin(set(holdout_ids)).to_numpy())
    X, y = df[names], df["y"].to_numpy()
    fit, val, hold = role == "fit", role == "validation", role == "holdout"
    lineage_tags = {f"lineage.{k}": str(v) for k, v in (lineage or {}).items()}
    timings: dict[str, float] = {}

    with threadpool_limits(limits=cfg.threads), mlflow.start_run(run_name="account-model") as run:
        mlflow.set_tags({**lineage_tags, "genuine.kind": "account_model"})
        mlflow.log_params(_flat("", cfg.model_dump(mode="json")))
        mlflow.log_params({"n_features": len(names), "n_fit": int(fit.sum()), "n_validation": int(val.sum()),
                           "n_holdout": int(hold.sum()), "truth_given": truth is not None})
        mlflow.log_metrics({f"data.{k}": v for k, v in counts.items()})
        _log_input(train_df, names, lineage)

        # 1. candidates on the fit split, compared on validation PR-AUC
        with _timed("candidates", timings):
            chosen = _fit_candidates(X, y, fit, val, cfg)

        # 2. the chosen recipe, calibrated, thresholds from validation
        with _timed("calibrated_fit", timings):
            model = build_calibrated(chosen, cfg, int(fit.sum()), families).fit(X[fit], y[fit])
        p_val = model.predict_proba(X[val])[:, 1]
        with _timed("thresholds", timings):
            thresholds, choices = band_thresholds(p_val, X, y, fit, val, chosen, cfg, families)
        for band, ch in choices.items():
            if not ch.met:
                log.warning("precision target for %s (%.3f) not reachable on %s scores: band disabled",
                            band, getattr(cfg.precision_targets, band), cfg.thresholds_from)
        mlflow.log_params(thresholds.as_tags())
        where = THRESHOLD_SCORES[cfg.thresholds_from]
        mlflow.log_metrics(finite_metrics({f"{where}.threshold_{b}.{k}": float(getattr(c, k))
                                           for b, c in choices.items()
                                           for k in ("precision", "recall", "flagged", "met")}))

        # 3. figures: validation and holdout, per strategy and protected group
        p_hold = model.predict_proba(X[hold])[:, 1]
        metrics = {f"val.{k}": v for k, v in evaluate_scores(df[val], p_val, thresholds).items()}
        metrics.update({f"holdout.{k}": v for k, v in evaluate_scores(df[hold], p_hold, thresholds).items()})
        loso = pd.DataFrame()
        if cfg.loso.enabled and truth is not None:
            with _timed("leave_one_strategy_out", timings):
                # without features computed from labels: the held-out strategy's labels would leak through them
                blind = [f.name for f in features if not f.from_labels]
                loso = leave_one_strategy_out(df, role, blind, chosen, cfg, families)
            for r in loso.to_dict("records"):
                metrics.update({f"loso.{r['strategy']}.{k}": v for k, v in r.items() if k != "strategy"})
            mlflow.log_text(loso.to_csv(index=False), "evaluation/leave_one_strategy_out.csv")
        mlflow.log_metrics(finite_metrics(metrics))

        # 4. importance and the human reference for reason codes
        with _timed("permutation_importance", timings), member_memo(model):
            imp = permutation_importance(model, X[val], y[val], scoring="average_precision",
                                         n_repeats=cfg.permutation_repeats, random_state=cfg.seed)
        imp_mean = dict(zip(names, imp.importances_mean.tolist(), strict=True))
        imp_std = dict(zip(names, imp.importances_std.tolist(), strict=True))
        mlflow.log_dict({"mean": imp_mean, "std": imp_std}, "evaluation/permutation_importance.json")
        humans_dev = (~hold) & (y == 0)
        reference = human_reference(X[humans_dev], features, cfg, imp_mean)
        drift = drift_reference(X if drift_population is None else drift_population, names, cfg.monitoring,
                                cfg.seed, "labelled training rows" if drift_population is None
                                else "training snapshot, every account")

        groups = df["population"].where(df["population"].notna(), df["label"]).to_numpy()
        mlflow.log_figure(plots.pr_curve({"validation": (y[val], p_val), "holdout": (y[hold], p_hold)},
                                         thresholds.as_dict()), "plots/pr_curve.png")
        mlflow.log_figure(plots.calibration(y[hold], p_hold), "plots/calibration.png")
        mlflow.log_figure(plots.score_distribution(p_hold, groups[hold], thresholds.as_dict()),
                          "plots/score_distribution.png")
        mlflow.log_figure(plots.importance(imp_mean, imp_std), "plots/feature_importance.png")

        holdout = df.loc[hold, ["account_id", *names, "y", "label", "population", "strategy", "protected_group"]]
        holdout = holdout.reset_index(drop=True)
        with tempfile.TemporaryDirectory() as tmp:
            hp = Path(tmp) / "holdout.parquet"
            holdout.astype({"population": "string", "strategy": "string", "protected_group": "string"}) \
                .to_parquet(hp, index=False)
            mlflow.log_artifact(str(hp), "evaluation")
            # the queue's novelty: one forest on every fit row (labels unused), stored with the version
            novelty = build_novelty(cfg).fit(X[fit]) if cfg.novelty.enabled else None
            with _timed("log_model", timings):
                model_version = log_account_model(model, reference, X[hold].head(5), mcfg.account_model, tmp,
                                                  novelty=novelty, drift_reference=drift)
        mlflow.log_dict(reference["families"], "feature_families.json")

        version_tags = {**thresholds.as_tags(), **lineage_tags, "chosen_candidate": chosen,
                        "precision_target.auto": str(cfg.precision_targets.auto),
                        "precision_target.review": str(cfg.precision_targets.review),
                        "thresholds_from": cfg.thresholds_from,
                        "holdout.pr_auc": repr(metrics.get("holdout.pr_auc"))}
        for k, v in version_tags.items():
            client.set_model_version_tag(mcfg.account_model, model_version, k, v)
        mlflow.log_metrics(timings)
        run_id = run.info.run_id

    log.info("registered %s version %s (run %s): holdout PR-AUC %.4f, thresholds %s",
             mcfg.account_model, model_version, run_id, metrics.get("holdout.pr_auc", math.nan), thresholds)
    return TrainResult(run_id=run_id, model_name=mcfg.account_model, model_version=model_version,
                       model_uri=tracking.version_uri(mcfg.account_model, model_version), chosen=chosen,
                       thresholds=thresholds, metrics=metrics, holdout=holdout,
                       validation_ids=df.loc[val, "account_id"].tolist(), reference=reference)


def _log_input(train_df: pd.DataFrame, names: list[str], lineage: Mapping[str, Any] | None) -> None:
    """Record the training matrix as an MLflow dataset input (digest + schema, not the data)."""
    try:
        lin = dict(lineage or {})
        version = lin.get("feature_table_version")
        src = DeltaDatasetSource(path=str(lin.get("feature_table", "unknown")),
                                 delta_table_version=int(version) if version is not None else None)
        frame = train_df[["account_id", "label", *names]].astype({n: "float64" for n in names})
        ds = from_pandas(frame, source=src, targets="label",
                         name=f"labelled-features@v{version if version is not None else '?'}")
        mlflow.log_input(ds, context="training")
    except Exception as exc:  # dataset logging is a convenience; lineage tags carry the same facts
        log.warning("could not log the training dataset input: %s", exc)

