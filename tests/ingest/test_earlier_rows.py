"""Duplicate checks compare a batch only with the raw table's rows on the batch's event dates (UTC days,
the table's `event_date` partitions)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from genuine.core import catalog
from genuine.core.schemas import RAW_SESSIONS
from genuine.ingest.validate import earlier_rows, event_dates
from tests.oracles import sorted_frame


def _sessions(spark, rows):
    full = [{f.name: None for f in RAW_SESSIONS.fields} | r for r in rows]
    return catalog.table("raw_sessions").with_partition_columns(spark.createDataFrame(full, RAW_SESSIONS))


def test_earlier_rows_are_those_of_the_batch_dates(spark):
    existing = _sessions(spark, [{"session_id": f"s{d}", "started_at": datetime(2026, 10, d, 23, 59)}
                                 for d in range(1, 8)])
    batch = _sessions(spark, [{"session_id": "n1", "started_at": datetime(2026, 10, 3, 0, 0)},
                              {"session_id": "n2", "started_at": datetime(2026, 10, 5, 12, 0)},
                              {"session_id": "n3", "started_at": datetime(2026, 10, 5, 13, 0)},
                              {"session_id": "n4", "started_at": None}])
    dates = event_dates(batch, "sessions")
    assert dates == [date(2026, 10, 3), date(2026, 10, 5)]

    got = earlier_rows(existing, "sessions", dates).select("session_id").toPandas()
    every = existing.select("session_id", "started_at").toPandas()
    want = every[every.started_at.dt.date.isin(dates)][["session_id"]]
    pd.testing.assert_frame_equal(sorted_frame(got, ["session_id"]), sorted_frame(want, ["session_id"]))
    assert earlier_rows(existing, "sessions", []) is None
    assert earlier_rows(existing, "accounts", []) is existing     # unpartitioned and small: all of it
