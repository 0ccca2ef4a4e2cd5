"""The train and score jobs end to end on a real lake and MLflow store (fixture `pipeline`, conftest.py):
labels joined point in time, everything logged, the model registered and promoted, every account of the
snapshot scored exactly once, and a repeated scoring run adding nothing."""

from __future__ import annotations

import datetime as dt
import io
import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from lake_synth import AI_STRATEGIES, N_ACCOUNTS, SNAPSHOT, write_inputs
from test_scoring import _oracle_reasons

from genuine.core import tracking
from genuine.core.errors import NoChampionError, SnapshotNotFound, TableNotFound
from genuine.features.catalog import BY_NAME, FEATURE_NAMES
from genuine.jobs import score, train
from genuine.models.config import ModelConfig
from genuine.models.promotion import alias_version, check_gates
from genuine.models.thresholds import Thresholds
from tests.oracles import read_delta_rs

AS_OF = pd.Timestamp(dt.datetime.combine(SNAPSHOT, dt.time(23, 59, 59)))


def _labels_oracle(labels: pd.DataFrame) -> pd.DataFrame:
    """Latest decision per account (ties: the human label), and whether a snapshot existed then."""
    lab = labels.drop_duplicates(["account_id", "label", "source", "decided_at"]).copy()
    ts = pd.to_datetime(lab["decided_at"])
    lab["decided_at"] = ts.dt.tz_convert(None) if ts.dt.tz is not None else ts
    lab["_ai"] = (lab["label"] == "ai_managed").astype(int)
    lab = lab.sort_values(["account_id", "decided_at", "_ai"], ascending=[True, False, True])
    latest = lab.groupby("account_id", as_index=False).first()
    latest["has_snapshot"] = latest["decided_at"] >= AS_OF
    return latest


def _client(pipeline):
    return tracking.configure(pipeline.cfg.mlflow)


# --- training ---------------------------------------------------------------------------------------
def test_train_job_uses_latest_labels_point_in_time(pipeline):
    oracle = _labels_oracle(pipeline.labels)
    run = _client(pipeline).get_run(pipeline.train.train.run_id)
    m, p = run.data.metrics, run.data.params
    assert m["data.labels_in"] == len(oracle)
    assert m["data.labels_without_snapshot"] == (~oracle["has_snapshot"]).sum() > 0
    used = oracle[oracle["has_snapshot"]]
    assert m["data.labels_used"] == len(used)
    assert int(p["n_fit"]) + int(p["n_validation"]) + int(p["n_holdout"]) == len(used)
    # an overturned import (ai_managed, then a later human decision) trains as human
    overturned = set(pipeline.labels.loc[pipeline.labels["source"] == "import", "account_id"])
    assert overturned and (oracle.set_index("account_id").loc[sorted(overturned), "label"] == "human").all()
    hold = pipeline.train.train.holdout.set_index("account_id")
    expected_y = (used.set_index("account_id").loc[hold.index, "label"] == "ai_managed").astype(int)
    assert (hold["y"] == expected_y).all()
    truth = pipeline.truth.set_index("account_id")
    assert (hold["strategy"] == truth.loc[hold.index, "strategy"]).all()
    # verified comes from raw_accounts: a protected population of its own (unless already protected
    # as a genuine-but-unusual strategy)
    verified = set(pipeline.accounts.loc[pipeline.accounts["verified"].astype(bool), "account_id"])
    protected = pipeline.cfg.section("model", ModelConfig).protected_strategies
    is_v = hold.index.isin(sorted(verified)) & (hold["y"] == 0).to_numpy() & ~hold["strategy"].isin(protected).to_numpy()
    assert is_v.sum() > 0 and m["holdout.protected.verified.n"] == is_v.sum()


