"""The `lake` fixture of the engine tests: one Lake per engine, each test run on delta-rs and on delta-spark."""

from __future__ import annotations

import pytest

from genuine.core.lake import Lake, make_engine


@pytest.fixture(params=["delta-rs", pytest.param("delta-spark", marks=pytest.mark.jvm_delta)])
def lake(request, spark, cfg_factory):
    cfg = cfg_factory(f"lake.engine={request.param}")
    return Lake(spark, cfg, make_engine(spark, request.param))
