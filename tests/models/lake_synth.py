"""A real lake for the account-model job tests: a synthetic feature snapshot of every registered feature
(models/synthetic.py, generated in Spark), labels and accounts written through `Lake`, simulator-style
truth on disk, then `jobs.train.run` and `jobs.score.run` (twice) for real.

What went into the lake is read back with delta-rs (no Spark) so the tests compare against it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from deltalake import DeltaTable

from genuine.core.lake import Lake
from genuine.devtools.synthetic import TRAINING_SHARES, write_synthetic_lake
from genuine.jobs import score, train
from tests.oracles import read_delta_rs

SNAPSHOT = dt.date(2026, 10, 31)
N_ACCOUNTS = 3000
SEED = 11
LABEL_FRACTION = 0.6
SHARES = TRAINING_SHARES
AI_STRATEGIES = ["device_ring", "engagement_farm", "fixed_interval", "humanized", "jittered_scheduler"]
# Small, fast hyper-parameters; everything else from conf/base.yml.
JOB_FAST = ["model.hgb.max_iter=60", "model.permutation_repeats=2",
            # ~30 humans per protected group in the holdout: one account moves its FPR by 3.3 points,
            # and ~77 in all: one review-band hit moves theirs by 1.3 (the jobs are tested here, not the
            # model; the gates' own logic is tested in test_account_model.py)
            "model.gates.protected_fpr_limit.auto=0.04", "model.gates.protected_fpr_limit.review=0.2"]


@dataclass
class Pipeline:
    cfg: Any
    truth_path: Path
    features: pd.DataFrame          # the features table as written (delta-rs read)
    labels: pd.DataFrame            # raw_labels as written
    accounts: pd.DataFrame          # raw_accounts as written
    truth: pd.DataFrame
    feature_version: int
    train: Any                      # jobs.train.TrainRun
    score1: Any                     # jobs.score.ScoreRun: the first scoring run
    scores_after_first: pd.DataFrame
    version_after_first: int
    score2: Any                     # the same scoring run again
    version_after_second: int | None


def write_inputs(spark, cfg, truth_dir: Path, n: int = N_ACCOUNTS) -> tuple[Path, int]:
    """Features, labels and accounts into cfg's lake; truth parquet into truth_dir."""
    truth_path = truth_dir / "accounts.parquet"
    fv = write_synthetic_lake(Lake(spark, cfg), truth_path, n, SNAPSHOT, seed=SEED, label_fraction=LABEL_FRACTION,
                              shares=SHARES)
    return truth_path, fv


def build_pipeline(spark, cfg, truth_dir: Path) -> Pipeline:
    truth_path, fv = write_inputs(spark, cfg, truth_dir)
    trained = train.run(cfg, truth_path, spark=spark)
    assert trained.decision.promoted, trained.decision.reasons
    first = score.run(cfg, spark=spark)
    v1 = read_version(cfg, "scores")
    scores = read_delta_rs(cfg.table("scores"))
    second = score.run(cfg, spark=spark)
    return Pipeline(cfg, truth_path, read_delta_rs(cfg.table("features")), read_delta_rs(cfg.table("raw_labels")),
                    read_delta_rs(cfg.table("raw_accounts")), pd.read_parquet(truth_path), fv, trained, first,
                    scores, v1, second, read_version(cfg, "scores"))


def read_version(cfg, table: str) -> int:
    return DeltaTable(cfg.table(table)).version()
