"""Scoring of the whole account base with the champion model, with reason codes, in Spark.

The model runs through `mlflow.pyfunc.spark_udf` (Arrow batches in Python workers, nothing collected),
the band is a built-in CASE over the thresholds stored with the model version, and reason codes are
computed per Arrow batch (`mapInArrow`) against the human reference grid that was stored with the same
version: vectorised numpy binary search, because a percentile lookup over a 1001-point grid has no
cheap built-in Spark equivalent.

Reason codes, per account: among features whose value lies in the bot direction (registry
`direction`), the share of human training accounts at least as extreme is read off the reference
grid ("tail"). Features with tail <= 1 - min_tail_percentile/100 are candidates; the top_k with the
smallest tail are kept, ties broken by permutation importance (then name). The human percentile of a
value is its mid-rank on the grid (0-100). `human_p999` is the human value at the 99.9% extreme in the
bot direction: the 99.9th percentile for "higher" features, the 0.1th for "lower" ones.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pyarrow as pa
from mlflow.tracking import MlflowClient
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructField, StructType

from genuine.core import tracking
from genuine.core.errors import MissingColumnsError, NoChampionError, SnapshotNotFound
from genuine.core.schemas import REASON, SCORES  # the scores table is declared with every table
from genuine.models.labels import require_columns
from genuine.models.pyfunc import DRIFT_REFERENCE_FILE, OUTPUT_NOVELTY, REFERENCE_FILE, ensure_loadable
from genuine.models.thresholds import Thresholds

log = logging.getLogger(__name__)

_TAIL_EPS = 1e-12


@dataclass(frozen=True)
class ChampionModel:
    name: str
    version: str
    run_id: str
    model_uri: str                      # models:/<name>/<version>: pinned, the alias may move meanwhile
    thresholds: Thresholds
    reference: dict[str, Any] = field(repr=False)
    drift_reference: dict[str, Any] | None = field(default=None, repr=False)   # None: registered before monitor


def load_champion(client: MlflowClient, name: str, alias: str = "champion") -> ChampionModel:
    """Resolve the alias once and pin the version, so a promotion during a scoring run cannot mix
    two models in one scores table."""
    mv = tracking.version_by_alias(client, name, alias)
    if mv is None:
        raise NoChampionError(f"no {name}@{alias} in the MLflow registry: run `genuine train` "
                              "(its version must pass the promotion gates) first")
    return load_model_version(client, name, str(mv.version))


def load_model_version(client: MlflowClient, name: str, version: str) -> ChampionModel:
    """Everything scoring needs from one registered version (also what an audit replay re-loads).
    Raises LegacyModelError when the executors could not unpickle it (registered by an older genuine)."""
    mv = client.get_model_version(name, version)
    uri = tracking.version_uri(name, mv.version)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        ensure_loadable(uri, local)
        ref_path = next(local.rglob(REFERENCE_FILE), None)
        if ref_path is None:
            raise FileNotFoundError(f"{uri} holds no {REFERENCE_FILE}: not an account model")
        reference = json.loads(ref_path.read_text())
        drift_path = next(local.rglob(DRIFT_REFERENCE_FILE), None)
        drift = json.loads(drift_path.read_text()) if drift_path is not None else None
    return ChampionModel(name=name, version=str(mv.version), run_id=str(mv.run_id), model_uri=uri,
                         thresholds=Thresholds.from_tags(mv.tags), reference=reference, drift_reference=drift)


def pick_snapshot(features: DataFrame, feature_version: int, snapshot: dt.date | None = None) -> dt.date:
    """`snapshot`, or the latest one the feature table version holds; SnapshotNotFound names the ones
    it does hold."""
    snapshots = sorted(r[0] for r in features.select("snapshot_date").distinct().collect() if r[0] is not None)
    if not snapshots:
        raise SnapshotNotFound(f"feature table version {feature_version} holds no snapshot: run `genuine features` first")
    snap = snapshot or snapshots[-1]
    if snap not in snapshots:
        raise SnapshotNotFound(f"no snapshot {snap} in feature table version {feature_version}; it holds "
                               f"{', '.join(map(str, snapshots[-5:]))}{' ...' if len(snapshots) > 5 else ''}")
    return snap


def scoring_key(snapshot: dt.date, feature_version: int, model_name: str, model_version: str) -> str:
    """What identifies a scoring run: the same snapshot, feature table version and model version score
    the same rows, so a run with a committed key writes nothing."""
    return f"{snapshot}:features@{feature_version}:{model_name}@{model_version}"


# --- bands ----------------------------------------------------------------------------------------
def with_band(df: DataFrame, thresholds: Thresholds, score_col: str = "score") -> DataFrame:
    """none / review / auto from the thresholds stored with the model version (inf: band disabled)."""
    s = F.col(score_col)
    return df.withColumn("band", F.when(s >= F.lit(thresholds.auto), "auto")
                         .when(s >= F.lit(thresholds.review), "review")
                         .when(s.isNotNull(), "none"))


# --- reason codes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ReasonSpec:
    """The reference, reduced to arrays, in tie-break order: shipped to workers with the closure."""

    names: list[str]
    families: list[str]
    units: list[str]
    higher: np.ndarray            # bool per feature: bot direction is "higher"
    grids: list[np.ndarray | None]
    extremes: np.ndarray          # human value at the 99.9% extreme in the bot direction
    top_k: int
    max_tail: float


def _spec(reference: Mapping[str, Any], top_k: int | None, min_tail_percentile: float | None) -> _ReasonSpec:
    feats = reference["features"]
    usable = [n for n in reference["feature_order"]
              if feats[n]["direction"] in ("higher", "lower") and feats[n]["grid"]]
    usable.sort(key=lambda n: (-float(feats[n].get("importance") or 0.0), n))
    higher = np.array([feats[n]["direction"] == "higher" for n in usable], dtype=bool)
    pct = float(min_tail_percentile if min_tail_percentile is not None else reference["min_tail_percentile"])
    return _ReasonSpec(
        names=usable, families=[feats[n]["family"] for n in usable], units=[feats[n].get("unit", "") for n in usable],
        higher=higher, grids=[np.asarray(feats[n]["grid"], dtype="float64") for n in usable],
        extremes=np.array([feats[n]["p999"] if h else feats[n]["p001"] for n, h in zip(usable, higher, strict=True)],
                          dtype="float64"),
        top_k=int(top_k if top_k is not None else reference["top_k"]), max_tail=1.0 - pct / 100.0)


def reason_text(feature: str, value: float, unit: str, higher: bool, tail: float, extreme: float) -> str:
    """Readable evidence, e.g. "share_second_zero = 0.98 (share 0-1): higher than 99.9% of humans;
    human 99.9th percentile is 0.12"."""
    word, pct = ("higher", "99.9th") if higher else ("lower", "0.1th")
    unit_part = f" ({unit})" if unit else ""
    return (f"{feature} = {value:.4g}{unit_part}: {word} than {100.0 * (1.0 - tail):.1f}% of humans; "
            f"human {pct} percentile is {extreme:.4g}")