def test_train_job_logs_loso_thresholds_plots_and_lineage(pipeline):
    client = _client(pipeline)
    r = pipeline.train.train
    run = client.get_run(r.run_id)
    m = run.data.metrics
    oracle = _labels_oracle(pipeline.labels)
    used = oracle[oracle["has_snapshot"]].merge(pipeline.truth, on="account_id")
    # held-out-strategy figures, one set per AI strategy, with the labelled count of that strategy
    loso = pd.read_csv(io.StringIO(mlflow.artifacts.load_text(
        f"runs:/{r.run_id}/evaluation/leave_one_strategy_out.csv")))
    assert sorted(loso["strategy"]) == AI_STRATEGIES
    for row in loso.to_dict("records"):
        s = row["strategy"]
        assert m[f"loso.{s}.n"] == row["n"] == (used["strategy"] == s).sum()
        for k in ("pr_auc", "roc_auc", "recall_auto", "recall_review", "precision_review", "human_fpr_auto",
                  "human_fpr_review", "threshold_review"):
            assert m[f"loso.{s}.{k}"] == pytest.approx(row[k])
        assert 0.5 < m[f"loso.{s}.roc_auc"] <= 1.0
        assert f"holdout.strategy.{s}.recall_auto" in m and f"holdout.strategy.{s}.pr_auc" in m
    # thresholds per precision target, as version tags (and params of the run)
    mv = client.get_model_version(r.model_name, r.model_version)
    th = Thresholds.from_tags(mv.tags)
    assert th == r.thresholds and math.isfinite(th.review)
    assert mv.tags["precision_target.auto"] == "0.995" and mv.tags["precision_target.review"] == "0.9"
    assert float(run.data.params["threshold.auto"]) == th.auto
    for band, target in (("auto", 0.995), ("review", 0.9)):
        if math.isfinite(th.as_dict()[band]):      # met on validation, as logged
            assert m[f"val.threshold_{band}.precision"] >= target
    # plots
    assert {a.path for a in client.list_artifacts(r.run_id, "plots")} == {
        f"plots/{n}.png" for n in ("pr_curve", "calibration", "score_distribution", "feature_importance")}
    # lineage: the feature table, its Delta version, the labels version, the job run
    cfg = pipeline.cfg
    for tags in (run.data.tags, mv.tags):
        assert tags["lineage.feature_table"] == cfg.table("features")
        assert tags["lineage.feature_table_version"] == str(pipeline.feature_version)
        assert tags["lineage.snapshot_dates"] == str(SNAPSHOT)
        assert tags["lineage.job_run_id"] == pipeline.train.run_id
        assert tags["lineage.labels_table_version"] == "1"
    ds = run.inputs.dataset_inputs
    assert len(ds) == 1 and str(pipeline.feature_version) in ds[0].dataset.name
    # signature: every registered feature, in registry order
    info = mlflow.models.get_model_info(r.model_uri)
    assert info.signature.inputs.input_names() == FEATURE_NAMES


def test_train_job_registers_and_promotes_per_gates(pipeline):
    client = _client(pipeline)
    r, d = pipeline.train.train, pipeline.train.decision
    name = pipeline.cfg.mlflow.account_model
    gates = pipeline.cfg.section("model", ModelConfig).gates
    passed, lines = check_gates(d.challenger_metrics, None, gates)
    assert passed and d.promoted and d.champion_before is None and list(d.reasons) == lines
    assert alias_version(client, name, "challenger") == alias_version(client, name, "champion") == r.model_version
    assert client.get_model_version(name, r.model_version).tags["promotion.decision"] == "promoted"
    # the decision figures are the holdout figures of the training run
    assert d.challenger_metrics["pr_auc"] == pytest.approx(r.metrics["holdout.pr_auc"], abs=1e-12)
    runs = read_delta_rs(pipeline.cfg.table("runs")).set_index("run_id")
    row = runs.loc[pipeline.train.run_id]
    assert row["status"] == "succeeded"
    assert dict(row["inputs"]) == {"features": pipeline.feature_version, "raw_labels": 1, "raw_accounts": 1}


