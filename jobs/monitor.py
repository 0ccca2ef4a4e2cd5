"""Drift monitoring after each scoring run (spark-submit jobs/monitor.py [--scoring-run ID]).

Compares the scored snapshot with the champion's training reference (PSI, KS, null share per feature),
the scoring run's score distribution and band volumes with the runs before it, and reports label-based
precision per band from moderator decisions. Writes the `monitoring` table (merged on scoring run, model
version and figure: a re-run updates, never duplicates), MLflow metrics and two figures (MLflow and
reports/monitor/<scoring run>/). Exit status EXIT_DRIFT (genuine.core.errors) when a figure is past its
threshold, after one log line naming the features that moved.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.errors import EXIT_DRIFT, NoDriftReference, NoScoringRun
from genuine.enforcement.config import enforcement_config
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.io import ensure_tables, read_pinned, write
from genuine.models.config import ModelConfig
from genuine.models.monitoring import (
    RunKey,
    band_precision,
    drift_heatmap,
    feature_drift,
    monitoring_rows,
    recent_runs,
    score_distribution_over_time,
    score_drift,
    score_histograms,
    summary_line,
    to_spark,
)
from genuine.models.scoring import load_champion

log = logging.getLogger(__name__)


@dataclass
class MonitorRun:
    run_id: str
    key: RunKey
    features: pd.DataFrame          # one row per feature: psi, ks, null shares, moved
    scores: pd.DataFrame            # score PSI and band volumes of the run
    precision: pd.DataFrame         # per (scoring run, band)
    alert: str | None               # the one line naming what moved; None: nothing did
    rows: int                       # monitoring rows written (merged)
    table: str
    plots: list[Path]

    @property
    def drifted(self) -> bool:
        return self.alert is not None

    @property
    def exit_status(self) -> int:
        """What the entrypoint exits with: EXIT_DRIFT when something moved, else 0."""
        return EXIT_DRIFT if self.drifted else 0


def run(cfg: Config, scoring_run_id: str | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> MonitorRun:
    mcfg = cfg.section("model", ModelConfig).monitoring
    ecfg = enforcement_config(cfg)
    with job("monitor", cfg, {"scoring_run_id": scoring_run_id}, run_id, spark) as ctx:
        lake, ledger = ctx.lake, ctx.ledger
        scores = read_pinned(lake, ledger, "scores")
        n_runs = max(mcfg.score_runs, mcfg.precision_runs) + 1
        scope = scores
        if scoring_run_id is not None:       # that run and the runs before it
            until = scores.where(F.col("scoring_run_id") == scoring_run_id).agg(F.max("scored_at")).first()
            scope = scores.where(F.col("scored_at") <= F.lit(until[0] if until else None))
        runs = recent_runs(scope, n_runs)
        if not runs or (scoring_run_id is not None and runs[0][0] != scoring_run_id):
            raise NoScoringRun(f"no scoring run {scoring_run_id or ''} in the scores table: run `genuine score` first")
        latest = runs[0][0]
        info = scores.where(F.col("scoring_run_id") == latest).select(
            "snapshot_date", "feature_table_version", "model_version").first()
        assert info is not None         # the run has rows: recent_runs found it
        snap, fv = info["snapshot_date"], info["feature_table_version"]

        champ = load_champion(tracking.configure(cfg.mlflow), cfg.mlflow.account_model)
        if champ.drift_reference is None:
            raise NoDriftReference(f"{champ.name} v{champ.version} (champion) holds no drift reference: it was "
                                   "registered before `genuine monitor` existed; run `genuine train`")
        if str(info["model_version"]) != champ.version:
            log.warning("scoring run %s was scored by v%s, the champion is now v%s: comparing with the champion's "
                        "reference", latest, info["model_version"], champ.version)
        key = RunKey(latest, snap, champ.name, champ.version)

        feats = read_pinned(lake, ledger, "features", fv).where(F.col("snapshot_date") == F.lit(snap))
        fdrift = feature_drift(feats, champ.drift_reference, mcfg)
        earlier = [r for r, _ in runs[1:mcfg.score_runs + 1]]
        hist = score_histograms(scores, [latest, *earlier], mcfg.score_bins)
        sdrift = score_drift(hist, latest, earlier, mcfg)
        imp = ecfg.imports
        confirm = next(k for k, v in imp.labels.items() if k in imp.review_decisions and v == cfg.section(
            "model", ModelConfig).positive_label)
        clear = next(k for k in imp.review_decisions if k != confirm)
        prec = band_precision(scores, read_pinned(lake, ledger, "decisions"),
                              [r for r, _ in runs[:mcfg.precision_runs]], confirm, clear)

        now = datetime.now(UTC)
        rows = monitoring_rows(key, fdrift, sdrift, prec, mcfg, ctx.run_id, now)
        ensure_tables(lake, ["monitoring"])
        result = write(lake, ledger, "monitoring", to_spark(ctx.spark, rows), ("monitor", ctx.run_id))
        ledger.count("monitoring_rows", len(rows))

        alert = summary_line(fdrift, sdrift)
        out_dir = cfg.reports.path("monitor", re.sub(r"[^A-Za-z0-9_.-]", "_", latest))
        out_dir.mkdir(parents=True, exist_ok=True)
        figures = {"feature_drift.png": drift_heatmap(fdrift, mcfg),
                   "score_distribution.png": score_distribution_over_time(hist, runs[:mcfg.score_runs + 1],
                                                                          mcfg.score_bins)}
        with mlflow.start_run(run_name="monitor"):
            mlflow.set_tags({"genuine.kind": "monitor", "scoring_run_id": latest, "snapshot_date": str(snap),
                             "model_version": champ.version, "job_run_id": ctx.run_id, "drifted": str(alert is not None)})
            metrics = {f"{r.kind}.{r.subject}.{r.metric}": r.value for r in rows.itertuples()
                       if r.scoring_run_id == latest and pd.notna(r.value)}
            mlflow.log_metrics({re.sub(r"[^A-Za-z0-9_./ -]", "_", k): float(v) for k, v in metrics.items()})
            for name, fig in figures.items():
                fig.savefig(out_dir / name, dpi=110)
                mlflow.log_figure(fig, f"monitor/{name}")
        if alert:
            log.warning("%s", alert)
        else:
            log.info("monitor %s: no feature or score figure past its threshold (%d monitoring rows)", latest, len(rows))
        return MonitorRun(ctx.run_id, key, fdrift, sdrift, prec, alert, result.rows, lake.uri("monitoring"),
                          [out_dir / n for n in figures])


def parser() -> argparse.ArgumentParser:
    """The entrypoint's arguments (also what the schedules are checked against, tests/schedules)."""
    p = base_parser(__doc__ or "")
    p.add_argument("--scoring-run", default=None, help="scoring run to monitor, default: the latest")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run(config_from(args), args.scoring_run, args.run_id).exit_status


if __name__ == "__main__":
    sys.exit(main())
