"""Evaluation plots logged with every account-model run.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot): no global backend state, nothing
shown, safe in Spark drivers and in tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve


def pr_curve(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], thresholds: Mapping[str, float]) -> Figure:
    """Precision-recall curve per split, with the operating points of the chosen thresholds marked."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    for split, (y, p) in curves.items():
        if len(np.unique(y)) < 2:
            continue
        prec, rec, thr = precision_recall_curve(y, p)
        ax.plot(rec, prec, label=f"{split} (AP={average_precision_score(y, p):.3f})")
        for band, t in thresholds.items():
            flagged = p >= t
            if np.isfinite(t) and flagged.any():
                ax.scatter([y[flagged].sum() / max(y.sum(), 1)], [y[flagged].mean()], s=30,
                           marker="o" if band == "auto" else "s", label=f"{split} at {band} threshold")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall (points: chosen thresholds)")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def calibration(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> Figure:
    """Reliability diagram: calibrated P(ai) against the observed share of AI-managed accounts."""
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    if len(np.unique(y)) == 2:
        frac, mean_p = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
        ax.plot(mean_p, frac, marker="o", label="model")
    ax.set_xlabel("mean predicted P(ai)")
    ax.set_ylabel("observed share AI-managed")
    ax.set_title("Calibration (holdout)")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def score_distribution(scores: np.ndarray, groups: np.ndarray, thresholds: Mapping[str, float]) -> Figure:
    """Score histogram per population (or label), so overlap with protected humans is visible."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 41)
    for g in sorted({str(x) for x in groups}):
        ax.hist(scores[groups.astype(str) == g], bins=bins.tolist(), histtype="step", density=True, label=g)
    for band, t in thresholds.items():
        if np.isfinite(t):
            ax.axvline(t, linestyle=":", color="black")
            ax.annotate(band, (t, ax.get_ylim()[1] * 0.95), fontsize=8, rotation=90, ha="right")
    ax.set_yscale("log")
    ax.set_xlabel("calibrated P(ai)")
    ax.set_ylabel("density (log)")
    ax.set_title("Score distribution per population (holdout)")
    ax.legend(fontsize=7)
    return fig


def importance(means: Mapping[str, float], stds: Mapping[str, float], top: int = 25) -> Figure:
    """Permutation importance (drop in validation PR-AUC when a feature is shuffled)."""
    items = sorted(means.items(), key=lambda kv: kv[1], reverse=True)[:top]
    fig = Figure(figsize=(7, max(2.5, 0.3 * len(items) + 1)))
    ax = fig.add_subplot()
    names = [k for k, _ in items][::-1]
    ax.barh(names, [means[k] for k in names], xerr=[stds.get(k, 0.0) for k in names])
    ax.set_xlabel("drop in validation PR-AUC when shuffled")
    ax.set_title("Permutation importance")
    fig.tight_layout()
    return fig
