"""`mlflow.registry_uri` is honoured: with tracking in one sqlite store and the registry in another, the
versions genuine registers land in the registry store, and genuine's look-ups (the text detector's and the
account model's champion) find them there even when the process was pointed elsewhere meanwhile."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking._model_registry import utils as registry_utils
from model_synth import FAST, FEATURES, make_synthetic
from test_text_detector import FAST as TEXT_FAST
from test_text_detector import _synthetic_rows, _write

from genuine.core import tracking
from genuine.features.post_scores import text_model_uri
from genuine.models.config import ModelConfig
from genuine.models.promotion import promote
from genuine.models.scoring import load_champion
from genuine.models.text_detector import load_detector
from genuine.models.text_training import train_text_detector
from genuine.models.training import train_account_model


@pytest.fixture()
def split_store(cfg_factory, tmp_path, monkeypatch):
    """Config with its own registry database; the process-wide registry URI is restored afterwards, so
    the tests that follow register where their own config says."""
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "")      # recorded, so removed again at teardown
    registry = tmp_path / "registry.db"
    cfg = cfg_factory(*FAST, f"mlflow.registry_uri=sqlite:///{registry}", root=tmp_path)
    return cfg, tmp_path / "mlflow.db", registry


def _versions(db: Path) -> list[tuple[str, str]]:
    """(model, version) rows of a sqlite MLflow store; none when it has no registry tables."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        try:
            return [(n, str(v)) for n, v in con.execute("select name, version from model_versions order by 1, 2")]
        except sqlite3.OperationalError:
            return []


def test_versions_land_in_the_configured_registry_and_are_found_there(split_store, tmp_path):
    cfg, tracking_db, registry_db = split_store
    rows = _synthetic_rows(120, seed=5)
    files = [_write(tmp_path / "syn_a.jsonl", rows[:80]), _write(tmp_path / "syn_b.jsonl", rows[80:])]
    text = train_text_detector(files, cfg, params=TEXT_FAST)
    mcfg = cfg.section("model", ModelConfig)
    mcfg = mcfg.model_copy(update={"loso": mcfg.loso.model_copy(update={"enabled": False})})
    synthetic = make_synthetic()
    account = train_account_model(synthetic.train_df(), FEATURES, mcfg, mlflow_cfg=cfg.mlflow)
    decision = promote(tracking.configure(cfg.mlflow), cfg.mlflow.account_model, account.model_version,
                       account.holdout, mcfg.gates)
    assert decision.promoted, decision.reasons

    assert _versions(registry_db) == sorted([(cfg.mlflow.account_model, account.model_version),
                                             (cfg.mlflow.text_model, text.version)])
    assert _versions(tracking_db) == []
    client = tracking.client(cfg.mlflow)
    runs = client.search_runs([client.get_experiment_by_name(cfg.mlflow.experiment).experiment_id])
    assert {text.run_id, account.run_id} <= {r.info.run_id for r in runs}     # runs stay in the tracking store

    # Point the process at the tracking store's (empty) registry: genuine's look-ups must not follow it.
    mlflow.set_registry_uri(cfg.mlflow.tracking_uri)
    found = text_model_uri(cfg)                       # the feature job's look-up of the detector
    assert found == (f"models:/{cfg.mlflow.text_model}/{text.version}", text.version)
    tracking.configure(cfg.mlflow)                    # as the feature job does before scoring posts
    p = load_detector(found[0]).predict(pd.DataFrame({"text": ["lol tried the new place", None]}))
    assert len(p) == 2
    mlflow.set_registry_uri(cfg.mlflow.tracking_uri)
    champ = load_champion(tracking.configure(cfg.mlflow), cfg.mlflow.account_model)   # the score job's
    assert (champ.version, champ.run_id) == (account.model_version, account.run_id)
    assert champ.thresholds == account.thresholds
