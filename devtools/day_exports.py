"""Cut one simulated export into one export folder per day (OUT/YYYY-MM-DD/<entity>/part-00000.parquet),
the layout `genuine backfill --exports OUT` and the scheduled graph (`{export_root}/{date}`) read.

A record goes to the UTC day of its time (events: the time their raw table is partitioned by; accounts:
created_at; labels: decided_at); a record before the first day goes to the first day, one after the last
day to the last, so every record is in exactly one day and the days together hold the whole export.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from genuine.core.catalog import EVENT_TIME
from genuine.core.schemas import RAW_SCHEMAS

TIME_OF = {**EVENT_TIME, "accounts": "created_at", "labels": "decided_at"}
MS_PER_DAY = 86_400_000


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def split_by_day(export: str | Path, out: str | Path, first: date, days: int) -> list[Path]:
    """Write `days` day folders under `out` from `export`; returns them in order."""
    export, out = Path(export), Path(out)
    folders = [out / (first + timedelta(days=i)).isoformat() for i in range(days)]
    for entity in RAW_SCHEMAS:
        files = sorted((export / entity).glob("*.parquet"))
        table = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
        for i, folder in enumerate(folders):
            (folder / entity).mkdir(parents=True, exist_ok=True)
            if table is None:
                continue
            t = table.column(TIME_OF[entity]).cast(pa.int64())
            lo, hi = _ms(first) + i * MS_PER_DAY, _ms(first) + (i + 1) * MS_PER_DAY
            bounds = [m for m in (pc.greater_equal(t, lo) if i else None,
                                  pc.less(t, hi) if i < days - 1 else None) if m is not None]
            part = table
            if bounds:
                keep = bounds[0] if len(bounds) == 1 else pc.and_(*bounds)
                part = table.filter(pc.fill_null(keep, i == 0))     # a record without a time: the first day
            pq.write_table(part, folder / entity / "part-00000.parquet")
    return folders
