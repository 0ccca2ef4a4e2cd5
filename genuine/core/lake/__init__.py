"""Named Delta tables under `lake.root`, behind one small interface with two engines.

`Lake` resolves logical table names from config and picks the engine: the JVM connector (delta-spark)
where its classes load, delta-rs otherwise (this machine, CI, a laptop offline). Callers never see which.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructField, StructType

from genuine.core.config import Config
from genuine.core.errors import DeltaSparkUnavailableError, PartitioningMismatch, SchemaMismatch
from genuine.core.lake.arrow import live_files
from genuine.core.lake.base import CompactResult, Engine, MatchedAction, Txn, VacuumResult, WriteResult
from genuine.core.lake.deltars import DeltaRsEngine
from genuine.core.lake.sparkdelta import SparkDeltaEngine
from genuine.core.session import delta_jvm_available

__all__ = ["CompactResult", "Lake", "Txn", "VacuumResult", "WriteResult", "make_engine"]

log = logging.getLogger(__name__)


def make_engine(spark: SparkSession, choice: str) -> Engine:
    """`auto` takes delta-spark when its JVM classes load, else delta-rs; an explicit choice is obeyed."""
    if choice == "delta-spark" or (choice == "auto" and delta_jvm_available(spark)):
        if not delta_jvm_available(spark):
            raise DeltaSparkUnavailableError(
                "lake.engine=delta-spark but the delta-spark JVM classes are not on this session's classpath: "
                "start it with genuine.core.session.get_spark (which resolves spark.packages.delta) or put the jar "
                "on the cluster")
        return SparkDeltaEngine(spark)
    return DeltaRsEngine(spark)


class Lake:
    def __init__(self, spark: SparkSession, cfg: Config, engine: Engine | None = None) -> None:
        self.spark = spark
        self.cfg = cfg
        self.engine = engine or make_engine(spark, cfg.lake.engine)
        log.debug("lake at %s with engine %s", cfg.lake.root, self.engine.name)

    def uri(self, table: str) -> str:
        return self.cfg.table(table)

    def exists(self, table: str) -> bool:
        return self.engine.exists(self.uri(table))

    def version(self, table: str) -> int | None:
        return self.engine.version(self.uri(table))

    def create(self, table: str, schema: StructType, partition_by: Sequence[str] = ()) -> None:
        uri = self.uri(table)
        if self.engine.exists(uri):
            self._check_partitioning(table, uri, partition_by)
        self.engine.create(uri, _nullable(schema), partition_by)

    def partition_columns(self, table: str) -> list[str]:
        return self.engine.partition_columns(self.uri(table))

    def read(self, table: str, version: int | None = None, timestamp: datetime | str | None = None) -> DataFrame:
        return self.engine.read(self.uri(table), version=version, timestamp=timestamp)

    def read_or_empty(self, table: str, schema: StructType) -> DataFrame:
        """The table if it exists, else an empty frame of its declared schema (first run of a pipeline)."""
        return self.read(table) if self.exists(table) else self.spark.createDataFrame([], schema)

    def history(self, table: str) -> list[dict[str, Any]]:
        return self.engine.history(self.uri(table))

    def live_files(self, table: str, version: int | None = None) -> list[tuple[str, dict[str, str | None]]]:
        """The data files of `table` at `version` from its log (`arrow.live_files`), whichever engine wrote it."""
        return live_files(self.uri(table), version)

    def already_committed(self, table: str, txn: Txn) -> bool:
        return self.engine.already_committed(self.uri(table), txn)

    def commit_times(self, table: str) -> dict[int, datetime]:
        """When each version of a table was committed (UTC), from its history, whichever engine wrote it."""
        out: dict[int, datetime] = {}
        for h in self.history(table):
            ts = h["timestamp"]
            when = datetime.fromtimestamp(ts / 1000, UTC) if isinstance(ts, int | float) else ts
            out[int(h["version"])] = when.astimezone(UTC)   # naive (Spark): local time
        return out

    # --- maintenance (`genuine maintain`) ---------------------------------------------------------
    def file_count(self, table: str) -> int:
        return self.engine.file_count(self.uri(table))

    def compact(self, table: str) -> CompactResult:
        return self.engine.compact(self.uri(table))

    def set_retention(self, table: str, data_hours: int, log_hours: int) -> bool:
        return self.engine.set_retention(self.uri(table), data_hours, log_hours)

    def vacuum(self, table: str, retention_hours: int, dry_run: bool = False) -> VacuumResult:
        return self.engine.vacuum(self.uri(table), retention_hours, dry_run)

    def cleanup_log(self, table: str) -> None:
        self.engine.cleanup_log(self.uri(table))

    def _ensure(self, table: str, df: DataFrame, schema: StructType | None, partition_by: Sequence[str]) -> str:
        uri = self.uri(table)
        if not self.engine.exists(uri):
            self.engine.create(uri, _nullable(schema or df.schema), partition_by)
        else:
            self._check_partitioning(table, uri, partition_by)
            self._evolve(uri, df, schema)
        return uri

    def _check_partitioning(self, table: str, uri: str, partition_by: Sequence[str]) -> None:
        """A write that declares partition columns refuses a table partitioned otherwise (one made before
        the catalog partitioned it): Delta cannot repartition in place, and a silent write would keep the
        table unpartitioned for good. Writes that declare none take the table as it is."""
        if not partition_by:
            return
        have = self.engine.partition_columns(uri)
        if list(have) != list(partition_by):
            raise PartitioningMismatch(
                f"table {table} at {uri} is partitioned by {have or 'nothing'} but the catalog declares "
                f"{list(partition_by)}: it was made before genuine partitioned its tables, and Delta cannot "
                f"repartition a table in place. Ingest the exports again into a new lake.root, or rewrite the "
                f"table partitioned (docs/maintenance.md, 'Lakes made before partitioning')")

    def _evolve(self, uri: str, df: DataFrame, schema: StructType | None) -> None:
        """A table created before its declared schema gained a column gets that column (nullable: older
        rows read null). A column that neither the table nor the declaration knows is an error: the
        engines would otherwise drop it from the files without a word."""
        have = set(self.engine.schema(uri).fieldNames())
        extra = [f.name for f in df.schema.fields if f.name not in have]
        if not extra:
            return
        declared = {f.name: f for f in (schema.fields if schema is not None else [])}
        unknown = [c for c in extra if c not in declared]
        if unknown:
            raise SchemaMismatch(f"{uri} has no column {', '.join(unknown)} and no declared schema adds it: "
                                 "declare it with the table (genuine/core/schemas.py) or leave it out")
        self.engine.add_columns(uri, _nullable(StructType([declared[c] for c in extra])).fields)
        log.info("%s: added column(s) %s of the declared schema", uri, ", ".join(extra))

    def append(self, table: str, df: DataFrame, schema: StructType | None = None,
               txn: Txn | None = None, partition_by: Sequence[str] = ()) -> WriteResult:
        return self.engine.append(self._ensure(table, df, schema, partition_by), df, txn)

    def overwrite(self, table: str, df: DataFrame, predicate: str | None = None,
                  schema: StructType | None = None, txn: Txn | None = None,
                  partition_by: Sequence[str] = ()) -> WriteResult:
        return self.engine.overwrite(self._ensure(table, df, schema, partition_by), df, predicate, txn)

    def merge(self, table: str, df: DataFrame, keys: list[str], when_matched: MatchedAction = "update",
              schema: StructType | None = None, txn: Txn | None = None,
              partition_by: Sequence[str] = ()) -> WriteResult:
        return self.engine.merge(self._ensure(table, df, schema, partition_by), df, keys, when_matched, txn)


def _nullable(schema: StructType) -> StructType:
    """Delta makes non-nullable fields NOT NULL, and a later append with a null then fails: avoid it."""
    return StructType([StructField(f.name, f.dataType, True, f.metadata) for f in schema.fields])