def _reasons_array(values: np.ndarray, spec: _ReasonSpec) -> pa.Array:
    """values: n x F (spec order, NaN = missing) -> list<struct> Arrow array of the top reasons."""
    n, nf = values.shape
    tail = np.full((n, nf), np.inf)
    pctl = np.full((n, nf), np.nan)
    for j, grid in enumerate(spec.grids):
        if grid is None or nf == 0:
            continue
        v = values[:, j]
        below = np.searchsorted(grid, v, side="left") / len(grid)
        atmost = np.searchsorted(grid, v, side="right") / len(grid)
        pctl[:, j] = 50.0 * (below + atmost)
        t = 1.0 - below if spec.higher[j] else atmost
        tail[:, j] = np.where(~np.isnan(v) & (t <= spec.max_tail + _TAIL_EPS), t, np.inf)
    k = min(spec.top_k, nf)
    order = np.argsort(tail, axis=1, kind="stable")[:, :k]
    top_tail = np.take_along_axis(tail, order, axis=1)
    valid = np.isfinite(top_tail)
    rows, pos = np.nonzero(valid)                 # row-major: each row's reasons in rank order
    feat = order[rows, pos]
    t_sel = top_tail[rows, pos]
    v_sel = values[rows, feat]
    offsets = np.r_[0, np.cumsum(valid.sum(axis=1))].astype("int32")
    texts = [reason_text(spec.names[f], float(v), spec.units[f], bool(spec.higher[f]), float(t),
                         float(spec.extremes[f])) for f, v, t in zip(feat, v_sel, t_sel, strict=True)]
    names = np.asarray(spec.names, dtype=object)
    fams = np.asarray(spec.families, dtype=object)
    struct = pa.StructArray.from_arrays(
        [pa.array(fams[feat] if len(feat) else [], pa.string()),
         pa.array(names[feat] if len(feat) else [], pa.string()),
         pa.array(v_sel, pa.float64()),
         pa.array(pctl[rows, feat], pa.float64()),
         pa.array(spec.extremes[feat], pa.float64()),
         pa.array(texts, pa.string())],
        names=[f.name for f in REASON.fields])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct)


