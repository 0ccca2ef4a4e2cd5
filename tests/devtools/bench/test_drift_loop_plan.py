"""The drift loop's plan (devtools/bench/drift_loop.py), no Spark: the snapshot grid that lets labels decided
after the shift join features from after it, and the holdout that leaves the challenger some of them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from genuine.devtools.bench.drift_loop import default_holdout_days, snapshot_days, with_holdout_days
from genuine.models.config import ModelConfig


def test_snapshot_days_every_n_days_from_the_second_and_the_last():
    start = date(2026, 11, 1)
    got = snapshot_days(start, 14, 2)
    assert got == [start + timedelta(days=d) for d in (1, 3, 5, 7, 9, 11, 13)]
    assert snapshot_days(start, 8, 3) == [start + timedelta(days=d) for d in (1, 4, 7)]
    assert snapshot_days(start, 8, 1) == [start + timedelta(days=d) for d in range(1, 8)]
    with pytest.raises(ValueError, match="snapshot_every"):
        snapshot_days(start, 8, 0)


def test_snapshot_grid_reaches_the_labels_after_the_shift():
    # The bug it fixes: snapshots only before the shift and on the last day, so every label decided after
    # the shift (all before the last day's end) joined the day-before-the-shift snapshot. With the grid, a
    # label decided on any day from the shift + snapshot_every on has a snapshot after the shift behind it.
    start, days, at_day, every = date(2026, 11, 1), 14, 7, 2
    snaps = snapshot_days(start, days, every)
    for decided_day in range(at_day + every, days):
        ends = [d for d in snaps if (d - start).days + 1 <= decided_day]   # snapshot d covers up to d's end
        assert (max(ends) - start).days + 1 > at_day, decided_day


def test_default_holdout_days_is_a_third_of_the_days_after_the_shift():
    assert default_holdout_days(14, 7) == 3
    assert default_holdout_days(8, 4) == 2
    assert default_holdout_days(3, 2.5) == 1


def test_with_holdout_days_changes_only_that_key(cfg_factory):
    cfg = cfg_factory("model.retrain.min_holdout_per_label=7")
    out = with_holdout_days(cfg, 3)
    before, after = cfg.section("model", ModelConfig), out.section("model", ModelConfig)
    assert after.retrain.holdout_days == 3 and before.retrain.holdout_days == 14
    assert after.model_dump(exclude={"retrain"}) == before.model_dump(exclude={"retrain"})
    assert after.retrain.model_dump(exclude={"holdout_days"}) == before.retrain.model_dump(exclude={"holdout_days"})
