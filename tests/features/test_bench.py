"""`genuine bench features` measures what it says: the input rows of the snapshot it times, and its rates
are those rows over the measured time."""

from __future__ import annotations

import pandas as pd
import pytest

from genuine.core.schemas import RAW_TABLE
from genuine.devtools.bench.features import measure_steps
from genuine.features.snapshot import end_of_day
from tests.oracles import read_delta_rs

TIME_COLUMN = {"accounts": "created_at", "posts": "created_at", "interactions": "created_at",
               "sessions": "started_at", "reports": "created_at", "labels": "decided_at"}


@pytest.mark.slow
def test_measured_steps_count_the_snapshot_inputs(spark, tiny_lake):
    cfg = tiny_lake.cfg
    raw = {e: read_delta_rs(cfg.table(t)) for e, t in RAW_TABLE.items()}
    day = max(raw["posts"].created_at.max(), raw["interactions"].created_at.max()).date()
    as_of = pd.Timestamp(end_of_day(day))
    want = {}
    for entity, frame in raw.items():
        ts = frame[TIME_COLUMN[entity]]
        keep = (ts <= as_of) | (ts.isna() if entity == "accounts" else False)
        want[entity] = int(keep.sum())

    f = measure_steps(cfg, spark, ["reports", "content"])

    assert f["snapshot_date"] == day
    assert f["rows"] == want and f["events"] == sum(want.values())
    assert f["steps"] == ["content", "reports"]          # registry order, whatever order was asked
    for step in f["steps"]:
        m = f[step]
        cpu = m["cpu_s_jvm"] + m["cpu_s_driver"]
        assert m["wall_s"] > 0 and cpu > 0 and m["peak_rss_mib_jvm"] > 0
        assert m["events_per_s_per_core"] == pytest.approx(f["events"] / m["wall_s"] / f["cores"])
        assert m["events_per_cpu_s"] == pytest.approx(f["events"] / cpu)
    assert f["cores"] == int(spark.sparkContext.master.split("[")[1].rstrip("]"))


def test_unknown_step_is_named(spark, tiny_lake):
    with pytest.raises(ValueError, match=r"unknown bench step\(s\) \['ingest'\]"):
        measure_steps(tiny_lake.cfg, spark, ["ingest"])
