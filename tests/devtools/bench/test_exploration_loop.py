"""The moderator loop of `genuine bench exploration` on a platform small enough to reason about:
a strategy with no label at all, far from everything labelled, is found only when the queue explores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genuine.devtools.bench.exploration import Platform, moderator_loop, recall_at_human_fpr
from genuine.enforcement.config import enforcement_config
from genuine.models.config import ModelConfig

NAMES = [f"f{i}" for i in range(6)]


def _platform(seed: int = 0) -> Platform:
    """900 humans, 120 known bots (shifted in f0, f1) and 60 new bots (shifted in f4, f5 only)."""
    rng = np.random.default_rng(seed)
    groups = [("human", "ordinary", 900, {}), ("ai", "known", 120, {"f0": 3.0, "f1": 3.0}),
              ("ai", "new", 60, {"f4": 4.0, "f5": 4.0})]
    frames = []
    for pop, strat, n, shift in groups:
        x = pd.DataFrame(rng.normal(size=(n, len(NAMES))), columns=NAMES)
        for c, d in shift.items():
            x[c] += d
        frames.append(x.assign(population=pop, strategy=strat))
    df = pd.concat(frames, ignore_index=True)
    df["account_id"] = [f"a{i:04d}" for i in range(len(df))]
    labelled = df.sample(frac=0.5, random_state=seed)
    labels = pd.DataFrame({"account_id": labelled["account_id"], "y": (labelled["population"] == "ai").astype(int)})
    accounts = pd.DataFrame({"account_id": df["account_id"], "verified": False, "declared_ai_assisted": False})
    return Platform(df[["account_id", *NAMES]], df[["account_id", "population", "strategy"]], labels, accounts,
                    NAMES)


def test_recall_at_human_fpr_matches_a_count():
    humans = np.arange(1000) / 1000.0          # the 0.5 % cut is their 99.5th percentile, 0.994005
    bots = np.array([0.2, 0.994, 0.995, 0.9999])
    s = np.r_[humans, bots]
    target = np.r_[np.zeros(1000, bool), np.ones(4, bool)]
    assert recall_at_human_fpr(s, target, ~target) == 0.5


def test_exploration_brings_the_unlabelled_strategy_to_moderators_and_recall_rises(spark, cfg):
    p = _platform()
    mcfg = ModelConfig.model_validate({"loso": {"enabled": False}, "calibration_folds": 2, "min_flagged": 5,
                                       "novelty": {"n_estimators": 50}})
    e = enforcement_config(cfg)
    e = e.model_copy(update={"queue": e.queue.model_copy(update={"capacity": 40, "exploration_min_novelty": 0.9})})
    off = pd.DataFrame(moderator_loop(spark, p, "new", 0.0, 2, mcfg, e, error_rate=0.0, seed=1))
    on = pd.DataFrame(moderator_loop(spark, p, "new", 0.25, 2, mcfg, e, error_rate=0.0, seed=1))

    # the loop's own bookkeeping: at most capacity reviewed a day; with exploration, its share of it
    assert off["reviewed"].dropna().le(40).all() and on["reviewed"].dropna().tolist() == [40, 40]
    assert off["explored"].dropna().tolist() == [0, 0] and on["explored"].dropna().tolist() == [10, 10]
    # day 0 is the same model in both runs: nobody labelled "new" yet
    assert off.loc[0, "recall"] == on.loc[0, "recall"] and off.loc[0, "labels_of_strategy"] == 0
    # without exploration the queue (nearly) never reaches the new kind; with it labels arrive, recall rises
    assert off["labels_of_strategy"].max() <= 1 and off.loc[2, "recall"] < 0.1
    assert on.loc[2, "labels_of_strategy"] >= 10 and on.loc[2, "recall"] > off.loc[2, "recall"] + 0.5
    # caught = confirmed so far, or flagged if still unlabelled: never below the confirmed share
    assert (on["caught"] >= on["labels_of_strategy"] / 60 - 1e-12).all()
    assert on.loc[2, "caught"] > off.loc[2, "caught"] + 0.5