def with_reasons(df: DataFrame, reference: Mapping[str, Any], top_k: int | None = None,
                 min_tail_percentile: float | None = None, keep: Sequence[str] | None = None) -> DataFrame:
    """Append `reasons` (array of REASON, empty when nothing is unusual) to every row; the feature
    columns of the reference must be present. Runs per Arrow batch on the executors. `keep`: the input
    columns to return (default all); scoring keeps only its keys, so the feature values are not
    shipped back from Python."""
    spec = _spec(reference, top_k, min_tail_percentile)
    require_columns(df.columns, spec.names, "frame to explain")
    kept = list(df.columns) if keep is None else list(keep)
    require_columns(df.columns, kept, "frame to explain")
    out_schema = StructType([*[df.schema[c] for c in kept], StructField("reasons", ArrayType(REASON, True), True)])
    names = spec.names

    def explain(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            vals = np.column_stack(
                [batch.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False) for c in names]
            ) if names else np.empty((batch.num_rows, 0))
            reasons = _reasons_array(np.asarray(vals, dtype="float64").reshape(batch.num_rows, len(names)), spec)
            yield pa.RecordBatch.from_arrays([*[batch.column(c) for c in kept], reasons], names=[*kept, "reasons"])

    return df.mapInArrow(explain, out_schema)


# --- scoring --------------------------------------------------------------------------------------
def score_accounts(features_sdf: DataFrame, model_uri: str, thresholds: Thresholds, reference: Mapping[str, Any],
                   *, model_name: str, model_version: str, model_run_id: str, feature_table_version: int | None,
                   scoring_run_id: str, scored_at: dt.datetime, top_k: int | None = None,
                   min_tail_percentile: float | None = None) -> DataFrame:
    """One SCORES row per input row (account x snapshot): calibrated P(ai), band, top reasons and
    the lineage every enforcement decision must carry. `scored_at` is passed in (the job's clock,
    timezone-aware UTC) so that a re-run or an audit replay produces identical rows."""
    names = list(reference["feature_order"])
    require_columns(features_sdf.columns, ["account_id", "snapshot_date", *names], "feature snapshot")
    spark = features_sdf.sparkSession
    predict = mlflow.pyfunc.spark_udf(spark, model_uri, result_type="double", env_manager="local")
    novelty = mlflow.pyfunc.spark_udf(spark, model_uri, result_type="double", env_manager="local",
                                      params={"output": OUTPUT_NOVELTY})
    # Long counts become double: the model's signature is all-double and NaN marks missing values.
    base = features_sdf.select("account_id", "snapshot_date", *[F.col(c).cast("double").alias(c) for c in names])
    nov = novelty(F.struct(*names))
    scored = with_band(base.withColumn("score", predict(F.struct(*names)))
                       .withColumn("novelty", F.when(~F.isnan(nov), nov)), thresholds)
    explained = with_reasons(scored, reference, top_k, min_tail_percentile,
                             keep=["account_id", "snapshot_date", "score", "novelty", "band"])
    if scored_at.tzinfo is None:
        raise ValueError("scored_at must be timezone-aware (UTC)")
    return explained.select(
        F.col("account_id").cast("string"), F.col("snapshot_date").cast("date"), F.col("score"), F.col("novelty"),
        F.col("band"),
        F.lit(model_name).cast("string").alias("model_name"),
        F.lit(str(model_version)).cast("string").alias("model_version"),
        F.lit(model_run_id).cast("string").alias("model_run_id"),
        F.lit(feature_table_version).cast("long").alias("feature_table_version"),
        F.lit(scoring_run_id).cast("string").alias("scoring_run_id"),
        F.col("reasons"),
        F.lit(scored_at.astimezone(dt.UTC)).cast("timestamp").alias("scored_at"),
    )


def score_with_champion(features_sdf: DataFrame, champion: ChampionModel, *, feature_table_version: int | None,
                        scoring_run_id: str, scored_at: dt.datetime, top_k: int | None = None,
                        min_tail_percentile: float | None = None) -> DataFrame:
    """`score_accounts` with everything taken from a loaded champion."""
    return score_accounts(features_sdf, champion.model_uri, champion.thresholds, champion.reference,
                          model_name=champion.name, model_version=champion.version, model_run_id=champion.run_id,
                          feature_table_version=feature_table_version, scoring_run_id=scoring_run_id,
                          scored_at=scored_at, top_k=top_k, min_tail_percentile=min_tail_percentile)


__all__ = ["REASON", "SCORES", "ChampionModel", "MissingColumnsError", "NoChampionError", "load_champion",
           "load_model_version", "pick_snapshot", "reason_text", "scoring_key",
           "score_accounts", "score_with_champion", "with_band", "with_reasons"]
