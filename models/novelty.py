"""Novelty: how unlike the labelled accounts an account is, whatever its score.

A supervised model finds what it was shown. An account run by a kind of automation nobody has labelled
yet can score low and still sit far from every account the model learned from. Two uses:
- as an input to the supervised model (`model.novelty.as_feature`): an isolation forest's anomaly score
  is one more column, so the model can learn that "unlike anything labelled" goes with bots;
- for exploration in the review queue (`enforcement.queue.exploration_share`): a share of moderator
  capacity goes to the most novel low-score accounts, so their decisions become labels.

The forest runs on quantile-normalised features with median imputation and missing-value indicators:
trees split on ranks, and a feature with a long tail must not decide alone. The score is reported as a
percentile of the anomaly scores of the rows the forest was fitted on (0: ordinary, 1: the most unusual
of them), so that a threshold or a share means the same thing from one model version to the next.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer

NOVELTY_COLUMN = "novelty"


class NoveltyScorer(BaseEstimator, TransformerMixin):
    """Isolation-forest novelty percentile. As a transformer it appends the `novelty` column to X, so it
    can sit in front of a classifier in a Pipeline (each calibration fold then fits its own forest on
    its own rows, labels unused)."""

    def __init__(self, n_estimators: int = 200, max_samples: int = 256, random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any = None) -> NoveltyScorer:
        n = len(X)
        self.prep_ = Pipeline([
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("rank", QuantileTransformer(n_quantiles=max(10, min(1000, n)), random_state=self.random_state)),
        ])
        Z = self.prep_.fit_transform(X)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, max_samples=min(self.max_samples, n),
                                       random_state=self.random_state).fit(Z)
        self.reference_ = np.sort(-self.forest_.score_samples(Z))
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def anomaly(self, X: pd.DataFrame) -> np.ndarray:
        """The forest's raw anomaly score (higher: more unusual)."""
        return -self.forest_.score_samples(self.prep_.transform(X[list(self.feature_names_in_)]))

    def score(self, X: pd.DataFrame) -> np.ndarray:  # type: ignore[override]  # not sklearn's accuracy score
        """Novelty percentile in [0, 1]: the share of the fitted rows at most as anomalous."""
        return np.searchsorted(self.reference_, self.anomaly(X), side="right") / len(self.reference_)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X.assign(**{NOVELTY_COLUMN: self.score(X)})

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([*self.feature_names_in_, NOVELTY_COLUMN], dtype=object)
