"""Drift monitoring of the account model: what `genuine monitor` computes after each scoring run.

Training stores a drift reference with every model version (`drift_reference`): per feature, a uniform
sample of the population the model was trained on (the latest training snapshot, every account, not only
the labelled ones: scoring sees every account), quantile bin edges and bin shares of that sample, and its
null share. The monitor compares the day's snapshot with it, per feature:

- PSI over the reference's bins: sum (cur - ref) * ln(cur / ref), shares floored at `psi_epsilon`;
- the two-sample Kolmogorov-Smirnov statistic (sup |F_cur - F_ref| of the empirical CDFs, ties counted as
  scipy.stats.ks_2samp counts them), computed exactly in Spark over the whole snapshot against the sample;
- the null share (null or NaN) against the reference's.

Then the scores: the latest scoring run's score distribution (PSI over equal-width bins) and band volumes
against the N runs before it, and label-based precision per band from moderator decisions (share
confirmed of the reviewed accounts, and the delay the decisions arrived with). Only small aggregates
(feature x bin, run x bin) reach the driver.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from genuine.core.schemas import MONITORING
from genuine.models.config import MonitoringConfig

log = logging.getLogger(__name__)

REFERENCE_VERSION = 1
BANDS = ("auto", "review", "none")


# --- the reference, at training time ---------------------------------------------------------------
def bin_edges(values: np.ndarray, bins: int) -> list[float]:
    """Interior edges of `bins` quantile bins (duplicates dropped: a feature with few distinct values
    gets fewer bins). A value v falls in bin searchsorted(edges, v, side="right")."""
    if len(values) == 0:
        return []
    q = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
    return q[1:-1].tolist()


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    if len(values) == 0:
        return [0.0] * (len(edges) + 1)
    counts = np.bincount(np.searchsorted(np.asarray(edges, dtype="float64"), values, side="right"),
                         minlength=len(edges) + 1)
    return (counts / len(values)).tolist()


def drift_reference(population: pd.DataFrame, names: Sequence[str], cfg: MonitoringConfig,
                    seed: int, source: str) -> dict[str, Any]:
    """The reference stored with a model version: per feature a sample of its non-null values, quantile
    bin edges and shares of that sample, and the null share. `population`: rows of the accounts the
    model was trained on (sampled here to `reference_sample` rows); `source` says what they are."""
    pop = population.sample(n=cfg.reference_sample, random_state=seed) if len(population) > cfg.reference_sample \
        else population
    feats: dict[str, Any] = {}
    for name in names:
        v = pd.to_numeric(pop[name], errors="coerce").to_numpy(dtype="float64")
        ok = v[~np.isnan(v)]
        edges = bin_edges(ok, cfg.reference_bins)
        feats[name] = {"n": int(len(v)), "null_share": float(1.0 - len(ok) / len(v)) if len(v) else math.nan,
                       "edges": edges, "shares": bin_shares(ok, edges), "sample": np.sort(ok).tolist()}
    return {"version": REFERENCE_VERSION, "source": source, "n_population": int(len(population)),
            "n_sample": int(len(pop)), "bins": cfg.reference_bins, "features": feats}


def sample_population(snapshot: DataFrame, names: Sequence[str], n: int, seed: int) -> pd.DataFrame:
    """A uniform sample of about `n` rows of a snapshot's feature columns, for `drift_reference`:
    Bernoulli sampling (no sort of the whole snapshot) with some slack, then cut to n."""
    total = snapshot.count()
    frac = min(1.0, 1.2 * n / total) if total else 1.0
    cols = [F.col(c).cast("double").alias(c) for c in names]
    rows = snapshot.select(*cols) if frac >= 1.0 else snapshot.sample(fraction=frac, seed=seed).select(*cols)
    return rows.limit(n).toPandas()


# --- features: PSI, KS, nulls of the day's snapshot ------------------------------------------------
def _long(snapshot: DataFrame, names: Sequence[str]) -> DataFrame:
    """(feature, value) rows, value null where the feature is null or NaN."""
    pairs = [F.struct(F.lit(n).alias("feature"), F.col(n).cast("double").alias("value")) for n in names]
    v = F.col("p.value")
    return (snapshot.select(F.explode(F.array(*pairs)).alias("p"))
            .select(F.col("p.feature").alias("feature"), F.when(~F.isnan(v), v).alias("value")))


def psi(cur: Sequence[float], ref: Sequence[float], eps: float) -> float:
    c = np.maximum(np.asarray(cur, dtype="float64"), eps)
    r = np.maximum(np.asarray(ref, dtype="float64"), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def feature_drift(snapshot: DataFrame, reference: Mapping[str, Any], cfg: MonitoringConfig) -> pd.DataFrame:
    """One row per reference feature: n, null_share, ref_null_share, psi, ks (NaN when either side has
    no non-null value), and `moved` (the metrics past their thresholds)."""
    spark: SparkSession = snapshot.sparkSession
    refs = reference["features"]
    names = [n for n in refs if n in snapshot.columns]
    missing = sorted(set(refs) - set(names))
    if missing:
        raise ValueError(f"the snapshot lacks features of the drift reference: {missing}")
    long = _long(snapshot, names).localCheckpoint(eager=True)

    nulls = {r["feature"]: (int(r["n"]), int(r["nulls"])) for r in long.groupBy("feature").agg(
        F.count("*").alias("n"), F.sum(F.col("value").isNull().cast("long")).alias("nulls")).collect()}

    # PSI: each value's bin is the number of the feature's interior edges at or below it
    edge_map = F.create_map(*[x for n in names for x in (F.lit(n), F.array(*[F.lit(float(e)) for e in
                                                                             refs[n]["edges"]]).cast("array<double>"))])
    vals = long.where(F.col("value").isNotNull())
    binned = (vals.withColumn("bin", F.size(F.filter(F.element_at(edge_map, F.col("feature")),
                                                     lambda e: e <= F.col("value"))))
              .groupBy("feature", "bin").count().collect())
    counts: dict[str, np.ndarray] = {n: np.zeros(len(refs[n]["edges"]) + 1) for n in names}
    for r in binned:
        counts[r["feature"]][int(r["bin"])] = r["count"]

    # KS: both empirical CDFs at every distinct value of either sample (ties aggregated first)
    ref_rows = [(n, float(v), 1) for n in names for v in refs[n]["sample"]]
    ref_df = spark.createDataFrame(ref_rows, "feature string, value double, r long") if ref_rows else \
        spark.createDataFrame([], "feature string, value double, r long")
    both = (vals.select("feature", "value", F.lit(1).cast("long").alias("c"), F.lit(0).cast("long").alias("r"))
            .unionByName(ref_df.select("feature", "value", F.lit(0).cast("long").alias("c"), "r"))
            .groupBy("feature", "value").agg(F.sum("c").alias("c"), F.sum("r").alias("r")))
    upto = Window.partitionBy("feature").orderBy("value").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    whole = Window.partitionBy("feature")
    ks = {r["feature"]: (r["ks"], r["nc"], r["nr"]) for r in (
        both.withColumn("fc", F.try_divide(F.sum("c").over(upto), F.sum("c").over(whole)))
        .withColumn("fr", F.try_divide(F.sum("r").over(upto), F.sum("r").over(whole)))
        .groupBy("feature").agg(F.max(F.abs(F.col("fc") - F.col("fr"))).alias("ks"),
                                F.sum("c").alias("nc"), F.sum("r").alias("nr"))).collect()}

    rows = []
    for n in names:
        total, n_null = nulls.get(n, (0, 0))
        ref = refs[n]
        c = counts[n]
        k, nc, nr = ks.get(n, (None, 0, 0))
        rows.append({
            "feature": n, "n": total, "null_share": n_null / total if total else math.nan,
            "ref_null_share": float(ref["null_share"]),
            "psi": psi(c / c.sum(), ref["shares"], cfg.psi_epsilon) if c.sum() and ref["sample"] else math.nan,
            "ks": float(k) if k is not None and nc and nr else math.nan,
        })
    out = pd.DataFrame(rows, columns=["feature", "n", "null_share", "ref_null_share", "psi", "ks"])
    out["moved"] = [moved_metrics(r, cfg) for r in out.itertuples()]
    return out


def moved_metrics(r: Any, cfg: MonitoringConfig) -> list[str]:
    """The metrics of one feature row past their thresholds (NaN never is)."""
    out = []
    if r.psi > cfg.psi_threshold:
        out.append("psi")
    if r.ks > cfg.ks_threshold:
        out.append("ks")
    if abs(r.null_share - r.ref_null_share) > cfg.null_share_threshold:
        out.append("null_share")
    return out


# --- scores: distribution and band volumes against earlier runs -------------------------------------
def recent_runs(scores: DataFrame, n: int) -> list[tuple[str, dt.datetime]]:
    """The n newest scoring runs, newest first (ties: larger run id), with their scored_at."""
    rows = (scores.groupBy("scoring_run_id").agg(F.max("scored_at").alias("t"))
            .orderBy(F.col("t").desc_nulls_last(), F.col("scoring_run_id").desc()).limit(n).collect())
    return [(str(r["scoring_run_id"]), r["t"]) for r in rows]


def score_histograms(scores: DataFrame, run_ids: Sequence[str], bins: int) -> pd.DataFrame:
    """run x equal-width score bin counts, and run x band counts: (scoring_run_id, kind, key, count)."""
    s = scores.where(F.col("scoring_run_id").isin(list(run_ids)))
    b = F.least(F.floor(F.col("score") * bins), F.lit(bins - 1)).cast("int")
    hist = (s.where(F.col("score").isNotNull()).groupBy("scoring_run_id", b.alias("key")).count()
            .select("scoring_run_id", F.lit("bin").alias("kind"), F.col("key").cast("string"), "count"))
    bands = (s.groupBy("scoring_run_id", F.coalesce("band", F.lit("null")).alias("key")).count()
             .select("scoring_run_id", F.lit("band").alias("kind"), "key", "count"))
    return hist.unionByName(bands).toPandas()


def score_drift(hist: pd.DataFrame, latest: str, earlier: Sequence[str], cfg: MonitoringConfig) -> pd.DataFrame:
    """Rows (kind, subject, metric, value, reference, threshold, breached) for the latest run: score PSI
    against the pooled earlier runs, and each band's volume against their mean volume. Not judged
    (breached null) with fewer than `min_history_runs` earlier runs."""
    judged = len(earlier) >= cfg.min_history_runs
    bins = hist[hist.kind == "bin"].pivot_table(index="scoring_run_id", columns="key", values="count",
                                                aggfunc="sum", fill_value=0)
    bins = bins.reindex(columns=[str(i) for i in range(cfg.score_bins)], fill_value=0)
    rows = []

    def add(kind: str, subject: str, metric: str, value: float, reference: float, threshold: float,
            breached: bool | None) -> None:
        rows.append({"kind": kind, "subject": subject, "metric": metric, "value": value, "reference": reference,
                     "threshold": threshold, "breached": breached if judged else None})

    cur = bins.loc[latest].to_numpy(dtype="float64") if latest in bins.index else np.zeros(cfg.score_bins)
    prev = bins.reindex(list(earlier)).fillna(0).sum().to_numpy(dtype="float64") if len(earlier) else \
        np.zeros(cfg.score_bins)
    if cur.sum() and prev.sum():
        p = psi(cur / cur.sum(), prev / prev.sum(), cfg.psi_epsilon)
        add("score", "score", "psi", p, 0.0, cfg.score_psi_threshold, p > cfg.score_psi_threshold)
    bands = hist[hist.kind == "band"].pivot_table(index="scoring_run_id", columns="key", values="count",
                                                  aggfunc="sum", fill_value=0)
    for band in BANDS:
        col = bands[band] if band in bands.columns else pd.Series(dtype="float64")
        v = float(col.get(latest, 0))
        ref = float(col.reindex(list(earlier)).fillna(0).mean()) if len(earlier) else math.nan
        r = cfg.band_volume_ratio
        out = bool(ref > 0 and (v > r * ref or v < ref / r)) or bool(ref == 0 and v > 0 and band != "none")
        add("band", band, "volume", v, ref, r, out)
    return pd.DataFrame(rows, columns=["kind", "subject", "metric", "value", "reference", "threshold", "breached"])


# --- label-based precision per band ----------------------------------------------------------------
def band_precision(scores: DataFrame, decisions: DataFrame, run_ids: Sequence[str], confirm: str,
                   clear: str) -> pd.DataFrame:
    """Per (scoring run, band): accounts scored, those a moderator reviewed after the scoring (their first
    review decision after scored_at), the share confirmed of those, and the median delay in hours from
    scoring to decision. (scoring_run_id, band, scored, reviewed, confirmed, precision, delay_hours)."""
    s = scores.where(F.col("scoring_run_id").isin(list(run_ids))).select(
        "scoring_run_id", "account_id", "band", "scored_at")
    d = decisions.where((F.col("kind") == "review") & F.col("decision").isin(confirm, clear)).select(
        "account_id", "decision", "decided_at")
    first = Window.partitionBy("scoring_run_id", "account_id").orderBy("decided_at", "decision")
    reviewed = (s.join(d, "account_id").where(F.col("decided_at") >= F.col("scored_at"))
                .withColumn("k", F.row_number().over(first)).where(F.col("k") == 1)
                .select("scoring_run_id", "account_id", "decision",
                        ((F.col("decided_at").cast("double") - F.col("scored_at").cast("double")) / 3600.0)
                        .alias("delay_hours")))
    per: pd.DataFrame = (s.join(reviewed, ["scoring_run_id", "account_id"], "left")
           .groupBy("scoring_run_id", "band")
           .agg(F.count("*").alias("scored"), F.count("decision").alias("reviewed"),
                F.sum((F.col("decision") == confirm).cast("long")).alias("confirmed"),
                F.percentile_approx("delay_hours", 0.5, 10000).alias("delay_hours"))).toPandas()
    per["confirmed"] = per["confirmed"].fillna(0).astype("int64")
    per["precision"] = np.where(per["reviewed"] > 0, per["confirmed"] / per["reviewed"].where(per["reviewed"] > 0),
                                np.nan)
    return per[["scoring_run_id", "band", "scored", "reviewed", "confirmed", "precision", "delay_hours"]]


# --- the monitoring rows ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunKey:
    """The scoring run monitored, and the model whose reference it is compared with."""

    scoring_run_id: str
    snapshot_date: dt.date
    model_name: str
    model_version: str


def monitoring_rows(key: RunKey, features: pd.DataFrame, scores: pd.DataFrame, precision: pd.DataFrame,
                    cfg: MonitoringConfig, monitor_run_id: str, computed_at: dt.datetime) -> pd.DataFrame:
    """Everything one monitor run found, as MONITORING rows (precision rows carry their own run)."""
    rows: list[dict[str, Any]] = []
    for f in features.itertuples():
        moved = set(f.moved)
        for metric, value, ref, th in (("psi", f.psi, 0.0, cfg.psi_threshold), ("ks", f.ks, 0.0, cfg.ks_threshold),
                                       ("null_share", f.null_share, f.ref_null_share, cfg.null_share_threshold)):
            rows.append({"scoring_run_id": key.scoring_run_id, "kind": "feature", "subject": f.feature,
                         "metric": metric, "value": value, "reference": ref, "threshold": th,
                         "breached": None if (isinstance(value, float) and math.isnan(value)) else metric in moved})
    for r in scores.itertuples():
        rows.append({"scoring_run_id": key.scoring_run_id, "kind": r.kind, "subject": r.subject, "metric": r.metric,
                     "value": r.value, "reference": r.reference, "threshold": r.threshold,
                     "breached": None if r.breached is None or pd.isna(r.breached) else bool(r.breached)})
    for r in precision.itertuples():
        for metric in ("scored", "reviewed", "confirmed", "precision", "delay_hours"):
            rows.append({"scoring_run_id": r.scoring_run_id, "kind": "precision", "subject": r.band or "null",
                         "metric": metric, "value": getattr(r, metric), "reference": None, "threshold": None,
                         "breached": None})
    df = pd.DataFrame(rows, columns=["scoring_run_id", "kind", "subject", "metric", "value", "reference",
                                     "threshold", "breached"])
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype("float64")
    df["reference"] = pd.to_numeric(df["reference"], errors="coerce").astype("float64")
    df["threshold"] = pd.to_numeric(df["threshold"], errors="coerce").astype("float64")
    df["snapshot_date"] = key.snapshot_date
    df["model_name"], df["model_version"] = key.model_name, key.model_version
    df["monitor_run_id"], df["computed_at"] = monitor_run_id, computed_at
    return df[MONITORING.fieldNames()]


def to_spark(spark: SparkSession, rows: pd.DataFrame) -> DataFrame:
    """MONITORING rows as a Spark frame (NaN becomes null: 'not measured' is not a number)."""
    clean = rows.astype(object).where(rows.notna(), None)
    records = [{k: v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for k, v in r.items()}
               for r in clean.to_dict("records")]
    return spark.createDataFrame(records, MONITORING)


def summary_line(features: pd.DataFrame, scores: pd.DataFrame) -> str | None:
    """The one line a scheduler's alert shows: which features (and score figures) moved; None if none."""
    parts = []
    for f in features.itertuples():
        if f.moved:
            vals = {"psi": f.psi, "ks": f.ks, "null_share": f.null_share}
            parts.append(f"{f.feature} ({', '.join(f'{m} {vals[m]:.3f}' for m in f.moved)})")
    for r in scores.itertuples():
        if r.breached is not None and not pd.isna(r.breached) and bool(r.breached):
            parts.append(f"{r.kind}:{r.subject} ({r.metric} {r.value:.3f} vs {r.reference:.3f})")
    if not parts:
        return None
    n = int(sum(bool(m) for m in features["moved"]))
    return f"drift: {n} feature(s) moved past thresholds: " + "; ".join(parts)


