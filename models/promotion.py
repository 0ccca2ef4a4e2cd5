"""Champion/challenger promotion through MLflow registry aliases.

A new version is always the `challenger`; `champion` (what scoring loads) moves only when the
challenger passes the configured gates on the same holdout as the current champion. The decision and
both models' figures are logged as an MLflow run and as tags on the challenger version, so "why is
this the champion" is answerable from the registry alone.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from genuine.core import tracking
from genuine.core.errors import MissingColumnsError, VersionNotFound
from genuine.models.config import GatesConfig
from genuine.models.evaluation import evaluate_scores, finite_metrics
from genuine.models.labels import require_columns
from genuine.models.pyfunc import load_pyfunc
from genuine.models.thresholds import Thresholds
from genuine.models.training import HOLDOUT_ARTIFACT

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class PromotionDecision:
    model_name: str
    challenger_version: str
    champion_before: str | None
    champion_after: str | None
    promoted: bool
    reasons: tuple[str, ...]            # every gate result, passed or failed, in words
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    run_id: str | None


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """Version behind an alias, or None when the alias is not set."""
    mv = tracking.version_by_alias(client, name, alias)
    return None if mv is None else str(mv.version)


def load_holdout(client: MlflowClient, run_id: str) -> pd.DataFrame:
    """The holdout a training run logged, so `genuine promote` can re-run the comparison later."""
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, HOLDOUT_ARTIFACT, tmp)
        return pd.read_parquet(path)


def evaluate_version(client: MlflowClient, name: str, version: str, holdout: pd.DataFrame) -> dict[str, float]:
    """Score the holdout with one registered version at that version's own thresholds."""
    mv = client.get_model_version(name, version)
    thresholds = Thresholds.from_tags(mv.tags)
    model = load_pyfunc(tracking.version_uri(name, version))
    schema = model.metadata.get_input_schema()
    cols = schema.input_names() if schema is not None else []
    require_columns(holdout.columns, [*cols, "y"], f"holdout (for {name} v{version})")
    scores = np.asarray(model.predict(holdout[cols].astype("float64")), dtype="float64")
    return evaluate_scores(holdout, scores, thresholds)


def check_gates(challenger: Mapping[str, float], champion: Mapping[str, float] | None,
                gates: GatesConfig) -> tuple[bool, list[str]]:
    """Apply the gates; returns (passed, one line per gate)."""
    lines: list[str] = []
    ok = True
    ap = challenger.get("pr_auc", math.nan)
    passed = math.isfinite(ap) and ap >= gates.min_pr_auc
    ok &= passed
    lines.append(f"{'pass' if passed else 'FAIL'}: PR-AUC {ap:.4f} >= minimum {gates.min_pr_auc}")
    groups = sorted({k.split(".")[1] for k in challenger if k.startswith("protected.") and k.endswith(".n")})
    gated = [g for g in groups if challenger.get(f"protected.{g}.n", 0) >= gates.min_group_size]
    if not gated:
        lines.append("note: no protected accounts in the holdout: protected-FPR gate not evaluated")
    for g in gated:
        for band, limit in gates.protected_fpr_limit.items():
            fpr = challenger.get(f"protected.{g}.fpr_{band}", math.nan)
            passed = not math.isfinite(fpr) or fpr <= limit
            ok &= passed
            lines.append(f"{'pass' if passed else 'FAIL'}: FPR at {band} on protected {g} "
                         f"(n={int(challenger[f'protected.{g}.n'])}) {fpr:.4f} <= {limit}")
    for g in groups:
        if g not in gated:
            lines.append(f"note: protected {g} has n={int(challenger[f'protected.{g}.n'])} "
                         f"< {gates.min_group_size}: reported, not gated")
    if champion is not None:
        cap = champion.get("pr_auc", math.nan)
        passed = math.isfinite(ap) and (not math.isfinite(cap) or ap >= cap - gates.pr_auc_tolerance)
        ok &= passed
        lines.append(f"{'pass' if passed else 'FAIL'}: PR-AUC {ap:.4f} >= champion {cap:.4f} "
                     f"- tolerance {gates.pr_auc_tolerance}")
    return ok, lines


