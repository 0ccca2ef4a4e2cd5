"""The account model: point-in-time training data, training, evaluation and registration in MLflow.

Training data are small (one row per labelled account), so the model itself is fitted with pandas and
scikit-learn on the driver; everything per-account over the whole base (the label join, scoring) stays
in Spark. The registered artefact is a custom pyfunc holding the fitted scikit-learn pipeline (joblib)
because MLflow's sklearn flavour serialises with skops, which refuses HistGradientBoosting's tree
predictor type, plus the human reference distribution that scoring needs for reason codes.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any, Literal

import joblib
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient
from pydantic import Field, model_validator
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer
from threadpoolctl import threadpool_limits

from genuine.core.config import MlflowConfig, Strict
from genuine.core.errors import MissingColumnsError, TrainingDataError
from genuine.features.registry import Feature

log = logging.getLogger(__name__)

BANDS: tuple[str, str] = ("auto", "review")
REFERENCE_FILE = "reference.json"
PIPELINE_FILE = "pipeline.joblib"
HOLDOUT_ARTIFACT = "evaluation/holdout.parquet"
CandidateKind = Literal["hgb", "logreg"]


# --- configuration (conf/base.yml `model:`) -------------------------------------------------------

class PrecisionTargets(Strict):
    auto: float = Field(default=0.995, gt=0, le=1)
    review: float = Field(default=0.90, gt=0, le=1)


class HgbParams(Strict):
    learning_rate: float = Field(default=0.1, gt=0)
    max_iter: int = Field(default=200, ge=1)
    max_leaf_nodes: int = Field(default=31, ge=2)
    min_samples_leaf: int = Field(default=20, ge=1)
    l2_regularization: float = Field(default=1.0, ge=0)
    max_features: float = Field(default=1.0, gt=0, le=1)
    early_stopping: bool = False


class LogRegParams(Strict):
    C: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=2000, ge=1)


class LosoConfig(Strict):
    enabled: bool = True
    min_accounts: int = Field(default=10, ge=1)    # a strategy with fewer labelled accounts is not held out


class ReasonConfig(Strict):
    top_k: int = Field(default=3, ge=1)
    reference_quantiles: int = Field(default=1001, ge=11)
    # a feature is a reason only when fewer than (100 - this) % of humans are as extreme
    min_tail_percentile: float = Field(default=95.0, ge=50, le=100)
    weight_by_importance: bool = True      # ties in extremeness broken by permutation importance


class GatesConfig(Strict):
    min_pr_auc: float = Field(default=0.80, ge=0, le=1)           # absolute gate (also for the first model)
    pr_auc_tolerance: float = Field(default=0.01, ge=0, le=1)     # challenger may trail the champion by this
    protected_fpr_limit: dict[Literal["auto", "review"], float] = {"auto": 0.01, "review": 0.10}
    min_group_size: int = Field(default=30, ge=1)  # protected groups smaller than this are reported, not gated


class ModelConfig(Strict):
    positive_label: str = "ai_managed"
    negative_label: str = "human"
    seed: int = 20261001
    holdout_fraction: float = Field(default=0.25, gt=0, lt=1)
    validation_fraction: float = Field(default=0.30, gt=0, lt=1)   # share of the non-holdout part
    candidates: list[CandidateKind] = Field(default=["hgb", "logreg"], min_length=1)
    class_weight: Literal["balanced"] | None = "balanced"
    # sigmoid by default: isotonic on a few hundred labels maps the top of the ranking onto one plateau
    # at 1.0, and a single human inside that plateau makes a 0.995-precision threshold unreachable.
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"
    calibration_folds: int = Field(default=3, ge=2)
    precision_targets: PrecisionTargets = PrecisionTargets()
    min_flagged: int = Field(default=10, ge=1)     # a threshold must flag at least this many validation accounts
    hgb: HgbParams = HgbParams()
    logreg: LogRegParams = LogRegParams()
    permutation_repeats: int = Field(default=5, ge=1)
    # OpenMP threads for tree fitting; null = the library default (all cores). On a shared or busy
    # machine the default oversubscribes and a 1 s fit takes 10 s; labelled data are small anyway.
    threads: int | None = Field(default=1, ge=1)
    protected_strategies: list[str] = ["prolific_creator", "brand", "night_shift"]
    protect_verified: bool = True
    loso: LosoConfig = LosoConfig()
    reasons: ReasonConfig = ReasonConfig()
    gates: GatesConfig = GatesConfig()

    @model_validator(mode="after")
    def _targets_ordered(self) -> ModelConfig:
        if self.precision_targets.auto < self.precision_targets.review:
            raise ValueError("precision_targets.auto must be >= precision_targets.review")
        return self


def _require(df_columns: Sequence[str], needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in set(df_columns)]
    if missing:
        raise MissingColumnsError(f"{what} lacks columns {missing}")


# --- training data: point-in-time label join (Spark) ----------------------------------------------
def latest_labels(labels: DataFrame, positive_label: str = "ai_managed") -> DataFrame:
    """One label per account, the latest decision: a review that clears an account overrides an older
    import that flagged it. Same-instant conflicts resolve to the negative label, so that a contested
    account never teaches the model that it is a bot."""
    w = Window.partitionBy("account_id").orderBy(
        F.col("decided_at").desc_nulls_last(),
        F.when(F.col("label") == F.lit(positive_label), 1).otherwise(0).asc(),
        *[F.col(c).asc_nulls_last() for c in labels.columns if c not in ("account_id", "decided_at", "label")],
    )
    return labels.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") == 1).drop("_rn")


def point_in_time_join(labels: DataFrame, features: DataFrame) -> DataFrame:
    """Attach to each label the latest feature snapshot with as_of <= decided_at (no leakage from
    after the decision). Labels without such a snapshot are kept with null snapshot columns so the
    caller counts them instead of losing them; identical label rows count as one decision."""
    _require(labels.columns, ["account_id", "decided_at"], "labels")
    _require(features.columns, ["account_id", "snapshot_date", "as_of"], "features")
    clash = (set(features.columns) - {"account_id"}) & set(labels.columns)
    if clash:
        raise ValueError(f"labels and features share columns {sorted(clash)}")
    lab = labels.dropDuplicates()
    key = list(lab.columns)
    feat = features.withColumnRenamed("account_id", "_f_account_id")
    joined = lab.join(feat, (lab["account_id"] == feat["_f_account_id"]) & (feat["as_of"] <= lab["decided_at"]),
                      "left")
    w = Window.partitionBy(*key).orderBy(F.col("as_of").desc_nulls_last(), F.col("snapshot_date").desc_nulls_last())
    return (joined.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") == 1)
            .drop("_rn", "_f_account_id"))


def training_frame(labels: DataFrame, features: DataFrame, positive_label: str = "ai_managed") -> DataFrame:
    """Latest label per account joined point-in-time to its snapshot: the (small) training matrix."""
    return latest_labels(labels, positive_label).transform(point_in_time_join, features)


# --- thresholds -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float          # inf when the target cannot be met: the band never fires
    precision: float
    recall: float
    flagged: int
    met: bool


@dataclass(frozen=True)
class Thresholds:
    auto: float
    review: float

    def as_dict(self) -> dict[str, float]:
        return {"auto": self.auto, "review": self.review}

    def as_tags(self) -> dict[str, str]:
        # repr round-trips a float exactly, so scoring uses the very threshold chosen here.
        return {f"threshold.{b}": repr(float(t)) for b, t in self.as_dict().items()}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Thresholds:
        try:
            return cls(auto=float(tags["threshold.auto"]), review=float(tags["threshold.review"]))
        except KeyError as exc:
            raise KeyError(f"model version has no tag {exc.args[0]!r}: not trained by genuine?") from None

    def band(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, dtype="float64")
        return np.where(s >= self.auto, "auto", np.where(s >= self.review, "review", "none"))


def choose_threshold(y: np.ndarray, p: np.ndarray, target: float, min_flagged: int) -> ThresholdChoice:
    """Lowest score cut whose precision meets `target` and keeps meeting it at every stricter cut that
    flags at least `min_flagged` accounts. The second condition keeps a lucky dip from setting the
    threshold; `min_flagged` keeps a handful of accounts from justifying it."""
    y = np.asarray(y, dtype="int64")
    p = np.asarray(p, dtype="float64")
    n_pos = int(y.sum())
    if len(p) == 0 or n_pos == 0:
        return ThresholdChoice(math.inf, math.nan, math.nan, 0, False)
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]
    cut = np.nonzero(last_of_tie)[0]
    flagged = cut + 1
    prec = tp[cut] / flagged
    supported = flagged >= min_flagged
    ok = prec >= target - 1e-12
    bad = np.nonzero(supported & ~ok)[0]
    first_bad = bad[0] if len(bad) else len(cut)
    good = np.nonzero(supported[:first_bad] & ok[:first_bad])[0]
    if len(good) == 0:
        return ThresholdChoice(math.inf, math.nan, 0.0, 0, False)
    j = good[-1]
    return ThresholdChoice(float(ps[cut[j]]), float(prec[j]), float(tp[cut[j]] / n_pos), int(flagged[j]), True)


def choose_thresholds(y: np.ndarray, p: np.ndarray, cfg: ModelConfig) -> tuple[Thresholds, dict[str, ThresholdChoice]]:
    """Thresholds for both bands; auto is never below review (precision is not monotone in the cut)."""
    review = choose_threshold(y, p, cfg.precision_targets.review, cfg.min_flagged)
    auto = choose_threshold(y, p, cfg.precision_targets.auto, cfg.min_flagged)
    return Thresholds(auto=max(auto.threshold, review.threshold), review=review.threshold), \
        {"auto": auto, "review": review}


# --- evaluation -----------------------------------------------------------------------------------
def _safe(fn: Any, y: np.ndarray, p: np.ndarray) -> float:
    return float(fn(y, p)) if len(np.unique(y)) == 2 else math.nan


def _band_figures(y: np.ndarray, s: np.ndarray, t: float, band: str, prefix: str = "") -> dict[str, float]:
    flagged = s >= t
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    return {
        f"{prefix}flagged_{band}": float(flagged.sum()),
        f"{prefix}precision_{band}": tp / (tp + fp) if tp + fp else math.nan,
        f"{prefix}recall_{band}": tp / n_pos if n_pos else math.nan,
        f"{prefix}fpr_{band}": fp / n_neg if n_neg else math.nan,
    }


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Object array with None for missing (pd.NA from parquet string columns breaks == masks)."""
    col = frame[name].astype(object)
    return col.where(col.notna(), None).to_numpy()


