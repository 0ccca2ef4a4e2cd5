"""Separation report: how well each feature tells ordinary people from each AI strategy and from each
genuine-but-unusual human population, measured against the simulator's ground truth.

The report answers two questions for a reader of `genuine features --truth PATH`: which family catches
which strategy, and which features would be held against the unusual humans (night-shift workers,
prolific creators, brands) if a model leaned on them.

AUC, exactly and without collecting accounts
--------------------------------------------
For a feature X, the baseline group B (ordinary people) and a group G, the AUC is the Mann-Whitney
statistic P(X_G > X_B) + 0.5 P(X_G = X_B): the area under the ROC curve that treats G as positive and X
as the score (sklearn's `roc_auc_score`, ties included). Above 0.5: G's values are higher; below 0.5:
lower; 0.5: no separation. It is computed in Spark from counts, never from account rows on the driver:

1. the snapshot is unpivoted to (feature, value, group) and counted per distinct value;
2. per feature, a running sum over the sorted distinct values gives, for each value v, the number of
   baseline accounts below v (`lt`) and at v (`eq`);
3. per (feature, group): numerator = sum over v of count_G(v) * (2 lt(v) + eq(v)), an exact integer;
   AUC = numerator / (2 n_G n_B), one floating division, so it is correctly rounded.

Only the aggregate (one row per feature and group) reaches the driver. The per-feature window in step 2
holds one row per distinct value of that feature (at most one per account): Spark sorts it and spills if
needed.

Nulls: an account whose feature is null (or NaN) is left out of that feature's AUC (null means "too
little activity to measure", not a value). The report shows coverage (share of the group's accounts with
a value) next to each AUC, and the AUC is null when either side has no value at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from genuine.core.config import Strict
from genuine.core.errors import TruthError
from genuine.features.catalog import ALL_FEATURES, FEATURE_NAMES
from genuine.features.registry import FAMILIES, Feature

log = logging.getLogger(__name__)

POOL_PREFIX = "all "
"""Group name prefix of a pooled population (e.g. `all ai`), next to the individual strategies."""


class SeparationConfig(Strict):
    """`features.separation` in conf/base.yml."""

    out_dir: str = "features"     # under reports.root (absolute: as is); one sub-folder per snapshot
    baseline: str = "ordinary"            # truth group every other group is compared with
    group_column: str = "strategy"        # truth column naming each account's group
    population_column: str = "population"  # truth column pooling groups (ai, unusual_human, human)
    strong_margin: float = 0.2            # |AUC - 0.5| at least this: "separates" (0.7 / 0.3)
    top_k: int = 3                        # strongest features listed per group


def _is_pool(group: str) -> bool:
    return group.startswith(POOL_PREFIX)


def separation_aucs(snapshot: DataFrame, truth: DataFrame, features: list[str], *, baseline: str,
                    group_column: str = "strategy", population_column: str | None = "population") -> DataFrame:
    """One row per (feature, group != baseline): AUC of the group vs the baseline, with coverage counts.

    `truth` holds account_id, `group_column` and optionally `population_column`; each non-baseline account
    counts in its group and, when `population_column` is given, also in the pooled group `all <population>`.
    Accounts missing from `truth` are ignored. Columns: feature, group, population, n_group, n_baseline
    (accounts in the snapshot and truth), m_group, m_baseline (those with a non-null value), auc.
    """
    missing = [c for c in ["account_id", *features] if c not in snapshot.columns]
    if missing:
        raise ValueError(f"snapshot lacks column(s) {missing}")
    if not features:
        raise ValueError("no features to measure")
    pop = F.col(population_column).cast("string") if population_column else F.lit(None).cast("string")
    t = truth.select(F.col("account_id").cast("string").alias("account_id"),
                     F.col(group_column).cast("string").alias("_g"), pop.alias("population"))
    t = t.where(F.col("_g").isNotNull())
    groups = F.when(F.col("_g") == F.lit(baseline), F.array(F.col("_g"))).otherwise(
        F.when(F.col("population").isNotNull(),
               F.array(F.col("_g"), F.concat(F.lit(POOL_PREFIX), F.col("population"))))
        .otherwise(F.array(F.col("_g"))))
    labelled = (snapshot.select("account_id", *features).join(t, "account_id")
                .withColumn("group", F.explode(groups)))
    long = labelled.select(
        "group", "population",
        F.explode(F.array(*[F.struct(F.lit(name).alias("feature"), F.col(name).cast("double").alias("value"))
                            for name in features])).alias("fv"))
    long = long.select("group", "population", F.col("fv.feature").alias("feature"), F.col("fv.value").alias("value"))
    known = F.col("value").isNotNull() & ~F.isnan("value")
    is_base = F.col("group") == F.lit(baseline)

    sizes = long.groupBy("feature", "group").agg(
        F.count(F.lit(1)).alias("n"), F.sum(known.cast("long")).alias("m"), F.first("population", True).alias("population"))
    counts = long.where(known).groupBy("feature", "value", "group").agg(F.count(F.lit(1)).alias("c"))
    base = counts.where(is_base).select("feature", "value", F.col("c").alias("eq"))
    values = counts.select("feature", "value").distinct().join(base, ["feature", "value"], "left") \
        .fillna(0, subset=["eq"])
    below = Window.partitionBy("feature").orderBy("value").rowsBetween(Window.unboundedPreceding, -1)
    values = values.withColumn("lt", F.coalesce(F.sum("eq").over(below), F.lit(0)))
    num = (counts.where(~is_base).join(values, ["feature", "value"])
           .groupBy("feature", "group").agg(F.sum(F.col("c") * (2 * F.col("lt") + F.col("eq"))).alias("num")))

    b = sizes.where(is_base).select("feature", F.col("n").alias("n_baseline"), F.col("m").alias("m_baseline"))
    g = sizes.where(~is_base).select("feature", "group", "population", F.col("n").alias("n_group"),
                                     F.col("m").alias("m_group"))
    out = g.join(b, "feature", "left").join(num, ["feature", "group"], "left").fillna(
        0, subset=["n_baseline", "m_baseline", "num"])
    den = 2.0 * F.col("m_group").cast("double") * F.col("m_baseline").cast("double")
    auc = F.when((F.col("m_group") > 0) & (F.col("m_baseline") > 0), F.col("num").cast("double") / den)
    return out.select("feature", "group", "population", "n_group", "n_baseline", "m_group", "m_baseline",
                      auc.alias("auc"))


@dataclass
class SeparationReport:
    markdown: Path
    heatmaps: list[Path]
    table: pd.DataFrame      # the aggregate: one row per feature and group


def write_report(aucs: pd.DataFrame, registry: list[Feature], out_dir: Path, cfg: SeparationConfig,
                 title: str) -> SeparationReport:
    """Markdown (tables + findings) and one heatmap PNG per population into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "separation.md"
    if aucs.empty:
        md.write_text(f"# Feature separation: {title}\n\nNo account of the snapshot has a ground-truth group "
                      f"other than the baseline `{cfg.baseline}`: nothing to compare.\n", encoding="utf-8")
        return SeparationReport(md, [], aucs)
    order = [f.name for fam in FAMILIES for f in registry if f.family == fam and f.name in set(aucs.feature)]
    family: dict[str, str] = {f.name: str(f.family) for f in registry}
    pops = _populations(aucs)
    heatmaps = [_heatmap(aucs, order, family, pop, groups, out_dir / f"separation_{pop}.png", title)
                for pop, groups in pops.items()]
    md.write_text(_markdown(aucs, order, family, pops, heatmaps, cfg, title), encoding="utf-8")
    log.info("separation report: %s (+ %d heatmaps)", md, len(heatmaps))
    return SeparationReport(md, heatmaps, aucs)