# --- scoring ----------------------------------------------------------------------------------------
def test_score_job_scores_every_account_once_with_lineage(pipeline):
    s1, scores = pipeline.score1, pipeline.scores_after_first
    feats = pipeline.features[pipeline.features["snapshot_date"] == SNAPSHOT]
    assert len(feats) == N_ACCOUNTS
    assert len(scores) == N_ACCOUNTS == s1.rows and scores["account_id"].is_unique
    assert set(scores["account_id"]) == set(feats["account_id"])
    r = pipeline.train.train
    assert (s1.model_version, s1.feature_table_version, s1.snapshot_date) == (r.model_version,
                                                                               pipeline.feature_version, SNAPSHOT)
    assert (scores["model_name"] == r.model_name).all() and (scores["model_version"] == r.model_version).all()
    assert (scores["model_run_id"] == r.run_id).all()
    assert (scores["feature_table_version"] == pipeline.feature_version).all()
    assert (scores["scoring_run_id"] == s1.run_id).all() and (scores["snapshot_date"] == SNAPSHOT).all()
    # scores == the registered model on the features as written; bands == the version's thresholds
    model = mlflow.pyfunc.load_model(r.model_uri)
    f = feats.set_index("account_id").loc[scores["account_id"]]
    expected = np.asarray(model.predict(f[FEATURE_NAMES].astype("float64")), dtype="float64")
    np.testing.assert_allclose(scores["score"].to_numpy(), expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(scores["band"].to_numpy(), r.thresholds.band(expected))
    assert {"auto", "review", "none"} <= set(scores["band"])


def test_score_job_reasons_equal_python_oracle(pipeline):
    scores = pipeline.scores_after_first.set_index("account_id")
    ref = pipeline.train.train.reference
    feats = pipeline.features.set_index("account_id")
    n_with = 0
    for acc, row in feats.iterrows():
        values = {k: (None if pd.isna(v) else float(v)) for k, v in row[FEATURE_NAMES].items()}
        expected = _oracle_reasons(values, ref, ref["top_k"], ref["min_tail_percentile"])
        actual = [dict(x) for x in scores.at[acc, "reasons"]]
        assert [a["feature"] for a in actual] == [e["feature"] for e in expected], acc
        for a, e in zip(actual, expected, strict=True):
            assert a["text"] == e["text"] and a["value"] == e["value"] and a["family"] == BY_NAME[a["feature"]].family
            assert a["human_percentile"] == pytest.approx(e["human_percentile"], abs=1e-9)
        n_with += bool(expected)
    assert 0 < n_with < len(feats)
    auto = scores[scores["band"] == "auto"]
    assert all(len(r) > 0 for r in auto["reasons"])      # every automatic-band account says why


def test_repeated_scoring_run_adds_nothing(pipeline):
    s1, s2 = pipeline.score1, pipeline.score2
    assert s2.scoring_key == s1.scoring_key and s2.run_id != s1.run_id
    assert (s2.rows, s2.version, s2.skipped) == (0, None, "txn already committed")
    assert pipeline.version_after_second == pipeline.version_after_first == s1.version
    again = read_delta_rs(pipeline.cfg.table("scores"))
    assert len(again) == N_ACCOUNTS and set(again["scoring_run_id"]) == {s1.run_id}
    runs = read_delta_rs(pipeline.cfg.table("runs")).set_index("run_id")
    assert runs.loc[s1.run_id, "status"] == runs.loc[s2.run_id, "status"] == "succeeded"
    assert dict(runs.loc[s1.run_id, "outputs"]) == {"scores": s1.version}
    assert dict(runs.loc[s2.run_id, "outputs"]) == {}
    assert dict(runs.loc[s2.run_id, "row_counts"]) == {"scored": 0}


# --- missing inputs -----------------------------------------------------------------------------------
def test_jobs_say_what_is_missing(spark, cfg_factory, tmp_path):
    cfg = cfg_factory()
    with pytest.raises(TableNotFound, match="genuine features"):
        score.run(cfg, spark=spark)
    with pytest.raises(TableNotFound, match="features and raw_labels"):
        train.run(cfg, spark=spark)
    write_inputs(spark, cfg, tmp_path, n=200)   # features, labels, accounts; nothing trained
    with pytest.raises(SnapshotNotFound, match="no snapshot 2026-10-30 .* holds 2026-10-31"):
        score.run(cfg, dt.date(2026, 10, 30), spark=spark)
    with pytest.raises(NoChampionError, match="genuine train"):
        score.run(cfg, spark=spark)
    failed = read_delta_rs(cfg.table("runs"))
    assert (failed["status"] == "failed").sum() == 4 and failed["error"].str.len().gt(0).all()
