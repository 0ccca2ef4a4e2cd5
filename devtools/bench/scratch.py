"""The configuration a benchmark runs with: the same settings pointed at its own lake and MLflow store."""

from __future__ import annotations

from pathlib import Path

from genuine.core.config import Config, apply_overrides


def scratch_settings(root: Path) -> list[str]:
    """`--set` overrides that put the lake in ROOT/lake, MLflow (tracking and registry) in ROOT/mlflow.db,
    the HMAC key in ROOT/hmac.key and the reports in ROOT/reports: a benchmark never writes to the real
    lake, registry or reports, and never needs the real key."""
    root = root.resolve()
    return [f"lake.root={root / 'lake'}", f"mlflow.tracking_uri=sqlite:///{root / 'mlflow.db'}",
            "mlflow.registry_uri=null", f"privacy.key_file={root / 'hmac.key'}", "privacy.create_key_if_missing=true",
            f"reports.root={root / 'reports'}"]


def scratch_config(cfg: Config, root: Path) -> Config:
    """`cfg` with `scratch_settings(root)` applied."""
    return apply_overrides(cfg, scratch_settings(root))
