"""The engine contract: what every Delta engine behind `Lake` must do, and the errors it raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pyspark.sql import DataFrame
from pyspark.sql.types import StructField, StructType

Txn = tuple[str, str]
"""(app_id, run_id): a write tagged with it lands at most once (a Delta application transaction)."""

MatchedAction = Literal["update", "ignore"]


@dataclass(frozen=True)
class WriteResult:
    version: int | None          # the committed version, None when nothing was committed
    rows: int                    # rows in the files added by this write
    skipped: str | None = None   # why no commit happened ("txn already committed", "no rows")


@dataclass(frozen=True)
class CompactResult:
    files_before: int            # live data files before compaction
    files_after: int
    version: int | None          # the OPTIMIZE commit, None when there was nothing to compact


@dataclass(frozen=True)
class VacuumResult:
    files: tuple[str, ...]       # absolute paths deleted (on a dry run: that VACUUM would delete)
    bytes: int                   # their size on disk
    dry_run: bool


def retention_interval(hours: int) -> str:
    """A Delta interval property value (`delta.logRetentionDuration`), understood by both engines."""
    return f"interval {hours} hours"


class Engine(Protocol):
    name: str

    def exists(self, uri: str) -> bool: ...
    def version(self, uri: str) -> int | None: ...
    def create(self, uri: str, schema: StructType, partition_by: Sequence[str] = ()) -> None: ...
    def schema(self, uri: str) -> StructType: ...
    def partition_columns(self, uri: str) -> list[str]: ...
    def add_columns(self, uri: str, fields: list[StructField]) -> None: ...
    def read(self, uri: str, version: int | None = None, timestamp: datetime | str | None = None) -> DataFrame: ...
    def append(self, uri: str, df: DataFrame, txn: Txn | None) -> WriteResult: ...
    def overwrite(self, uri: str, df: DataFrame, predicate: str | None, txn: Txn | None) -> WriteResult: ...
    def merge(self, uri: str, df: DataFrame, keys: list[str], when_matched: MatchedAction,
              txn: Txn | None) -> WriteResult: ...
    def history(self, uri: str) -> list[dict[str, Any]]: ...
    def already_committed(self, uri: str, txn: Txn) -> bool: ...
    # --- maintenance (`genuine maintain`) ---
    def file_count(self, uri: str) -> int: ...
    def compact(self, uri: str) -> CompactResult: ...
    def set_retention(self, uri: str, data_hours: int, log_hours: int) -> bool: ...
    def vacuum(self, uri: str, retention_hours: int, dry_run: bool) -> VacuumResult: ...
    def cleanup_log(self, uri: str) -> None: ...
