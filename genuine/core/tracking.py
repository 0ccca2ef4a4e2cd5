"""MLflow, in one place: tracking and registry URIs, the client, the experiment, alias and version look-ups.

Every job, command and notebook gets its client here, so `mlflow.registry_uri` is honoured everywhere
(a workspace registry such as Unity Catalog differs from the tracking server) and a sqlite store keeps
its artifacts beside the database instead of in whatever directory the process happens to run in.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from genuine.core.config import MlflowConfig

log = logging.getLogger(__name__)


def configure(mcfg: MlflowConfig) -> MlflowClient:
    """Point the process's MLflow (tracking, registry, experiment) at the configured store; return a client."""
    mlflow.set_tracking_uri(mcfg.tracking_uri)
    # No registry URI means the tracking store's registry: set it explicitly, so a registry configured
    # earlier in the same process (another config, a test) is not silently kept.
    mlflow.set_registry_uri(mcfg.registry_uri or mcfg.tracking_uri)
    c = client(mcfg)
    _ensure_experiment(c, mcfg)
    mlflow.set_experiment(mcfg.experiment)
    return c


def client(mcfg: MlflowConfig) -> MlflowClient:
    """A client on the configured tracking and registry stores, without touching process-wide state."""
    return MlflowClient(tracking_uri=mcfg.tracking_uri, registry_uri=mcfg.registry_uri)


def version_by_alias(c: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The registered version behind `name@alias`, or None when the model or the alias does not exist."""
    try:
        return c.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def version_uri(name: str, version: str | int) -> str:
    """A pinned model URI: scoring resolves an alias once, then reads this, so a promotion meanwhile
    cannot mix two models in one run."""
    return f"models:/{name}/{version}"


def _ensure_experiment(c: MlflowClient, mcfg: MlflowConfig) -> None:
    """With a sqlite store MLflow puts artifacts in ./mlruns of the working directory; keep them next
    to the database instead (<db dir>/mlartifacts), so a store is one folder."""
    uri = mcfg.tracking_uri
    if not uri.startswith("sqlite:///") or c.get_experiment_by_name(mcfg.experiment) is not None:
        return
    root = Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts"
    try:
        c.create_experiment(mcfg.experiment, artifact_location=root.as_uri())
    except MlflowException:   # created meanwhile by another process
        if c.get_experiment_by_name(mcfg.experiment) is None:
            raise
