"""Job I/O over the table catalog: pinned reads, ordered writes, table creation, and the one write path
of moderator and appeal decisions (`import_decisions`, used by jobs/review.py and jobs/appeal.py).

A pinned read records the Delta version it read in the run ledger, so a run names exactly what it rests
on. A write is one Delta transaction per table tagged with the run's application transaction, keyed and
merged as the catalog says: a retried run writes each table at most once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame

from genuine.core import catalog
from genuine.core.lake import Lake, Txn, WriteResult
from genuine.core.ledger import RunLedger
from genuine.enforcement.config import EnforcementConfig
from genuine.enforcement.decisions import Kind
from genuine.enforcement.import_run import (
    INPUTS,
    ORDER,
    ImportRun,
    frames_to_write,
    import_from_tables,
    import_summary,
)
from genuine.jobs.common import JobContext

log = logging.getLogger(__name__)

# Test hook: seconds to sleep after each table write, so a test can kill the process between two
# commits (tests/enforcement/test_kill.py). Unset or 0 in production.
PAUSE_ENV = "GENUINE_PAUSE_BETWEEN_WRITES"

Frame = DataFrame | Callable[[], DataFrame]
"""A frame to write, or a function building it when its turn comes (from the tables committed before it)."""


def read_pinned(lake: Lake, ledger: RunLedger, table: str, version: int | None = None) -> DataFrame:
    """The table at `version` (default: its current version), recorded in the ledger; empty if absent."""
    v = ledger.read(table, version)
    return lake.read(table, version=v) if v is not None else lake.spark.createDataFrame([], catalog.schema(table))


def ensure_tables(lake: Lake, tables: Iterable[str]) -> None:
    """Create missing tables up front, so two runs starting together never race on a table's creation
    (only on its commits, which the lake retries). Another process creating it meanwhile is fine."""
    for table in tables:
        if lake.exists(table):
            continue
        try:
            lake.create(table, catalog.schema(table), partition_by=catalog.table(table).partition_by)
        except Exception:
            if not lake.exists(table):
                raise


def pause_between_writes() -> None:
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    if seconds > 0:
        log.warning("%s=%s: pausing between table writes (test hook)", PAUSE_ENV, seconds)
        time.sleep(seconds)


def write_all(lake: Lake, ledger: RunLedger, order: tuple[str, ...], frames: Mapping[str, Frame],
              txn: Txn) -> dict[str, WriteResult]:
    """Write each table in `order`, one Delta transaction each. A frame given as a function is built at
    its turn (after the tables before it are committed) and computed once."""
    results: dict[str, WriteResult] = {}
    for i, table in enumerate(order):
        if i:
            pause_between_writes()
        frame = frames[table]
        df = frame if isinstance(frame, DataFrame) else frame().localCheckpoint(eager=True)
        results[table] = write(lake, ledger, table, df, txn)
    return results


def merge(lake: Lake, table: str, df: DataFrame, txn: Txn | None) -> WriteResult:
    """Merge `df` into a table on its catalog keys, as the catalog says (insert-only or update); without a
    txn (a write that is not part of a job run) idempotence rests on the keys alone."""
    t = catalog.table(table)
    keys, when_matched = t.merge_on()
    return lake.merge(table, df, keys, when_matched=when_matched, schema=t.schema, txn=txn, partition_by=t.partition_by)


def write(lake: Lake, ledger: RunLedger, table: str, df: DataFrame, txn: Txn) -> WriteResult:
    """`merge`, recorded in the ledger as an output of the run."""
    result = merge(lake, table, df, txn)
    ledger.wrote(table, result)
    log.info("%s: %s", table, f"version {result.version} (+{result.rows} rows)" if result.version is not None
             else result.skipped)
    return result


def import_decisions(ctx: JobContext, path: Path, kind: Kind, ecfg: EnforcementConfig) -> ImportRun:
    """Read the pinned inputs, apply a decision file, write every table in order; counts go to the ledger."""
    lake, ledger = ctx.lake, ctx.ledger
    tables = {t: read_pinned(lake, ledger, t) for t in INPUTS}
    res = import_from_tables(ctx.spark, path, kind, tables, ecfg, run_id=ctx.run_id, now=datetime.now(UTC))
    ensure_tables(lake, ORDER)
    frames = frames_to_write(res, lambda: lake.read("action_log"), ecfg)
    results = write_all(lake, ledger, ORDER, frames, (f"{kind}-import", ctx.run_id))
    out = import_summary(ctx.run_id, kind, path, frames, {t: r.version for t, r in results.items()})
    for name, n in out.counts().items():
        ledger.count(name, n)
    return out
