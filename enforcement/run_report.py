"""The run report: what one scoring + enforcement run did and, on simulated data, how right it was.

Counts are aggregated in Spark (population x strategy x band x outcome: a few dozen rows) and only those
come to the driver, so the report costs the same for a thousand accounts or a hundred million. Ground truth
exists only for simulated platforms; without it the report still gives the volumes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.enforcement.schemas import OUTCOME_AUTO, OUTCOME_REVIEW, SOURCE_POLICY

log = logging.getLogger(__name__)

AI_POPULATION = "ai"
# Final outcome of an account in this run: what a moderator or the account would see.
ACTIONED, HELD, QUEUED, UNTOUCHED = "actioned", "held_by_breaker", "queued", "none"
OUTCOMES = (ACTIONED, HELD, QUEUED, UNTOUCHED)
# Selections whose precision and recall the report gives: which accounts each one flags.
SELECTIONS: dict[str, tuple[str, str]] = {
    "band review or auto": ("band", "review|auto"),
    "band auto": ("band", "auto"),
    "queued for review": ("outcome", f"{QUEUED}|{HELD}"),
    "actioned automatically": ("outcome", ACTIONED),
}


@dataclass
class RunReport:
    summary: dict[str, Any]
    selections: pd.DataFrame      # selection, flagged, true_ai, precision, recall (None without truth)
    groups: pd.DataFrame          # population, strategy, accounts, share per band / outcome
    markdown: Path | None = None
    plot: Path | None = None


def recorded_decisions(review_queue: DataFrame, action_log: DataFrame, scoring_run_id: str) -> DataFrame:
    """What enforcement did with one scoring run, read back from its tables (account_id, outcome,
    held_by_breaker): the report describes what was written, not what a job meant to write."""
    queued = (review_queue.where(F.col("scoring_run_id") == scoring_run_id)
              .select("account_id", F.lit(OUTCOME_REVIEW).alias("outcome"),
                      F.coalesce("held_by_breaker", F.lit(False)).alias("held_by_breaker")))
    acted = (action_log.where((F.col("scoring_run_id") == scoring_run_id) & (F.col("decision_source") == SOURCE_POLICY))
             .select("account_id", F.lit(OUTCOME_AUTO).alias("outcome"), F.lit(False).alias("held_by_breaker")))
    # An account is either queued or acted on in one run; should both appear, the action is what counts.
    return (acted.unionByName(queued).groupBy("account_id")
            .agg(F.min("outcome").alias("outcome"), F.max("held_by_breaker").alias("held_by_breaker")))


def outcome_counts(scores: DataFrame, decisions: DataFrame, truth: DataFrame | None) -> pd.DataFrame:
    """Accounts per (population, strategy, band, outcome); population/strategy are null without truth.

    `scores`: one scoring run (account_id, band). `decisions`: the enforcement run's policy decisions
    (account_id, outcome, held_by_breaker), one row per account in the review or auto band.
    """
    dec = decisions.select("account_id", "outcome", F.coalesce("held_by_breaker", F.lit(False)).alias("held"))
    outcome = (F.when(F.col("held"), F.lit(HELD))
               .when(F.col("outcome") == OUTCOME_AUTO, F.lit(ACTIONED))
               .when(F.col("outcome") == OUTCOME_REVIEW, F.lit(QUEUED))
               .otherwise(F.lit(UNTOUCHED)))
    df = scores.select("account_id", "band").join(dec, "account_id", "left").withColumn("outcome", outcome)
    if truth is not None:
        df = df.join(truth.select("account_id", "population", "strategy"), "account_id", "left")
    else:
        df = df.withColumn("population", F.lit(None).cast("string")).withColumn("strategy", F.lit(None).cast("string"))
    rows = (df.groupBy("population", "strategy", "band", "outcome").agg(F.count(F.lit(1)).alias("accounts"))
            .toPandas())
    return rows.sort_values(["population", "strategy", "band", "outcome"], na_position="last").reset_index(drop=True)


def _flags(counts: pd.DataFrame, selection: str) -> pd.Series:
    column, values = SELECTIONS[selection]
    return counts[column].isin(values.split("|"))


def summarize(counts: pd.DataFrame, breaker_reason: str | None = None) -> RunReport:
    """Volumes, precision/recall per selection against truth, and per-group shares, from `outcome_counts`."""
    n = counts["accounts"]
    has_truth = counts["population"].notna().any()
    is_ai = counts["population"].eq(AI_POPULATION)
    summary: dict[str, Any] = {
        "accounts_scored": int(n.sum()),
        **{f"band_{b}": int(n[counts["band"].eq(b)].sum()) for b in ("none", "review", "auto")},
        **{o: int(n[counts["outcome"].eq(o)].sum()) for o in OUTCOMES if o != UNTOUCHED},
        "breaker": breaker_reason,
        "ground_truth": bool(has_truth),
    }
    sel_rows = []
    for name in SELECTIONS:
        flagged = _flags(counts, name)
        row: dict[str, Any] = {"selection": name, "flagged": int(n[flagged].sum())}
        if has_truth:
            tp, ai_total = int(n[flagged & is_ai].sum()), int(n[is_ai].sum())
            row.update(true_ai=tp, precision=tp / row["flagged"] if row["flagged"] else None,
                       recall=tp / ai_total if ai_total else None)
        sel_rows.append(row)
    selections = pd.DataFrame(sel_rows)

    groups = pd.DataFrame()
    if has_truth:
        keyed = counts.fillna({"population": "(unknown)", "strategy": "(unknown)"})
        total = keyed.groupby(["population", "strategy"])["accounts"].sum().rename("accounts")
        parts = [total]
        for name in SELECTIONS:
            part = keyed[_flags(keyed, name)].groupby(["population", "strategy"])["accounts"].sum()
            parts.append((part.reindex(total.index, fill_value=0) / total).rename(name))
        groups = pd.concat(parts, axis=1).reset_index()
        # For AI strategies a share is recall; for human ones it is a false-positive rate.
        groups.insert(2, "reads_as", groups["population"].map(
            lambda p: "recall" if p == AI_POPULATION else "false-positive rate"))
    return RunReport(summary, selections, groups)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    return head + "".join("| " + " | ".join(_fmt(v) for v in row) + " |\n" for row in df.itertuples(index=False))


def write_report(report: RunReport, out_dir: Path, title: str, context: dict[str, Any]) -> RunReport:
    """Markdown + one PNG (flagged share per strategy and selection) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "run-report.md"
    lines = [f"# {title}", "", *(f"- {k}: {v}" for k, v in context.items()), "", "## Volumes", "",
             _table(pd.DataFrame([report.summary]).T.reset_index().set_axis(["figure", "value"], axis=1)),
             "## Precision and recall against ground truth" if report.summary["ground_truth"] else
             "## Selections (no ground truth: simulated platforms only)", "", _table(report.selections)]
    if not report.groups.empty:
        png = out_dir / "run-report-groups.png"
        _plot(report.groups, png)
        report.plot = png
        lines += ["## Per population and strategy", "",
                  "Share of each group's accounts in each selection: recall for AI strategies, false-positive "
                  "rate for humans (the unusual-human strategies are the protected populations).", "",
                  _table(report.groups), f"![flagged share per strategy]({png.name})", ""]
    md.write_text("\n".join(lines), encoding="utf-8")
    report.markdown = md
    log.info("run report written to %s", md)
    return report


def _plot(groups: pd.DataFrame, path: Path) -> None:
    # pandas draws through pyplot: the headless Agg backend must be chosen before pyplot is first imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = groups.set_index("strategy")[list(SELECTIONS)]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    data.plot.bar(ax=ax, width=0.8)
    ax.set_ylabel("share of the strategy's accounts")
    ax.set_ylim(0, 1)
    ax.set_title("Flagged share per strategy (AI: recall; humans: false-positive rate)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
