"""Score thresholds of the two bands (auto, review), chosen on labelled scores no model saw (the validation
split, or out-of-fold scores: `model.thresholds_from`) to meet a precision target.

The chosen thresholds travel with the registered model version as tags, so scoring, enforcement and an
audit replay all use the very thresholds training chose for that version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from genuine.models.config import ModelConfig

BANDS: tuple[str, str] = ("auto", "review")


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


def choose_threshold(y: np.ndarray, p: np.ndarray, target: float, min_flagged: int,
                     max_negative_share: float | None = None, min_negatives_allowed: int = 0) -> ThresholdChoice:
    """Lowest score cut whose precision (over everything it flags) meets `target`, among the cuts that
    flag at least `min_flagged` accounts: the most recall the target allows. `min_flagged` keeps a
    handful of accounts from justifying a cut. Stricter cuts are not required to meet the target too:
    moderator labels are wrong now and then (the simulator flips 1 %), and a mislabelled bot sits at the
    very top of any good ranking, where it would veto every cut below it (docs/model.md).
    `max_negative_share`: the cut must also flag at most this share of the negatives (humans), and never
    fewer than `min_negatives_allowed` of them: on a small validation set the share rounds to no human at
    all, and one mislabelled bot at the top would then close the band (the same noise as above)."""
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
    ok = (flagged >= min_flagged) & (prec >= target - 1e-12)
    if max_negative_share is not None:
        n_neg = len(y) - n_pos
        ok &= (flagged - tp[cut]) <= max(max_negative_share * n_neg, min_negatives_allowed) + 1e-9
    good = np.nonzero(ok)[0]
    if len(good) == 0:
        return ThresholdChoice(math.inf, math.nan, 0.0, 0, False)
    j = good[-1]
    return ThresholdChoice(float(ps[cut[j]]), float(prec[j]), float(tp[cut[j]] / n_pos), int(flagged[j]), True)


def choose_thresholds(y: np.ndarray, p: np.ndarray, cfg: ModelConfig) -> tuple[Thresholds, dict[str, ThresholdChoice]]:
    """Thresholds for both bands; auto is never below review (precision is not monotone in the cut)."""
    review = choose_threshold(y, p, cfg.precision_targets.review, cfg.min_flagged,
                              cfg.precision_targets.review_max_human_fpr,
                              cfg.precision_targets.review_cap_min_humans)
    auto = choose_threshold(y, p, cfg.precision_targets.auto, cfg.min_flagged)
    return Thresholds(auto=max(auto.threshold, review.threshold), review=review.threshold), \
        {"auto": auto, "review": review}
