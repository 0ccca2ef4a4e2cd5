"""models.report.champion_summary: the champion's figures per strategy, read back from MLflow."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from lake_synth import AI_STRATEGIES
from sklearn.metrics import average_precision_score, roc_auc_score

from genuine.core import tracking
from genuine.core.errors import NoChampionError
from genuine.features.catalog import FEATURE_NAMES
from genuine.models.promotion import load_holdout
from genuine.models.report import COLUMNS, champion_summary, summary_from_metrics

NAN = math.nan


def test_summary_from_metrics_on_hand_made_metrics():
    metrics = {
        "holdout.n": 100.0, "holdout.pr_auc": 0.9, "holdout.roc_auc": 0.95, "holdout.precision_auto": 1.0,
        "holdout.recall_auto": 0.5, "holdout.fpr_auto": 0.0, "holdout.brier": 0.1, "holdout.n_ai": 30.0,
        "loso.farm.n": 20.0, "loso.farm.pr_auc": 0.7, "loso.farm.human_fpr_auto": 0.01, "loso.farm.recall_auto": 0.4,
        "loso.farm.precision_auto": 0.8, "loso.farm.threshold_auto": 0.9, "loso.farm.n_humans": 70.0,
        "holdout.strategy.ordinary.n": 60.0, "holdout.strategy.ordinary.fpr_review": 0.05,
        "holdout.strategy.farm.n": 10.0, "holdout.strategy.farm.recall_review": 0.9,
        "holdout.protected.brand.n": 5.0, "holdout.protected.brand.fpr_auto": 0.2,
        "holdout.protected.all.n": 8.0, "holdout.protected.all.fpr_auto": 0.125,
        "val.pr_auc": 0.99, "data.labels_in": 400.0, "time.candidates_s": 1.0,
    }
    got = summary_from_metrics(metrics)
    expected = pd.DataFrame([
        ["overall", "holdout", 100.0, 0.9, 0.95, 1.0, 0.5, NAN, NAN, 0.0, NAN],
        ["held_out_strategy", "farm", 20.0, 0.7, NAN, 0.8, 0.4, NAN, NAN, 0.01, NAN],
        ["strategy", "farm", 10.0, NAN, NAN, NAN, NAN, NAN, 0.9, NAN, NAN],
        ["strategy", "ordinary", 60.0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0.05],
        ["protected", "all", 8.0, NAN, NAN, NAN, NAN, NAN, NAN, 0.125, NAN],
        ["protected", "brand", 5.0, NAN, NAN, NAN, NAN, NAN, NAN, 0.2, NAN],
    ], columns=COLUMNS)
    pd.testing.assert_frame_equal(got, expected)
    assert summary_from_metrics({}).columns.tolist() == COLUMNS and summary_from_metrics({}).empty


def test_champion_summary_matches_the_champion_recomputed(pipeline):
    client = tracking.configure(pipeline.cfg.mlflow)
    r = pipeline.train.train
    got = champion_summary(client, pipeline.cfg.mlflow.account_model)
    assert got.attrs["model_version"] == r.model_version and got.attrs["run_id"] == r.run_id
    assert got.attrs["thresholds"] == r.thresholds.as_dict()
    assert got.columns.tolist() == COLUMNS
    by = got.set_index(["section", "name"])
    assert sorted(by.loc["held_out_strategy"].index) == AI_STRATEGIES
    assert set(by.loc["protected"].index) == {"all", "brand", "night_shift", "prolific_creator", "verified"}

    # overall: the registered champion re-scored on its logged holdout, figures recomputed here
    hold = load_holdout(client, r.run_id)
    p = np.asarray(mlflow.pyfunc.load_model(r.model_uri).predict(hold[FEATURE_NAMES]), dtype="float64")
    y = hold["y"].to_numpy()
    flagged = p >= r.thresholds.auto
    overall = by.loc[("overall", "holdout")]
    assert overall["n"] == len(hold)
    assert overall["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert overall["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert overall["precision_auto"] == pytest.approx(y[flagged].mean(), abs=1e-12)
    assert overall["recall_auto"] == pytest.approx(y[flagged].sum() / y.sum(), abs=1e-12)
    # protected: FPR among the humans of each group at the auto threshold
    humans = y == 0
    for g in ("brand", "night_shift", "prolific_creator"):
        mask = humans & (hold["protected_group"] == g).fillna(False).to_numpy(dtype=bool)
        assert by.loc[("protected", g), "n"] == mask.sum()
        assert by.loc[("protected", g), "fpr_auto"] == pytest.approx(flagged[mask].mean(), abs=1e-12)
    # held-out strategies: precision is consistent with recall, FPR and the two counts logged beside them
    m = client.get_run(r.run_id).data.metrics
    for s in AI_STRATEGIES:
        row = by.loc[("held_out_strategy", s)]
        tp = row["recall_auto"] * row["n"]
        fp = row["fpr_auto"] * m[f"loso.{s}.n_humans"]
        if tp + fp > 0:
            assert row["precision_auto"] == pytest.approx(tp / (tp + fp), abs=1e-9)
        assert row["pr_auc"] == m[f"loso.{s}.pr_auc"] and 0 < row["roc_auc"] <= 1


def test_champion_summary_without_champion(cfg_factory):
    cfg = cfg_factory()
    with pytest.raises(NoChampionError, match="genuine train"):
        champion_summary(tracking.configure(cfg.mlflow), cfg.mlflow.account_model)