def read_truth(spark: SparkSession, truth: Path, scfg: SeparationConfig) -> DataFrame:
    """The ground-truth table (account_id + group columns), checked before any work is done on it."""
    df = spark.read.parquet(str(truth.resolve()))
    needed = ["account_id", scfg.group_column, scfg.population_column]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise TruthError(f"{truth} lacks column(s) {missing} (has {df.columns}); see features.separation in conf")
    return df.select(*needed)


def separation_report(snapshot: DataFrame, truth: DataFrame, snapshot_date: date, truth_path: Path,
                      reports_root: str | Path, scfg: SeparationConfig) -> SeparationReport:
    """Per-feature AUCs of one stored snapshot against the ground truth, as Markdown + heatmaps under
    <reports_root>/<out_dir>/<snapshot date> (an absolute out_dir wins)."""
    aucs = separation_aucs(snapshot, truth, FEATURE_NAMES, baseline=scfg.baseline,
                           group_column=scfg.group_column, population_column=scfg.population_column)
    table = pd.DataFrame(aucs.toPandas())   # one row per (feature, group): a few hundred rows
    if table.empty:
        log.warning("no account of snapshot %s is in %s or no group other than %r: empty separation report",
                    snapshot_date, truth_path, scfg.baseline)
    out_dir = Path(reports_root, scfg.out_dir, snapshot_date.isoformat())
    return write_report(table, ALL_FEATURES, out_dir, scfg, f"snapshot {snapshot_date}, truth {truth_path.name}")


def _populations(aucs: pd.DataFrame) -> dict[str, list[str]]:
    """population -> its groups (strategies first, then its pool), in a stable order."""
    out: dict[str, list[str]] = {}
    for pop, sub in aucs.groupby(aucs.population.fillna("other"), sort=True):
        groups = sorted(set(sub.group))
        out[str(pop)] = [g for g in groups if not _is_pool(g)] + [g for g in groups if _is_pool(g)]
    return out


def _pivot(aucs: pd.DataFrame, order: list[str], groups: list[str]) -> pd.DataFrame:
    return aucs.pivot(index="feature", columns="group", values="auc").reindex(index=order, columns=groups)