def evaluate_scores(frame: pd.DataFrame, scores: np.ndarray, thresholds: Thresholds) -> dict[str, float]:
    """Figures of one model on one labelled frame (columns y, and when known population, strategy,
    protected_group): overall, per protected group (FPR among its humans), per strategy."""
    y = frame["y"].to_numpy(dtype="int64")
    s = np.asarray(scores, dtype="float64")
    m: dict[str, float] = {
        "n": float(len(y)), "n_ai": float(y.sum()),
        "pr_auc": _safe(average_precision_score, y, s), "roc_auc": _safe(roc_auc_score, y, s),
        "brier": float(brier_score_loss(y, s)) if len(y) else math.nan,
    }
    for band, t in thresholds.as_dict().items():
        m.update(_band_figures(y, s, t, band))
    humans = y == 0
    if "protected_group" in frame:
        groups = _col(frame, "protected_group")
        is_protected = groups != None  # noqa: E711 (elementwise)
        for g in sorted({str(x) for x in groups[is_protected]}) + ["all"]:
            mask = humans & (is_protected if g == "all" else groups == g)
            m[f"protected.{g}.n"] = float(mask.sum())
            for band, t in thresholds.as_dict().items():
                m[f"protected.{g}.fpr_{band}"] = float((s[mask] >= t).mean()) if mask.any() else math.nan
    if "strategy" in frame and frame["strategy"].notna().any():
        strat = _col(frame, "strategy")
        for name in sorted({str(x) for x in strat if x is not None}):
            sel = strat == name
            m[f"strategy.{name}.n"] = float(sel.sum())
            pop = _col(frame, "population")[sel] if "population" in frame else None
            known = pop is not None and all(p is not None for p in pop)
            is_ai = bool(np.all(pop == "ai")) if known else bool(np.all(y[sel] == 1))
            if is_ai:
                vs = sel | humans     # this strategy against every human of the frame
                m[f"strategy.{name}.pr_auc"] = _safe(average_precision_score, y[vs], s[vs])
                m[f"strategy.{name}.roc_auc"] = _safe(roc_auc_score, y[vs], s[vs])
                for band, t in thresholds.as_dict().items():
                    m[f"strategy.{name}.recall_{band}"] = float((s[sel] >= t).mean())
                    m[f"strategy.{name}.precision_{band}"] = _band_figures(y[vs], s[vs], t, band)[
                        f"precision_{band}"]
            else:
                for band, t in thresholds.as_dict().items():
                    m[f"strategy.{name}.fpr_{band}"] = float((s[sel & humans] >= t).mean()) \
                        if (sel & humans).any() else math.nan
    return m