# --- figures ----------------------------------------------------------------------------------------
def drift_reported(monitoring: DataFrame, model_version: str) -> str | None:
    """The monitor run id of `model_version`'s latest monitoring run when it reported drift (a row past its
    threshold, what makes `genuine monitor` exit EXIT_DRIFT); None when that run saw none, or there is none.
    `genuine retrain --if-drift` asks this after each daily monitor."""
    mine = monitoring.where(F.col("model_version") == F.lit(model_version))
    latest = mine.orderBy(F.col("computed_at").desc(), F.col("monitor_run_id").desc()).select("monitor_run_id").first()
    if latest is None:
        return None
    run_id = latest["monitor_run_id"]
    moved = mine.where((F.col("monitor_run_id") == F.lit(run_id)) & F.col("breached")).limit(1).count()
    return run_id if moved else None


def drift_heatmap(features: pd.DataFrame, cfg: MonitoringConfig) -> Figure:
    """Features x (PSI, KS, |null share change|), each divided by its threshold: above 1 moved."""
    f = features.sort_values("feature")
    m = np.column_stack([f["psi"] / cfg.psi_threshold, f["ks"] / cfg.ks_threshold,
                         (f["null_share"] - f["ref_null_share"]).abs() / cfg.null_share_threshold])
    fig = Figure(figsize=(5.5, max(2.5, 0.28 * len(f) + 1.2)))
    ax = fig.add_subplot()
    im = ax.imshow(np.nan_to_num(m, nan=0.0), aspect="auto", cmap="RdYlGn_r", vmin=0.0, vmax=2.0)
    ax.set_xticks(range(3), ["PSI", "KS", "null share"])
    ax.set_yticks(range(len(f)), list(f["feature"]), fontsize=7)
    for (i, j), v in np.ndenumerate(m):
        if not math.isnan(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label="value / threshold (> 1: moved)")
    ax.set_title("Feature drift against the champion's training reference", fontsize=9)
    fig.tight_layout()
    return fig


