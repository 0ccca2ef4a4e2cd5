"""One Spark session for the whole test run (a fresh JVM costs ~10 s), injected, never created at import.

The session resolves the JVM packages of conf (spark.packages: delta-spark, graphframes) once, so both
Delta engines and GraphFrames are tested; delta-spark is required (a session without it is an error, not
a silent skip). Tables in the rest of the suite use delta-rs (`cfg_factory`) unless a test asks otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# The enforcement lakes (a trained champion, a scored and an enforced lake), shared by tests/enforcement
# and tests/console.
pytest_plugins = ["tests.enforcement.fixtures"]


@pytest.fixture(scope="session")
def cfg_factory(tmp_path_factory: pytest.TempPathFactory):
    """Build a test config whose lake and MLflow store live in a fresh temp folder."""
    from genuine.core.config import load_config

    def make(*overrides: str, root: Path | None = None):
        root = root or tmp_path_factory.mktemp("lake")
        base = [f"lake.root={root}", f"mlflow.tracking_uri=sqlite:///{root}/mlflow.db",
                f"privacy.key_file={root}/hmac.key", f"console.secret_key_file={root}/console.key",
                "lake.engine=delta-rs"]
        return load_config("test", base + list(overrides))

    return make


@pytest.fixture(scope="session")
def cfg(cfg_factory):
    return cfg_factory()


@pytest.fixture(scope="session")
def spark(cfg_factory, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from genuine.core.session import get_spark

    session = get_spark(cfg_factory("lake.engine=delta-spark"))
    session.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("checkpoints")))
    yield session
    session.stop()


@pytest.fixture(scope="module", autouse=True)
def _release_cached_frames() -> Iterator[None]:
    """Drop every module's cached DataFrames when it ends: one JVM serves ~500 tests, and its heap is finite."""
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.catalog.clearCache()
