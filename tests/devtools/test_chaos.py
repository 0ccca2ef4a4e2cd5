"""The chaos script's kill moments (every step of the day is aimed at, inside its span in the reference), and
its check of the incremental state's fingerprints."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from deltalake import write_deltalake

from genuine.core.config import load_config
from genuine.core.lake.arrow import live_files
from genuine.devtools.chaos import (
    content,
    kill_moments,
    parse_args,
    prepare_command,
    stale_fingerprints,
    step_start,
    step_windows,
    trial_delay,
)
from genuine.features.state import DAYS, FINGERPRINTED, day_lines, fingerprints

LAUNCH = datetime(2026, 12, 6, 9, 0, 0, tzinfo=UTC)   # the ledger's times are UTC-aware


def _row(job: str, start_s: float, end_s: float, status: str = "succeeded") -> dict:
    return {"job": job, "status": status, "started_at": LAUNCH + timedelta(seconds=start_s),
            "ended_at": LAUNCH + timedelta(seconds=end_s)}


def test_step_windows_are_the_succeeded_step_runs_since_the_launch_in_the_days_order():
    rows = [_row("report", 200.5, 230.0), _row("daily", 9.0, 231.0), _row("ingest", 10.0, 60.25),
            _row("features", 11.0, 12.0, status="failed"), _row("features", 61.0, 150.0),
            _row("score", 151.0, 170.0), _row("enforce", 171.0, 199.0), _row("train", 0.0, 5.0),
            # the day before, backfilled into the same lake before the launch
            _row("ingest", -330.0, -250.0), _row("report", -16.0, -8.0)]
    got = step_windows(rows, LAUNCH)
    assert list(got.items()) == [("ingest", (10.0, 60.25)), ("features", (61.0, 150.0)), ("score", (151.0, 170.0)),
                                 ("enforce", (171.0, 199.0)), ("report", (200.5, 230.0))]


def test_kill_moments_take_the_steps_in_turn_each_with_a_uniform_share_of_the_step():
    windows = {"ingest": (10.0, 60.0), "features": (61.0, 150.0), "score": (151.0, 152.0),
               "enforce": (171.0, 199.0), "report": (200.0, 230.0)}
    moments = kill_moments(windows, 20, random.Random(7))
    assert [step for step, _ in moments] == list(windows) * 4
    assert all(0.0 <= share < 1.0 for _, share in moments)
    assert max(share for _, share in moments) > 0.9 and min(share for _, share in moments) < 0.1
    assert Counter(step for step, _ in moments) == {step: 4 for step in windows}
    assert moments == kill_moments(windows, 20, random.Random(7))
    # a day without an export has no ingest step: the other four share the trials
    no_ingest = {k: v for k, v in windows.items() if k != "ingest"}
    assert Counter(step for step, _ in kill_moments(no_ingest, 6, random.Random(1))) == \
        {"features": 2, "score": 2, "enforce": 1, "report": 1}
    with pytest.raises(ValueError, match="nothing to aim at"):
        kill_moments({}, 3, random.Random(1))
    # --steps: only the steps asked for, still in turn
    assert [s for s, _ in kill_moments(windows, 4, random.Random(7), ["score", "features"])] == \
        ["features", "score", "features", "score"]
    with pytest.raises(ValueError, match="among"):
        kill_moments(windows, 2, random.Random(7), ["train"])


def test_trial_delay_is_the_share_of_the_step_at_the_trials_own_pace():
    # the reference (loaded) reached score at 292 s and spent 106 s in it
    windows = {"ingest": (60.0, 151.0), "score": (292.0, 398.0)}
    assert trial_delay(windows, "score", 0.5, 292.0) == pytest.approx(53.0)      # same pace: the reference's
    # the seed-11 miss: a trial twice as fast reaches score at 146 s; the step is expected to last 53 s
    assert trial_delay(windows, "score", 0.72, 146.0) == pytest.approx(0.72 * 106.0 * 0.5)
    assert trial_delay(windows, "ingest", 0.25, 90.0) == pytest.approx(0.25 * 91.0 * 1.5)   # a slower trial
    assert trial_delay({"ingest": (0.0, 40.0)}, "ingest", 0.5, 3.0) == pytest.approx(20.0)  # no pace to read


def test_step_start_is_the_aimed_steps_first_start_since_the_launch():
    running = {"job": "features", "status": "running", "started_at": LAUNCH + timedelta(seconds=97.5),
               "ended_at": None}
    rows = [_row("ingest", 10.0, 60.0), _row("features", -300.0, -200.0), _row("daily", 1.0, 400.0)]
    assert step_start(rows, "features", LAUNCH) is None            # only the backfilled day's run so far
    assert step_start([*rows, running], "features", LAUNCH) == 97.5
    assert step_start(rows, "ingest", LAUNCH) == 10.0               # already ended: it did start
    assert step_start([*rows, _row("ingest", 70.0, 80.0, status="failed")], "ingest", LAUNCH) == 10.0
    assert step_start(rows, "score", LAUNCH) is None


def test_the_base_lake_is_prepared_with_the_base_settings_only():
    """--base-set reaches the preparing subprocess as its --set (its backfill builds the state the day under
    test continues); the day's own --set does not."""
    args = parse_args(["--days", "3", "--set", "features.incremental=true", "--base-set", "features.incremental=true",
                       "--base-set", "lake.engine=delta-rs"])
    cmd = prepare_command(args, Path("/tmp/x"))
    assert cmd[cmd.index("--prepare"):] == ["--prepare", "--out", "/tmp/x", "--days", "3", "--env", "local",
                                            "--set", "features.incremental=true", "--set", "lake.engine=delta-rs"]
    plain = prepare_command(parse_args(["--days", "3", "--set", "features.incremental=true"]), Path("/tmp/x"))
    assert plain[plain.index("--prepare"):] == ["--prepare", "--out", "/tmp/x", "--days", "3", "--env", "local"]


def test_fingerprints_are_checked_against_the_lakes_own_files_not_compared_with_the_reference(tmp_path):
    """A manifest row whose fingerprint names other part files than the raw tables hold is a violation; the
    fingerprints are left out of the comparison with the reference (a trial's files have other names)."""
    cfg = load_config("test", [f"lake.root={tmp_path}"])
    d1, d2, d3 = (date(2026, 10, i) for i in (1, 2, 3))
    for table in FINGERPRINTED[DAYS]:
        write_deltalake(cfg.table(table), pd.DataFrame({"n": [1, 2, 3], "event_date": [d1, d2, d3]}),
                        partition_by=["event_date"])
    now = fingerprints({t: day_lines(t, live_files(cfg.table(t))) for t in FINGERPRINTED[DAYS]}, FINGERPRINTED[DAYS])
    assert sorted(now) == [d1, d2, d3]
    manifest = pd.DataFrame({"event_date": [d1, d2, d3], "events": [2, 2, 2], "config_hash": ["h"] * 3,
                             "files": [now[d1], "other files", None]})
    write_deltalake(cfg.table(DAYS), manifest)
    assert stale_fingerprints(cfg) == [f"{DAYS}: the fingerprint of {d2} names other part files than the raw tables hold"]
    assert all('"files"' not in row for row in content(cfg)[DAYS]) and len(content(cfg)[DAYS]) == 3
