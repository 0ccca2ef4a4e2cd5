"""Fixtures of the model tests (account model: a trained, promoted model shared by its test files)."""

from __future__ import annotations

import pytest
from lake_synth import JOB_FAST, build_pipeline
from model_synth import FAST, FEATURES, SNAPSHOT, Synthetic, make_synthetic

from genuine.core import tracking
from genuine.models.config import ModelConfig
from genuine.models.promotion import promote
from genuine.models.training import train_account_model


@pytest.fixture(scope="session")
def synthetic() -> Synthetic:
    return make_synthetic()


@pytest.fixture(scope="session")
def trained(cfg_factory, synthetic):
    """One registered, promoted model shared by the scoring tests (training costs a few seconds)."""
    cfg = cfg_factory(*FAST)
    mcfg = cfg.section("model", ModelConfig)
    result = train_account_model(synthetic.train_df(), FEATURES, mcfg, truth=synthetic.truth,
                                 mlflow_cfg=cfg.mlflow,
                                 lineage={"feature_table": "features/account_features",
                                          "feature_table_version": 3, "snapshot_dates": str(SNAPSHOT)})
    client = tracking.configure(cfg.mlflow)
    decision = promote(client, cfg.mlflow.account_model, result.model_version, result.holdout, mcfg.gates)
    return cfg, mcfg, result, decision


@pytest.fixture(scope="session")
def pipeline(spark, cfg_factory, tmp_path_factory):
    """Synthetic features + labels in a real lake, then the train job and the score job (run twice).
    Shared by test_jobs.py, test_cli.py, test_report.py and test_notebook.py (about a minute)."""
    return build_pipeline(spark, cfg_factory(*JOB_FAST), tmp_path_factory.mktemp("truth"))
