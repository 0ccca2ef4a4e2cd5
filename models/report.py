"""What the champion is worth, per strategy, read back from the MLflow store.

The figures are the ones the champion's training run logged (`models.training.train_account_model`):
nothing is recomputed here, so the demo, the notebook and a reviewer reading the MLflow UI see the same
numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from genuine.core import tracking
from genuine.core.errors import NoChampionError
from genuine.core.lake.arrow import query
from genuine.models.thresholds import Thresholds

SECTIONS = ("overall", "held_out_strategy", "strategy", "protected")
"""overall: the random holdout. held_out_strategy: leave-one-strategy-out (the recipe retrained without
that strategy, then scored on it and on the holdout humans). strategy: each strategy inside the random
holdout (seen in training). protected: humans of each protected population (FPR only)."""

COLUMNS = ["section", "name", "n", "pr_auc", "roc_auc", "precision_auto", "recall_auto", "precision_review",
           "recall_review", "fpr_auto", "fpr_review"]

# metric suffix in MLflow -> column, per section
_FIGURES = {c: c for c in COLUMNS[2:]}
_LOSO = {**_FIGURES, "human_fpr_auto": "fpr_auto", "human_fpr_review": "fpr_review"}
_PATTERNS: list[tuple[str, re.Pattern[str], Mapping[str, str]]] = [
    ("held_out_strategy", re.compile(r"^loso\.([^.]+)\.([^.]+)$"), _LOSO),
    ("strategy", re.compile(r"^holdout\.strategy\.([^.]+)\.([^.]+)$"), _FIGURES),
    ("protected", re.compile(r"^holdout\.protected\.([^.]+)\.([^.]+)$"), _FIGURES),
]


def summary_from_metrics(metrics: Mapping[str, float]) -> pd.DataFrame:
    """One row per (section, name) with COLUMNS; NaN where a figure was not logged (an AI strategy has
    no FPR, a human one no recall, a protected group only n and FPR)."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    overall = {col: metrics[f"holdout.{key}"] for key, col in _FIGURES.items() if f"holdout.{key}" in metrics}
    if overall:
        rows[("overall", "holdout")] = overall
    for section, pattern, cols in _PATTERNS:
        for key, value in metrics.items():
            m = pattern.match(key)
            if m and m.group(2) in cols:
                rows.setdefault((section, m.group(1)), {})[cols[m.group(2)]] = value
    order = {s: i for i, s in enumerate(SECTIONS)}
    records = [{"section": s, "name": n, **{c: v.get(c, math.nan) for c in COLUMNS[2:]}}
               for (s, n), v in sorted(rows.items(), key=lambda kv: (order[kv[0][0]], kv[0][1] != "all", kv[0][1]))]
    out = pd.DataFrame.from_records(records, columns=COLUMNS)
    out["n"] = out["n"].astype("float64")
    return out


def _version(client: MlflowClient, name: str, alias: str) -> ModelVersion:
    mv = tracking.version_by_alias(client, name, alias)
    if mv is None:
        raise NoChampionError(f"no {name}@{alias} in the MLflow registry: run `genuine train` first")
    return mv


def champion_summary(client: MlflowClient, name: str, alias: str = "champion") -> pd.DataFrame:
    """The champion's figures per held-out strategy, per strategy, overall and per protected population
    (see SECTIONS), from the MLflow run that trained the version behind `alias`. `attrs` carry the model
    name, version, run id and its thresholds."""
    mv = _version(client, name, alias)
    run = client.get_run(mv.run_id)
    out = summary_from_metrics(run.data.metrics)
    out.attrs.update({"model_name": name, "model_version": str(mv.version), "run_id": mv.run_id,
                      "thresholds": Thresholds.from_tags(mv.tags).as_dict()})
    return out


def champion_plots(client: MlflowClient, name: str, dst: str | Path, alias: str = "champion") -> dict[str, Path]:
    """Download the plots the champion's training run logged (PR curve, calibration, score distribution,
    feature importance) into `dst`; name -> local PNG path."""
    mv = _version(client, name, alias)
    local = Path(client.download_artifacts(mv.run_id, "plots", str(dst)))
    return {p.stem: p for p in sorted(local.glob("*.png"))}


def scores_overview(scores_uri: str) -> pd.DataFrame:
    """Accounts per band for every scoring run in the scores table, read with delta-rs (no Spark, no
    JVM: cheap enough for a notebook). Empty when the table does not exist yet."""
    cols = ["snapshot_date", "model_name", "model_version", "feature_table_version", "scoring_run_id", "band",
            "accounts"]
    if not DeltaTable.is_deltatable(scores_uri):
        return pd.DataFrame(columns=cols)
    sql = ("select snapshot_date, model_name, model_version, feature_table_version, scoring_run_id, band, "
           "count(*) as accounts from s group by 1, 2, 3, 4, 5, 6 order by 1, 5, 6")
    return query(scores_uri, sql, name="s").to_pandas()[cols]


__all__ = ["COLUMNS", "SECTIONS", "champion_plots", "champion_summary", "scores_overview", "summary_from_metrics"]