# --- model building -------------------------------------------------------------------------------
def build_candidate(kind: CandidateKind, cfg: ModelConfig, n_fit: int) -> Pipeline:
    """Uncalibrated candidate pipelines. Trees take NaN natively (missing = too little activity is
    itself a signal); the linear model imputes and adds missing-indicators instead."""
    if kind == "hgb":
        h = cfg.hgb
        clf = HistGradientBoostingClassifier(
            learning_rate=h.learning_rate, max_iter=h.max_iter, max_leaf_nodes=h.max_leaf_nodes,
            min_samples_leaf=h.min_samples_leaf, l2_regularization=h.l2_regularization,
            max_features=h.max_features, early_stopping=h.early_stopping, class_weight=cfg.class_weight,
            random_state=cfg.seed)
        return Pipeline([("clf", clf)])
    if kind == "logreg":
        return Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", QuantileTransformer(output_distribution="normal", n_quantiles=max(10, min(1000, n_fit)),
                                          random_state=cfg.seed)),
            ("clf", LogisticRegression(C=cfg.logreg.C, max_iter=cfg.logreg.max_iter, class_weight=cfg.class_weight)),
        ])
    raise ValueError(f"unknown candidate {kind!r}")


def build_calibrated(kind: CandidateKind, cfg: ModelConfig, n_fit: int) -> CalibratedClassifierCV:
    """Cross-fitted calibration on the fit split: the validation split stays untouched for thresholds."""
    n_inner = n_fit * (cfg.calibration_folds - 1) // cfg.calibration_folds   # rows each fold model sees
    return CalibratedClassifierCV(
        build_candidate(kind, cfg, n_inner), method=cfg.calibration, ensemble=True,
        cv=StratifiedKFold(cfg.calibration_folds, shuffle=True, random_state=cfg.seed))


