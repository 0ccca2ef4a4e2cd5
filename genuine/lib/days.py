"""Windows of UTC days over the raw tables' `event_date` partitions.

The families that look back a fixed number of days (change, network's co-actions) put their window on the
partitions too, so a snapshot's scans read the window's days and its cost stops growing with the history
once the window is full.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from genuine.core.catalog import EVENT_DATE, MICROS_PER_DAY


def epoch_micros(ts: datetime) -> int:
    """Exact microseconds since the epoch; a naive datetime is taken as UTC (all platform times are UTC).

    Comparing unix_micros(col) with this integer avoids F.lit(datetime), which reads a naive value in the
    driver's local time zone.
    """
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def day_window(as_of: datetime, days: int) -> tuple[int, int]:
    """The first and last UTC day numbers (days since 1970-01-01) of the `days`-day window ending on as_of's
    day."""
    last = epoch_micros(as_of) // MICROS_PER_DAY
    return last - days + 1, last


def window_partitions(first: int, last: int) -> Column:
    """The `event_date` partitions of the UTC days `first`..`last` (day numbers, `day_window`)."""
    return F.col(EVENT_DATE).between(F.date_from_unix_date(F.lit(first)), F.date_from_unix_date(F.lit(last)))


def in_partitions(df: DataFrame, first: int, last: int) -> DataFrame:
    """`df`'s rows on the partitions of days `first`..`last`; a frame without the partition column (built
    in memory) as it is: callers also filter on the record's own time."""
    return df.where(window_partitions(first, last)) if EVENT_DATE in df.columns else df
