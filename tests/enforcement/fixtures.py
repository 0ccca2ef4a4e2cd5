"""Fixtures of the enforcement job tests and the console's: one trained champion and one scored lake per
session; every scenario enforces its own copy of that lake (a Delta table is a folder with relative paths:
a copy is an independent table with the same history). A plugin of tests/conftest.py, so both test
folders share one champion and one template lake."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genuine.jobs import enforce
from tests.enforcement._pipeline import FAST, build_inputs, train_champion

# Breaker floor above the test population: these lakes never trip unless a test says so.
NO_TRIP = "enforcement.breaker.floor=100000"


@pytest.fixture(scope="session")
def champion(cfg_factory, spark):
    """(mlflow tracking uri, champion version): trained once, shared by every lake of these tests."""
    cfg = cfg_factory(*FAST)
    version = train_champion(cfg)
    return cfg.mlflow.tracking_uri, version


@pytest.fixture(scope="session")
def lake_cfg(cfg_factory, champion):
    """lake_cfg(*overrides, root=None): a config with its own lake that uses the shared champion."""
    uri, _ = champion

    def make(*overrides: str, root: Path | None = None):
        return cfg_factory(*FAST, f"mlflow.tracking_uri={uri}", NO_TRIP, *overrides, root=root)

    return make


@pytest.fixture(scope="session")
def scored(spark, lake_cfg):
    """A lake with raw tables and a snapshot scored by jobs.score, never enforced: the template."""
    cfg = lake_cfg()
    inputs = build_inputs(spark, cfg)
    return cfg, inputs


@pytest.fixture(scope="session")
def lake_copy(scored, lake_cfg, tmp_path_factory):
    """lake_copy(*overrides) -> (cfg, inputs): a fresh copy of the scored template lake."""
    template, inputs = scored

    def make(*overrides: str):
        root = tmp_path_factory.mktemp("lakecopy")
        shutil.copytree(template.lake.root, root, dirs_exist_ok=True)
        return lake_cfg(*overrides, root=root), inputs

    return make


@pytest.fixture(scope="session")
def pipeline(spark, lake_copy):
    """The scored lake enforced once by jobs.enforce: (cfg, inputs, EnforceRun)."""
    cfg, inputs = lake_copy()
    first = enforce.run(cfg, spark=spark)
    return cfg, inputs, first


@pytest.fixture(scope="session")
def enforced_copy(pipeline, lake_cfg, tmp_path_factory):
    """enforced_copy(*overrides) -> (cfg, inputs): a fresh copy of the enforced lake of `pipeline`."""
    template, inputs, _ = pipeline

    def make(*overrides: str):
        root = tmp_path_factory.mktemp("enforcedcopy")
        shutil.copytree(template.lake.root, root, dirs_exist_ok=True)
        return lake_cfg(*overrides, root=root), inputs

    return make