class AccountModel(PythonModel):
    """Pyfunc wrapper: DataFrame with the feature columns in, calibrated P(ai) out."""

    def load_context(self, context: Any) -> None:
        self._model = joblib.load(context.artifacts["pipeline"])
        self._features = json.loads(Path(context.artifacts["reference"]).read_text())["feature_order"]

    # pd.DataFrame is a hint MLflow accepts without inferring a schema from it: the signature is
    # given explicitly when logging.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        X = model_input[self._features].astype("float64")
        # Spark already runs one task per core; OpenMP threads on top of that only oversubscribe.
        with threadpool_limits(limits=1):
            return self._model.predict_proba(X)[:, 1]


# --- human reference distribution (for reason codes) ----------------------------------------------
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
        "families": {f.name: f.family for f in features},
        "quantiles": cfg.reasons.reference_quantiles,
        "top_k": cfg.reasons.top_k,
        "min_tail_percentile": cfg.reasons.min_tail_percentile,
        "n_humans": int(len(X_humans)),
        "features": out,
    }


# --- training -------------------------------------------------------------------------------------
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


def configure_mlflow(mlflow_cfg: MlflowConfig) -> MlflowClient:
    """Point MLflow (tracking, registry, experiment) at the configured store; returns a client."""
    mlflow.set_tracking_uri(mlflow_cfg.tracking_uri)
    if mlflow_cfg.registry_uri:
        mlflow.set_registry_uri(mlflow_cfg.registry_uri)
    client = MlflowClient(tracking_uri=mlflow_cfg.tracking_uri, registry_uri=mlflow_cfg.registry_uri)
    _ensure_experiment(client, mlflow_cfg)
    mlflow.set_experiment(mlflow_cfg.experiment)
    return client


