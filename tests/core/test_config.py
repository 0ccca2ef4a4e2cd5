"""Configuration is validated on load: unknown keys and wrong types are errors that name the key."""

from __future__ import annotations

import pytest

from genuine.core.config import load_config
from genuine.core.errors import ConfigError, MissingKeyError
from genuine.core.privacy import load_key


def test_every_environment_loads():
    for env in ("local", "test", "cluster"):
        cfg = load_config(env)
        assert cfg.env == env
        assert set(cfg.lake.tables) >= {"raw_accounts", "quarantine", "features", "scores", "runs"}


def test_override_keeps_types_and_resolves_tables(tmp_path):
    cfg = load_config("local", [f"lake.root={tmp_path}", "ingest.max_text_chars=10", "spark.conf.spark.sql.shuffle.partitions=8"])
    assert cfg.spark.conf["spark.sql.shuffle.partitions"] == "8"
    assert cfg.ingest.max_text_chars == 10
    assert cfg.table("features") == str(tmp_path / "features" / "account_features")
    with pytest.raises(KeyError, match="unknown table 'nope'"):
        cfg.table("nope")


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="unknown config key 'lake.rooot'"):
        load_config("local", ["lake.rooot=/tmp/x"])


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match="config key 'ingest.max_text_chars'"):
        load_config("local", ["ingest.max_text_chars=lots"])


def test_malformed_override():
    with pytest.raises(ConfigError, match="dotted.key=value"):
        load_config("local", ["lake.root"])


def test_fingerprint_changes_with_config():
    assert load_config("local").fingerprint() == load_config("local").fingerprint()
    assert load_config("local").fingerprint() != load_config("local", ["ingest.max_text_chars=9"]).fingerprint()


def test_cluster_refuses_to_start_without_hmac_key(tmp_path, monkeypatch):
    monkeypatch.delenv("GENUINE_HMAC_KEY", raising=False)
    cfg = load_config("cluster", [f"privacy.key_file={tmp_path}/absent.key"])
    with pytest.raises(MissingKeyError, match="GENUINE_HMAC_KEY"):
        load_key(cfg)
    monkeypatch.setenv("GENUINE_HMAC_KEY", "ab" * 32)
    assert load_key(cfg) == bytes.fromhex("ab" * 32)


def test_local_creates_a_key_once(tmp_path, monkeypatch):
    monkeypatch.delenv("GENUINE_HMAC_KEY", raising=False)
    cfg = load_config("local", [f"privacy.key_file={tmp_path}/k/hmac.key"])
    first = load_key(cfg)
    assert len(first) == 32 and load_key(cfg) == first


def test_apply_overrides_equals_loading_with_them():
    """A bench's scratch settings applied to a loaded config give what loading with them gives."""
    from genuine.core.config import apply_overrides

    sets = ["lake.root=/tmp/scratch/lake", "mlflow.registry_uri=null", "features.incremental=true",
            "spark.conf.spark.sql.shuffle.partitions=7"]
    assert apply_overrides(load_config("test"), sets) == load_config("test", sets)
    assert apply_overrides(load_config("test"), sets) != load_config("test")
    with pytest.raises(ConfigError, match="unknown config key 'lake.nope'"):
        apply_overrides(load_config("test"), ["lake.nope=1"])
