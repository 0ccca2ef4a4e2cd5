"""Retrain the account model on every label so far and let the promotion gates decide.

spark-submit jobs/retrain.py [--truth DIR/_truth/accounts.parquet] [--if-drift]

Labels: imported raw_labels, moderator decisions and appeal outcomes (the decisions table), each at its
decision time, the latest per account (an appeal overturns the decision it judged), joined point in
time to the snapshots (jobs/train.py `training_data`). The challenger is trained with the recipe of
`genuine train` on every account but the shared recent holdout (models/retraining.py), then compared
with the champion on that holdout by the gates of models/promotion.py. Nothing else moves the champion
(`genuine promote VERSION --force` is the logged override).

With `--if-drift` (the daily graph's task after `monitor`) it retrains only when the champion's latest
monitoring run reported drift, and otherwise ends at once with status 0: retraining runs on the weekly
schedule and whenever `monitor` reports drift, and the gates decide either way.

Exit status: 0 promoted (or, with --if-drift, no drift reported), EXIT_NOT_PROMOTED (5, genuine.core.errors)
not promoted (gates refused, or too few labels in the holdout to train and compare a challenger), 1 a
missing input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.errors import EXIT_NOT_PROMOTED
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.train import TrainRun, train_and_promote, training_data
from genuine.models.config import ModelConfig
from genuine.models.labels import read_truth
from genuine.models.monitoring import drift_reported
from genuine.models.promotion import CHAMPION, alias_version
from genuine.models.retraining import RecentHoldout, recent_holdout, version_cutoff

log = logging.getLogger(__name__)


@dataclass
class RetrainRun:
    run_id: str
    holdout: RecentHoldout | None       # None: skipped (--if-drift, no drift)
    trained: TrainRun | None            # None: too few labels in the holdout, no challenger trained
    skipped: str | None = None          # --if-drift without drift: why nothing was trained

    @property
    def promoted(self) -> bool:
        return self.trained is not None and self.trained.decision.promoted

    @property
    def exit_status(self) -> int:
        """What the entrypoint exits with: 0 promoted or skipped (--if-drift, no drift), EXIT_NOT_PROMOTED otherwise."""
        return 0 if self.promoted or self.skipped else EXIT_NOT_PROMOTED


def run(cfg: Config, truth: Path | None = None, run_id: str | None = None,
        spark: SparkSession | None = None, if_drift: bool = False) -> RetrainRun:
    mcfg = cfg.section("model", ModelConfig)
    truth_pdf = read_truth(truth, mcfg.protected_strategies) if truth else None
    name = cfg.mlflow.account_model
    params = {"truth": str(truth) if truth else None, "if_drift": if_drift}
    with job("retrain", cfg, params, run_id, spark) as ctx:
        client = tracking.configure(cfg.mlflow)
        champion = alias_version(client, name, CHAMPION)
        if if_drift:
            monitor_run = (drift_reported(ctx.lake.read("monitoring"), champion)
                           if champion is not None and ctx.lake.exists("monitoring") else None)
            if monitor_run is None:
                why = f"no drift reported by the latest monitoring run of {name} v{champion}: nothing to retrain"
                log.info("%s", why)
                return RetrainRun(ctx.run_id, None, None, why)
            log.info("monitor run %s reported drift against %s v%s: retraining", monitor_run, name, champion)
        data = training_data(ctx, mcfg)
        holdout = recent_holdout(data.frame, mcfg, champion, version_cutoff(client, name, champion))
        log.info("%s", holdout.describe())
        if not holdout.enough:
            log.warning("fewer than %d labels of each kind in the holdout: no challenger trained, champion %s stays",
                        mcfg.retrain.min_holdout_per_label, champion)
            return RetrainRun(ctx.run_id, holdout, None)
        trained = train_and_promote(ctx, mcfg, data, truth, truth_pdf, holdout_ids=holdout.account_ids)
        return RetrainRun(ctx.run_id, holdout, trained)


def parser() -> argparse.ArgumentParser:
    """The entrypoint's arguments (also what the schedules are checked against, tests/schedules)."""
    p = base_parser(__doc__ or "")
    p.add_argument("--truth", type=Path, default=None, help="simulator ground truth for per-strategy evaluation")
    p.add_argument("--if-drift", action="store_true",
                   help="retrain only if the champion's latest monitoring run reported drift (else exit 0)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run(config_from(args), args.truth, args.run_id, if_drift=args.if_drift).exit_status


if __name__ == "__main__":
    sys.exit(main())
