"""`genuine bench daily` on a tiny platform: one day backfilled, then the metered day. Its counts are checked
against the export files and the lake it leaves (pyarrow and delta-rs, not the bench's own Spark reads).
Whole days through every job: marker `daily` (make test-bench-daily, apart from make test-daily)."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.core.config import load_config
from genuine.devtools.bench.daily import bench_daily, run_settings
from genuine.features.registry import FAMILIES
from tests.oracles import read_delta_rs

pytestmark = pytest.mark.daily

SETS = ["lake.engine=delta-spark"]


def _records(folder, entities: str = "*") -> int:
    return sum(pq.read_table(f).num_rows for f in folder.glob(f"{entities}/*.parquet"))


@pytest.fixture(scope="module")
def bench(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-daily")
    return out, bench_daily("test", SETS, accounts=80, days=1, out=out, seed=5, workers=1)


def test_the_timed_day_and_the_backfill_count_what_the_exports_and_the_lake_hold(bench):
    out, f = bench
    cfg = load_config("test", [*SETS, *run_settings(out)])
    first = date.fromisoformat(cfg.simulate.start_date)
    day = first + timedelta(days=1)
    assert f["day"] == day.isoformat() and f["engine"] == "delta-spark"
    assert f["day_records"] == f["steps"]["ingest"]["rows"] == _records(out / "days" / day.isoformat())
    assert f["backfill_records"] == f["backfill"]["rows"] == _records(out / "days" / first.isoformat())
    assert list(f["steps"]) == ["ingest", "features", "score", "enforce", "report"]

    feats = read_delta_rs(cfg.table("features"))
    scores = read_delta_rs(cfg.table("scores"))
    assert f["steps"]["features"]["rows"] == int((feats["snapshot_date"] == day).sum())
    scored = int((scores["snapshot_date"] == day).sum())
    assert [f["steps"][s]["rows"] for s in ("score", "enforce", "report")] == [scored] * 3
    runs = read_delta_rs(cfg.table("runs"))
    dailies = runs[runs["job"] == "daily"].set_index("run_id")["status"].to_dict()
    assert dailies == {f"daily-{first}": "succeeded", f"daily-{day}": "succeeded"}

    steps = f["steps"].values()
    assert all(s["wall_s"] > 0 and s["cpu_s_jvm"] + s["cpu_s_driver"] > 0 for s in steps)
    assert f["day_total"]["wall_s"] >= sum(s["wall_s"] for s in steps)
    assert f["steps"]["ingest"]["rows_per_s"] == pytest.approx(f["day_records"] / f["steps"]["ingest"]["wall_s"])
    assert f["reference"]["events"] == sum(_records(out / "export", e) for e in ("posts", "interactions"))
    # the features job's timed parts, by day: every family each day, inside the metered features step
    assert list(f["parts_by_day"]) == [first.isoformat(), day.isoformat()]
    for parts in f["parts_by_day"].values():
        assert {f"features: family {family}" for family in FAMILIES} | {"features: post scores"} <= set(parts)
    families = sum(s for p, s in f["parts_by_day"][day.isoformat()].items() if p.startswith("features: family "))
    assert 0 < families < f["steps"]["features"]["wall_s"]


def test_the_command_rejects_a_history_of_no_days(tmp_path):
    result = CliRunner().invoke(app, ["bench", "daily", "--days", "0", "--out", str(tmp_path), "--env", "test"])
    assert result.exit_code == 2
    assert "greater than or equal to 1" in result.output
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="--days must be at least 1"):
        bench_daily("test", SETS, accounts=10, days=0, out=tmp_path)
