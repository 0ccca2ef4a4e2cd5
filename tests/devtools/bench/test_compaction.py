"""The compaction bench (devtools/bench/compaction.py) on both engines, against the export it was built from."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from genuine.devtools.bench.compaction import bench_compaction
from genuine.devtools.simulator import simulate


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("compaction-export")
    simulate(n_accounts=90, days=3, seed=3, out_dir=out, chunk_accounts=30, workers=1)
    return out


@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_one_file_per_write_and_day_before_one_file_per_day_after(spark, export, tmp_path, engine):
    parts = sorted((export / "interactions").glob("part-*.parquet"))
    frames = [pq.read_table(p).to_pandas() for p in parts]
    days = [pd.to_datetime(f.created_at, unit="ms", utc=True).dt.strftime("%Y-%m-%d") for f in frames]
    every_day = sorted(set().union(*map(set, days)))
    assert len(parts) == 3 and len(every_day) >= 3

    fig = bench_compaction(spark, engine, export, tmp_path)

    assert fig.engine == engine
    assert fig.before.files == sum(d.nunique() for d in days)
    assert fig.before.files_per_day == {day: sum(day in set(d) for d in days) for day in every_day}
    assert fig.before.rows == fig.after.rows == sum(map(len, frames))
    assert fig.after.files_per_day == dict.fromkeys(every_day, 1)
    assert fig.after.files == len(every_day) < fig.before.files
    assert fig.cpu_s["jvm"] >= 0 and fig.wall_s > 0