def _heatmap(aucs: pd.DataFrame, order: list[str], family: dict[str, str], pop: str, groups: list[str],
             path: Path, title: str) -> Path:
    grid = _pivot(aucs, order, groups)
    values = grid.to_numpy(dtype=float)
    fig = Figure(figsize=(1.2 * len(groups) + 4.5, 0.24 * len(order) + 2.0))
    ax = fig.subplots()
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#dddddd")   # grey: no AUC (one side has no value)
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(groups)), groups, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(order)), [f"{n}  ({family[n]})" for n in order], fontsize=7)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(j, i, "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if not np.isnan(v) and abs(v - 0.5) > 0.3 else "black")
    bounds = [k for k in range(1, len(order)) if family[order[k]] != family[order[k - 1]]]
    for k in bounds:
        ax.axhline(k - 0.5, color="black", linewidth=0.8)
    ax.set_title(f"{title}\nAUC vs ordinary people: {pop} (red: higher than ordinary, blue: lower)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="AUC")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _fmt(x: float | None) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:.2f}"


def _markdown(aucs: pd.DataFrame, order: list[str], family: dict[str, str], pops: dict[str, list[str]],
              heatmaps: list[Path], cfg: SeparationConfig, title: str) -> str:
    m = cfg.strong_margin
    sizes = aucs.groupby("group").agg(n=("n_group", "max"), pop=("population", "first"))
    n_base = int(aucs.n_baseline.max()) if len(aucs) else 0
    lines = [f"# Feature separation: {title}", "",
             f"AUC of each group against the baseline (`{cfg.baseline}`, {n_base} accounts), per feature: "
             "the probability that a random account of the group has a higher value than a random baseline "
             "account (ties count half). 0.5 = no separation; above 0.5 the group's values are higher, below "
             f"lower. |AUC - 0.5| >= {m} counts as strong. Accounts with a null value are left out of that "
             "feature's AUC; `cov` is the share of the group's accounts with a value. Computed in Spark from "
             "value counts (features/separation.py).", "",
             "| group | population | accounts |", "|---|---|---|"]
    lines += [f"| {g} | {r['pop']} | {int(r['n'])} |" for g, r in sizes.sort_values("pop").iterrows()]
    lines.append("")
    for p in heatmaps:
        lines += [f"![{p.stem}]({p.name})", ""]

    lines += ["## What catches what", ""]
    for pop, groups in pops.items():
        for g in groups:
            sub = aucs[(aucs.group == g) & aucs.auc.notna()].copy()
            sub["strength"] = (sub.auc - 0.5).abs()
            top = sub.sort_values(["strength", "feature"], ascending=[False, True]).head(cfg.top_k)
            fams = sorted({family[f] for f in sub[sub.strength >= m].feature})
            desc = ", ".join(f"`{r.feature}` {r.auc:.2f}" for r in top.itertuples())
            lines.append(f"- **{g}** ({pop}): strongest {desc}; families with a strong feature: "
                         f"{', '.join(fams) if fams else 'none'}")
    lines.append("")

    ai_pool = next((g for p, gs in pops.items() if p == "ai" for g in gs if _is_pool(g)), None)
    unusual = [g for p, gs in pops.items() if p not in ("ai", "human") for g in gs if not _is_pool(g)]
    if ai_pool and unusual:
        lines += ["## Features that would hurt the unusual humans", "",
                  f"A feature is listed for an unusual group when it separates the group from ordinary people "
                  f"(|AUC - 0.5| >= {m}) in the SAME direction as it separates AI accounts as a whole (`{ai_pool}`): "
                  "a model leaning on it alone would flag these people.", ""]
        ai = aucs[aucs.group == ai_pool].set_index("feature").auc
        for g in unusual:
            u = aucs[aucs.group == g].set_index("feature").auc
            both = [f for f in order if f in u.index and f in ai.index and pd.notna(u[f]) and pd.notna(ai[f])
                    and abs(u[f] - 0.5) >= m and abs(ai[f] - 0.5) >= m and (u[f] > 0.5) == (ai[f] > 0.5)]
            items = ", ".join(f"`{f}` ({_fmt(u[f])} vs AI {_fmt(ai[f])})" for f in both)
            lines.append(f"- **{g}**: {items if items else 'none'}")
        lines.append("")

    for pop, groups in pops.items():
        lines += [f"## AUC per feature: {pop}", "",
                  "| family | feature | " + " | ".join(f"{g} (cov)" for g in groups) + " | baseline cov |",
                  "|---|---|" + "---|" * (len(groups) + 1)]
        sub = aucs[aucs.group.isin(groups)]
        for f in order:
            rows = sub[sub.feature == f].set_index("group")
            if rows.empty:
                continue
            cells = []
            for g in groups:
                if g not in rows.index:
                    cells.append("–")
                    continue
                r = rows.loc[g]
                cov = r.m_group / r.n_group if r.n_group else float("nan")
                cells.append(f"{_fmt(r.auc)} ({_fmt(cov)})")
            first = rows.iloc[0]
            base_cov = first.m_baseline / first.n_baseline if first.n_baseline else float("nan")
            lines.append(f"| {family[f]} | `{f}` | " + " | ".join(cells) + f" | {_fmt(base_cov)} |")
        lines.append("")
    return "\n".join(lines)
