"""Figures of one model on one labelled frame: overall, per band, per protected group, per strategy.

The same function scores validation and holdout at training time and re-scores a holdout at promotion
time, so "the challenger's figures" and "the training run's figures" are computed one way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from genuine.models.thresholds import Thresholds


def safe_metric(fn: Any, y: np.ndarray, p: np.ndarray) -> float:
    """A ranking metric, NaN when the labels hold one class only (sklearn would raise or warn)."""
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
        "pr_auc": safe_metric(average_precision_score, y, s), "roc_auc": safe_metric(roc_auc_score, y, s),
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
                m[f"strategy.{name}.pr_auc"] = safe_metric(average_precision_score, y[vs], s[vs])
                m[f"strategy.{name}.roc_auc"] = safe_metric(roc_auc_score, y[vs], s[vs])
                for band, t in thresholds.as_dict().items():
                    m[f"strategy.{name}.recall_{band}"] = float((s[sel] >= t).mean())
                    m[f"strategy.{name}.precision_{band}"] = _band_figures(y[vs], s[vs], t, band)[
                        f"precision_{band}"]
            else:
                for band, t in thresholds.as_dict().items():
                    m[f"strategy.{name}.fpr_{band}"] = float((s[sel & humans] >= t).mean()) \
                        if (sel & humans).any() else math.nan
    return m


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """MLflow refuses NaN and inf metrics: keep the finite ones."""
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}

