"""`genuine daily` and `genuine backfill` on a tiny simulated platform cut into two day exports, scored by
a champion trained on synthetic features: the daily equals the separate jobs, a finished day re-run writes
nothing, a day killed inside a step completes exactly once, and a backfill equals its dailies.

Tables are compared by content with devtools/chaos.py's rules (the columns holding the time a row was
written are left out; run ids are compared: they derive from the date)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from genuine.devtools.chaos import (
    CHAMPION_SETTINGS,
    content,
    differences,
    duplicates,
    train_champion,
    versions,
)
from genuine.devtools.day_exports import split_by_day
from genuine.devtools.simulator import simulate
from genuine.jobs import daily, enforce, features, ingest, report, score
from genuine.jobs.common import EXIT_ENV
from tests.oracles import read_delta_rs

pytestmark = pytest.mark.daily    # whole days through the real jobs: make test-daily

REPO = Path(__file__).resolve().parents[2]
D1, D2 = date(2026, 10, 1), date(2026, 10, 2)


class World:
    def __init__(self, cfg_factory, tmp_path_factory, spark):
        root = tmp_path_factory.mktemp("daily")
        # One report folder for every lake: the report step's parameters (in the ledger) name it.
        self.shared = [f"mlflow.tracking_uri=sqlite:///{root}/mlflow.db", f"privacy.key_file={root}/hmac.key",
                       f"reports.root={root}/reports"]
        self.cfg_factory, self.tmp = cfg_factory, tmp_path_factory
        train_champion(cfg_factory(*self.shared, *CHAMPION_SETTINGS, root=root / "champion"), spark,
                       root / "champion" / "truth.parquet")
        simulate(120, 2, 5, root / "export", start_date=D1.isoformat(), workers=1)   # no fork: the JVM is up
        self.days = root / "days"
        split_by_day(root / "export", self.days, D1, 2)

    def lake(self, name: str):
        root = self.tmp.mktemp(name)
        return self.cfg_factory(*self.shared, root=root)

    def export(self, day: date) -> Path:
        return self.days / day.isoformat()


@pytest.fixture(scope="module")
def world(cfg_factory, tmp_path_factory, spark) -> World:
    return World(cfg_factory, tmp_path_factory, spark)


@pytest.fixture(scope="module")
def day1(world, spark):
    """One lake after `daily` of the first day: (cfg, result, its tables' content)."""
    cfg = world.lake("daily1")
    result = daily.run(cfg, D1, world.export(D1), spark)
    return cfg, result, content(cfg)


def _without_daily(tables: dict[str, list[str]]) -> dict[str, list[str]]:
    return {**tables, "runs": [r for r in tables["runs"] if '"job": "daily"' not in r]}


def test_daily_equals_the_separate_jobs(world, day1, spark):
    cfg_a, result, want = day1
    assert [(s.step, s.status) for s in result.steps] == [(s, daily.RAN) for s in daily.STEPS]
    cfg = world.lake("separate")

    def rid(step: str) -> str:
        return daily.run_id_of(step, D1)      # the run ids the daily gives its steps
    ingest.run(cfg, world.export(D1), rid("ingest"), spark)
    features.run(cfg, as_of=D1, run_id=rid("features"), spark=spark)
    sc = score.run(cfg, snapshot=D1, run_id=rid("score"), spark=spark)
    en = enforce.run(cfg, sc.run_id, rid("enforce"), spark)
    report.run(cfg, sc.run_id, cfg.reports.path("daily", D1.isoformat()), breaker_reason=en.breaker.get("reason"),
               context={"day": D1, "enforce run": rid("enforce")}, run_id=rid("report"), spark=spark)
    assert differences(content(cfg), _without_daily(want)) == []
    assert duplicates(cfg_a) == []
    assert len(read_delta_rs(cfg_a.table("scores"))) == len(read_delta_rs(cfg_a.table("raw_accounts"))) > 0
    md = cfg_a.reports.path("daily", D1.isoformat(), "run-report.md").read_text()
    assert f"- scoring run: {rid('score')}" in md and "- accounts_scored" not in md


def test_a_finished_day_run_again_writes_nothing(world, day1, spark):
    cfg, _, want = day1
    before = versions(cfg)
    again = daily.run(cfg, D1, world.export(D1), spark)
    assert again.already_done and {s.status for s in again.steps} == {daily.DONE}
    assert versions(cfg) == before
    with pytest.raises(daily.DailyError, match="cannot be re-run"):
        daily.run(cfg, D1, None, spark)       # the same day with other arguments: refused, nothing written
    assert versions(cfg) == before and content(cfg) == want


def _cli_sets(cfg) -> list[str]:
    sets = [f"lake.root={cfg.lake.root}", f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}",
            f"lake.engine={cfg.lake.engine}", f"privacy.key_file={cfg.privacy.key_file}",
            f"reports.root={cfg.reports.root}"]
    return [x for s in sets for x in ("--set", s)]


def test_a_day_killed_inside_a_step_completes_exactly_once(world, day1, spark, tmp_path):
    _, _, want = day1
    cfg = world.lake("killed")
    # The features job ends its process (os._exit, as kill -9: no clean-up) after committing its snapshot
    # and before its ledger entry says succeeded.
    env = {**os.environ, EXIT_ENV: "features", "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    out = tmp_path / "daily.log"
    with out.open("wb") as fh:
        code = subprocess.run([sys.executable, "-m", "genuine.jobs.daily", "--env", "test", *_cli_sets(cfg),
                               "--date", D1.isoformat(), "--export", str(world.export(D1))],
                              cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=1800).returncode
    assert code == 137, out.read_text(errors="replace")[-3000:]
    runs = read_delta_rs(cfg.table("runs")).set_index("run_id").status.to_dict()
    assert runs == {"daily-2026-10-01": "running", "daily-ingest-2026-10-01": "succeeded",
                    "daily-features-2026-10-01": "running"}
    committed = versions(cfg)

    rerun = daily.run(cfg, D1, world.export(D1), spark)
    assert [(s.step, s.status) for s in rerun.steps] == [
        ("ingest", daily.DONE), ("features", daily.RAN), ("score", daily.RAN), ("enforce", daily.RAN),
        ("report", daily.RAN)]
    assert rerun.steps[1].result.version is None          # the snapshot was committed once, by the killed run
    assert versions(cfg)["features"] == committed["features"]
    assert duplicates(cfg) == []
    assert differences(content(cfg), want) == []


def test_backfill_of_two_days_equals_two_dailies(world, day1, spark):
    cfg_a, _, _ = day1
    daily.run(cfg_a, D2, world.export(D2), spark)
    cfg = world.lake("backfill")
    seen = []
    days = daily.backfill(cfg, D1, D2, world.days, spark, on_day=lambda r: seen.append(r.day))
    assert seen == [D1, D2] and [r.day for r in days] == [D1, D2]
    assert differences(content(cfg), content(cfg_a)) == []
    with pytest.raises(daily.DailyError, match=r"backfill stopped at 2026-10-03: .*export folder .* not found"):
        daily.backfill(cfg, D2, date(2026, 10, 3), world.days, spark)
