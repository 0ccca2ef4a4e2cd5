"""What enforcement reads from the model registry: the thresholds and facts of one model version.

Kept apart from the transforms so that importing genuine.enforcement (Spark workers do, to run its
Arrow UDFs) does not load MLflow.
"""

from __future__ import annotations

from typing import Any

from mlflow.tracking import MlflowClient

from genuine.models.thresholds import Thresholds


def auto_threshold(client: MlflowClient, name: str, version: str) -> float:
    """The auto threshold of a model version (thresholds live with the version, as tags)."""
    return Thresholds.from_tags(client.get_model_version(name, version).tags).auto


def model_facts(client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """Registry facts of a model version for an audit trail; a missing threshold tag is shown as None."""
    mv = client.get_model_version(name, version)
    return {"name": name, "version": str(mv.version), "run_id": mv.run_id,
            "auto": float(mv.tags["threshold.auto"]) if "threshold.auto" in mv.tags else None,
            "review": float(mv.tags["threshold.review"]) if "threshold.review" in mv.tags else None,
            "aliases": sorted(getattr(mv, "aliases", []) or [])}