def score_distribution_over_time(hist: pd.DataFrame, runs: Sequence[tuple[str, dt.datetime]], bins: int) -> Figure:
    """Scoring runs (oldest left) x score bins: the share of accounts in each bin."""
    order = [r for r, _ in reversed(runs)]
    b = hist[hist.kind == "bin"].pivot_table(index="key", columns="scoring_run_id", values="count", aggfunc="sum",
                                             fill_value=0)
    b = b.reindex(index=[str(i) for i in range(bins)], columns=order, fill_value=0).to_numpy(dtype="float64")
    shares = b / np.where(b.sum(axis=0) > 0, b.sum(axis=0), 1.0)
    fig = Figure(figsize=(max(4.0, 0.6 * len(order) + 2), 3.5))
    ax = fig.add_subplot()
    im = ax.imshow(shares, aspect="auto", origin="lower", cmap="viridis", extent=(-0.5, len(order) - 0.5, 0.0, 1.0))
    ax.set_xticks(range(len(order)), [t.strftime("%m-%d %H:%M") if t else "?" for _, t in reversed(runs)],
                  rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("score")
    fig.colorbar(im, ax=ax, label="share of accounts")
    ax.set_title("Score distribution per scoring run", fontsize=9)
    fig.tight_layout()
    return fig