def promote(client: MlflowClient, name: str, new_version: str | int, holdout: pd.DataFrame, gates: GatesConfig,
            *, force: bool = False) -> PromotionDecision:
    """Make `new_version` the challenger and, if the gates pass against the current champion on this
    holdout (or the absolute gates, when there is no champion yet), the champion. `force` moves the
    alias regardless (an operator's override; recorded as such)."""
    new_version = str(new_version)
    client.set_registered_model_alias(name, CHALLENGER, new_version)
    before = alias_version(client, name, CHAMPION)
    if before == new_version:
        return PromotionDecision(name, new_version, before, before, False, ("already champion",),
                                 {}, None, None)
    challenger = evaluate_version(client, name, new_version, holdout)
    champion: dict[str, float] | None = None
    notes: list[str] = []
    if before is not None:
        try:
            champion = evaluate_version(client, name, before, holdout)
        except MissingColumnsError as exc:
            notes.append(f"FAIL: champion v{before} cannot be scored on this holdout ({exc}); "
                         "promote with force after checking by hand")
    passed, lines = check_gates(challenger, champion, gates)
    lines = notes + lines
    passed = passed and not notes
    if force and not passed:
        lines.append("override: promoted by force despite failed gates")
    promoted = passed or force
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, new_version)
    after = new_version if promoted else before

    with mlflow.start_run(run_name=f"promotion {name} v{new_version}",
                          nested=mlflow.active_run() is not None) as run:
        mlflow.set_tags({"genuine.kind": "promotion", "model_name": name, "challenger_version": new_version,
                         "champion_before": str(before), "champion_after": str(after),
                         "decision": "promoted" if promoted else "rejected", "forced": str(force and not passed)})
        mlflow.log_params({f"gates.{k}": json.dumps(v) if isinstance(v, dict) else v
                           for k, v in gates.model_dump(mode="json").items()})
        mlflow.log_metrics(finite_metrics({f"challenger.{k}": v for k, v in challenger.items()}))
        if champion is not None:
            mlflow.log_metrics(finite_metrics({f"champion.{k}": v for k, v in champion.items()}))
        mlflow.log_text("\n".join(lines) + "\n", "promotion/decision.txt")
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "holdout_ids.txt"
            p.write_text("\n".join(map(str, holdout["account_id"])) if "account_id" in holdout else "")
            mlflow.log_artifact(str(p), "promotion")
        run_id = run.info.run_id
    for key, value in {"promotion.decision": "promoted" if promoted else "rejected",
                       "promotion.run_id": run_id, "promotion.compared_with": str(before),
                       "promotion.reasons": " | ".join(lines)[:4900]}.items():
        client.set_model_version_tag(name, new_version, key, value)
    log.info("promotion of %s v%s: %s (champion %s -> %s)\n%s", name, new_version,
             "promoted" if promoted else "rejected", before, after, "\n".join(lines))
    return PromotionDecision(name, new_version, before, after, promoted, tuple(lines), challenger,
                             champion, run_id)


def promote_registered(client: MlflowClient, name: str, version: str, gates: GatesConfig, *,
                       force: bool = False, store: str = "") -> PromotionDecision:
    """Re-run the gates for a registered version against the current champion, on the holdout that
    version's training run logged (no Spark: everything needed is in the MLflow store, named `store`
    in the error when the version does not exist)."""
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        raise VersionNotFound(f"{name} has no version {version} in {store}") from None
    if not mv.run_id:
        raise VersionNotFound(f"{name} version {version} has no training run: not trained by genuine")
    decision = promote(client, name, str(mv.version), load_holdout(client, mv.run_id), gates, force=force)
    log.info("promotion of %s v%s: %s, champion %s -> %s", name, mv.version,
             "promoted" if decision.promoted else "rejected", decision.champion_before, decision.champion_after)
    return decision


__all__ = ["CHALLENGER", "CHAMPION", "PromotionDecision", "alias_version", "check_gates",
           "evaluate_version", "load_holdout", "promote", "promote_registered"]
