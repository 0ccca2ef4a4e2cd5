"""The novelty scorer (models/novelty.py) and its place in the candidate pipelines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genuine.models.config import ModelConfig
from genuine.models.novelty import NOVELTY_COLUMN, NoveltyScorer
from genuine.models.training import build_candidate


def _cloud(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    df.loc[rng.random(n) < 0.1, "c"] = np.nan      # missing values are part of the space
    return df


def test_outliers_are_more_novel_than_the_cloud_and_scores_are_percentiles():
    fit = _cloud(500, 1)
    sc = NoveltyScorer(n_estimators=100, random_state=0).fit(fit)
    inliers = _cloud(200, 2)
    outliers = inliers.copy() + 8.0                 # far from every fitted row, in every feature
    s_in, s_out = sc.score(inliers), sc.score(outliers)
    assert s_out.min() > np.quantile(s_in, 0.9)
    # beyond the fitted range the quantile step clips: as novel as the most novel fitted rows, no more
    assert ((s_in >= 0) & (s_in <= 1)).all() and s_out.min() >= 0.99
    # the percentile of the fitted rows themselves is (close to) uniform
    own = sc.score(fit)
    assert abs(np.median(own) - 0.5) < 0.01 and own.max() == 1.0


def test_transform_appends_the_column_and_the_pipeline_uses_it_only_when_configured():
    X = _cloud(120, 3)
    out = NoveltyScorer(n_estimators=20).fit(X).transform(X)
    assert list(out.columns) == [*X.columns, NOVELTY_COLUMN]
    pd.testing.assert_frame_equal(out[list(X.columns)], X)
    on = ModelConfig()
    off = ModelConfig.model_validate({"novelty": {"as_feature": False}})
    for kind in ("hgb", "logreg"):
        assert [n for n, _ in build_candidate(kind, on, 100).steps][0] == "novelty"
        assert "novelty" not in [n for n, _ in build_candidate(kind, off, 100).steps]
