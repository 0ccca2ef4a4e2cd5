"""The configuration a benchmark runs with: the same settings pointed at its own lake and MLflow store."""

from __future__ import annotations

from pathlib import Path

from genuine.core.config import Config


def scratch_config(cfg: Config, root: Path) -> Config:
    """`cfg` with the lake in ROOT/lake and MLflow (tracking and registry) in ROOT/mlflow.db, so a
    benchmark never writes to the real lake or registry."""
    return cfg.model_copy(update={
        "lake": cfg.lake.model_copy(update={"root": str(root / "lake")}),
        "mlflow": cfg.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{(root / 'mlflow.db').resolve()}",
                                                "registry_uri": None}),
    })