def _ensure_experiment(client: MlflowClient, mlflow_cfg: MlflowConfig) -> None:
    """With a sqlite store MLflow puts artifacts in ./mlruns of whatever directory the process runs
    in; keep them next to the database instead (<db dir>/mlartifacts), so a store is one folder."""
    uri = mlflow_cfg.tracking_uri
    if not uri.startswith("sqlite:///") or client.get_experiment_by_name(mlflow_cfg.experiment) is not None:
        return
    root = Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts"
    try:
        client.create_experiment(mlflow_cfg.experiment, artifact_location=root.as_uri())
    except MlflowException:   # created meanwhile by another process
        if client.get_experiment_by_name(mlflow_cfg.experiment) is None:
            raise


def protected_groups(frame: pd.DataFrame, cfg: ModelConfig) -> pd.Series:
    """Which protected population each account belongs to (None: not protected): genuine-but-unusual
    strategies first, then verified accounts."""
    group = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if cfg.protect_verified and "verified" in frame:
        group[frame["verified"].eq(True).to_numpy()] = "verified"
    if "strategy" in frame:
        strat = frame["strategy"]
        mask = strat.isin(cfg.protected_strategies).to_numpy()
        group[mask] = strat[mask]
    return group


def _prepare(train_df: pd.DataFrame, names: list[str], truth: pd.DataFrame | None,
             cfg: ModelConfig) -> tuple[pd.DataFrame, dict[str, float]]:
    _require(train_df.columns, ["account_id", "label", *names], "training frame")
    counts: dict[str, float] = {"labels_in": float(len(train_df))}
    df = train_df.copy()
    if df["account_id"].duplicated().any():
        raise TrainingDataError("training frame has several rows per account: apply latest_labels first")
    if "snapshot_date" in df:
        no_snap = df["snapshot_date"].isna()
        counts["labels_without_snapshot"] = float(no_snap.sum())
        if no_snap.any():
            log.warning("%d labels have no feature snapshot at or before their decision: not trained on",
                        int(no_snap.sum()))
        df = df[~no_snap]
    known = df["label"].isin([cfg.positive_label, cfg.negative_label])
    counts["labels_unknown_value"] = float((~known).sum())
    if (~known).any():
        log.warning("%d labels are neither %r nor %r: not trained on", int((~known).sum()),
                    cfg.positive_label, cfg.negative_label)
    df = df[known].copy()
    df["y"] = (df["label"] == cfg.positive_label).astype("int64")
    if truth is not None:
        _require(truth.columns, ["account_id", "population", "strategy"], "truth")
        extra = [c for c in ("population", "strategy", "cluster_id", "verified") if c in truth]
        df = df.drop(columns=[c for c in extra if c in df]).merge(truth[["account_id", *extra]],
                                                                   on="account_id", how="left")
    for c in ("population", "strategy"):
        if c not in df:
            df[c] = None
    df["protected_group"] = protected_groups(df, cfg)
    df[names] = df[names].astype("float64")
    counts["labels_used"] = float(len(df))
    if df["y"].nunique() < 2:
        raise TrainingDataError("training needs both labels among labelled accounts with a feature snapshot; got "
                                f"{df['label'].unique().tolist()} ({len(df)} usable labels)")
    return df.reset_index(drop=True), counts


def _split(df: pd.DataFrame, cfg: ModelConfig) -> np.ndarray:
    """Stratified random roles: fit (trees + cross-fitted calibration), validation (model choice,
    thresholds, importance), holdout (reported figures and promotion)."""
    idx = np.arange(len(df))
    dev, hold = train_test_split(idx, test_size=cfg.holdout_fraction, stratify=df["y"], random_state=cfg.seed)
    fit, val = train_test_split(dev, test_size=cfg.validation_fraction, stratify=df["y"].iloc[dev],
                                random_state=cfg.seed + 1)
    role = np.empty(len(df), dtype=object)
    role[fit], role[val], role[hold] = "fit", "validation", "holdout"
    return role


def _flat(prefix: str, obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: json.dumps(obj) if isinstance(obj, list) else obj}


def _finite(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


def _requirements() -> list[str]:
    pkgs = ("mlflow", "scikit-learn", "pandas", "numpy", "joblib", "scipy")
    return [f"{p}=={pkg_version(p)}" for p in pkgs]


def leave_one_strategy_out(df: pd.DataFrame, role: np.ndarray, names: list[str], kind: CandidateKind,
                           cfg: ModelConfig) -> pd.DataFrame:
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
        model = build_calibrated(kind, cfg, int(fit.sum())).fit(X[fit], y[fit])
        th, _ = choose_thresholds(y[val], model.predict_proba(X[val])[:, 1], cfg)
        s_held = model.predict_proba(X[held])[:, 1]
        s_hum = model.predict_proba(X[hold_humans])[:, 1]
        yy = np.r_[np.ones(len(s_held), dtype="int64"), np.zeros(len(s_hum), dtype="int64")]
        ss = np.r_[s_held, s_hum]
        row = {"strategy": s, "n": int(held.sum()), "n_humans": int(hold_humans.sum()),
               "roc_auc": _safe(roc_auc_score, yy, ss), "pr_auc": _safe(average_precision_score, yy, ss),
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
            mlflow.log_metrics({"val.pr_auc": val_ap[kind], "val.roc_auc": _safe(roc_auc_score, y[val], p_val)})
    chosen = max(cfg.candidates, key=lambda k: (val_ap[k], -cfg.candidates.index(k)))
    log.info("candidates (validation PR-AUC): %s; chosen %s", val_ap, chosen)
    mlflow.log_metrics({f"candidate.{k}.val_pr_auc": v for k, v in val_ap.items()})
    mlflow.log_param("chosen_candidate", chosen)
    return chosen


def train_account_model(train_df: pd.DataFrame, features: Sequence[Feature], cfg_model: ModelConfig | Mapping[str, Any],
                        truth: pd.DataFrame | None = None, mlflow_cfg: MlflowConfig | None = None,
                        lineage: Mapping[str, Any] | None = None) -> TrainResult:
    """Train, evaluate, log and register one account model version.

    `train_df`: one row per labelled account (see `training_frame`): account_id, label, snapshot
    columns and the feature columns (NaN allowed). `truth` (simulator only): account_id, population,
    strategy[, cluster_id, verified] for per-strategy, leave-one-strategy-out and protected figures.
    `lineage`: feature table path, its Delta version, snapshot dates...: tagged on run and version.
    """
    cfg = cfg_model if isinstance(cfg_model, ModelConfig) else ModelConfig.model_validate(dict(cfg_model))
    mcfg = mlflow_cfg or MlflowConfig()
    client = configure_mlflow(mcfg)
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise ValueError("duplicate feature names")
    df, counts = _prepare(train_df, names, truth, cfg)
    role = _split(df, cfg)
    X, y = df[names], df["y"].to_numpy()
    fit, val, hold = role == "fit", role == "validation", role == "holdout"
    lineage_tags = {f"lineage.{k}": str(v) for k, v in (lineage or {}).items()}
    timings: dict[str, float] = {}
    from genuine.models import plots

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
            model = build_calibrated(chosen, cfg, int(fit.sum())).fit(X[fit], y[fit])
        p_val = model.predict_proba(X[val])[:, 1]
        thresholds, choices = choose_thresholds(y[val], p_val, cfg)
        for band, ch in choices.items():
            if not ch.met:
                log.warning("precision target for %s (%.3f) not reachable on validation: band disabled",
                            band, getattr(cfg.precision_targets, band))
        mlflow.log_params(thresholds.as_tags())
        mlflow.log_metrics(_finite({f"val.threshold_{b}.{k}": float(getattr(c, k))
                                    for b, c in choices.items() for k in ("precision", "recall", "flagged", "met")}))

        # 3. figures: validation and holdout, per strategy and protected group
        p_hold = model.predict_proba(X[hold])[:, 1]
        metrics = {f"val.{k}": v for k, v in evaluate_scores(df[val], p_val, thresholds).items()}
        metrics.update({f"holdout.{k}": v for k, v in evaluate_scores(df[hold], p_hold, thresholds).items()})
        loso = pd.DataFrame()
        if cfg.loso.enabled and truth is not None:
            with _timed("leave_one_strategy_out", timings):
                loso = leave_one_strategy_out(df, role, names, chosen, cfg)
            for r in loso.to_dict("records"):
                metrics.update({f"loso.{r['strategy']}.{k}": v for k, v in r.items() if k != "strategy"})
            mlflow.log_text(loso.to_csv(index=False), "evaluation/leave_one_strategy_out.csv")
        mlflow.log_metrics(_finite(metrics))

        # 4. importance and the human reference for reason codes
        with _timed("permutation_importance", timings):
            imp = permutation_importance(model, X[val], y[val], scoring="average_precision",
                                         n_repeats=cfg.permutation_repeats, random_state=cfg.seed)
        imp_mean = dict(zip(names, imp.importances_mean.tolist(), strict=True))
        imp_std = dict(zip(names, imp.importances_std.tolist(), strict=True))
        mlflow.log_dict({"mean": imp_mean, "std": imp_std}, "evaluation/permutation_importance.json")
        humans_dev = (~hold) & (y == 0)
        reference = human_reference(X[humans_dev], features, cfg, imp_mean)

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
            with _timed("log_model", timings):
                model_version = _log_pyfunc(model, reference, X[hold].head(5), mcfg, tmp)
        mlflow.log_dict(reference["families"], "feature_families.json")

        version_tags = {**thresholds.as_tags(), **lineage_tags, "chosen_candidate": chosen,
                        "precision_target.auto": str(cfg.precision_targets.auto),
                        "precision_target.review": str(cfg.precision_targets.review),
                        "holdout.pr_auc": repr(metrics.get("holdout.pr_auc"))}
        for k, v in version_tags.items():
            client.set_model_version_tag(mcfg.account_model, model_version, k, v)
        mlflow.log_metrics(timings)
        run_id = run.info.run_id

    log.info("registered %s version %s (run %s): holdout PR-AUC %.4f, thresholds %s",
             mcfg.account_model, model_version, run_id, metrics.get("holdout.pr_auc", math.nan), thresholds)
    return TrainResult(run_id=run_id, model_name=mcfg.account_model, model_version=model_version,
                       model_uri=f"models:/{mcfg.account_model}/{model_version}", chosen=chosen,
                       thresholds=thresholds, metrics=metrics, holdout=holdout,
                       validation_ids=df.loc[val, "account_id"].tolist(), reference=reference)


def _log_input(train_df: pd.DataFrame, names: list[str], lineage: Mapping[str, Any] | None) -> None:
    """Record the training matrix as an MLflow dataset input (digest + schema, not the data)."""
    try:
        from mlflow.data.delta_dataset_source import DeltaDatasetSource
        from mlflow.data.pandas_dataset import from_pandas

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


def _log_pyfunc(model: CalibratedClassifierCV, reference: dict[str, Any], example: pd.DataFrame,
                mcfg: MlflowConfig, tmp: str) -> str:
    pipe = Path(tmp) / PIPELINE_FILE
    ref = Path(tmp) / REFERENCE_FILE
    joblib.dump(model, pipe)
    ref.write_text(json.dumps(reference))
    example = example.astype("float64")
    signature = infer_signature(example, model.predict_proba(example)[:, 1])
    info = mlflow.pyfunc.log_model(
        name="model", python_model=AccountModel(),
        artifacts={"pipeline": str(pipe), "reference": str(ref)},
        signature=signature, input_example=example, pip_requirements=_requirements(),
        registered_model_name=mcfg.account_model)
    if info.registered_model_version is None:
        raise RuntimeError("model was logged but not registered")
    return str(info.registered_model_version)
