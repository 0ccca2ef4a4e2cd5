"""The JVM Delta connector (delta-spark): what Delta itself offers, no copy-on-write of our own.

Appends and overwrites are DataFrame writes (`replaceWhere` for predicate overwrites), upserts are Delta's
MERGE, time travel is `versionAsOf`/`timestampAsOf`, partitioning is Delta's own (writes follow the
table's partition columns; a `replaceWhere` on them removes those partitions' files only), and idempotency
is Delta's application transactions: the `txnAppId`/`txnVersion` writer options for writes and the same
two session settings for MERGE (Delta skips a write whose transaction it already holds). Delta's
optimistic concurrency rejects a commit that conflicts with one that landed meanwhile; the operation is
then redone on the new snapshot, as the delta-rs engine does. Versions and row counts come from Delta's
own history (`operationMetrics`), so a write is computed once. Only `already_committed` reads the log
with delta-rs: Delta's Python API has no call for an application transaction's version, and the log is
the same protocol.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from deltalake import DeltaTable as RsTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from genuine.core.errors import DuplicateMergeKeys, LakeError, PredicateViolation, TableNotFound
from genuine.core.lake.base import CompactResult, MatchedAction, Txn, VacuumResult, WriteResult
from genuine.core.lake.deltars import absolute_path, file_sizes, retention_properties, txn_id

log = logging.getLogger(__name__)

TIMESTAMP_AFTER_LATEST = "DELTA_TIMESTAMP_GREATER_THAN_COMMIT"
TXN_APP_ID = "spark.databricks.delta.write.txnAppId"
TXN_VERSION = "spark.databricks.delta.write.txnVersion"
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
TXN_VERSION_VALUE = 1
"""One transaction per (job, run id): the run id is in the app id, so its version never needs to grow."""


class SparkDeltaEngine:
    name = "delta-spark"

    def __init__(self, spark: SparkSession, max_attempts: int = 8) -> None:
        from delta.exceptions import (  # imported here: the Python shim is useless without the jars
            ConcurrentAppendException,
            ConcurrentDeleteDeleteException,
            ConcurrentDeleteReadException,
            ConcurrentTransactionException,
            ConcurrentWriteException,
            DeltaConcurrentModificationException,
            MetadataChangedException,
            ProtocolChangedException,
        )
        from delta.tables import DeltaTable

        self.spark = spark
        self.max_attempts = max_attempts
        self.DeltaTable = DeltaTable
        self.conflicts: tuple[type[Exception], ...] = (
            ConcurrentAppendException, ConcurrentDeleteDeleteException, ConcurrentDeleteReadException,
            ConcurrentTransactionException, ConcurrentWriteException, DeltaConcurrentModificationException,
            MetadataChangedException, ProtocolChangedException)
        # MERGE takes its application transaction from two session settings: one MERGE with a txn at a time.
        self._session_txn = threading.Lock()

    # --- reading -------------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        return bool(self.DeltaTable.isDeltaTable(self.spark, uri))

    def _last_commit(self, uri: str) -> dict[str, Any]:
        last = self.DeltaTable.forPath(self.spark, uri).history(1).first()
        if last is None:
            raise TableNotFound(f"Delta table at {uri} has no commit")
        return last.asDict(recursive=True)

    def version(self, uri: str) -> int | None:
        return int(self._last_commit(uri)["version"]) if self.exists(uri) else None

    def schema(self, uri: str) -> StructType:
        return self.read(uri).schema

    def add_columns(self, uri: str, fields: list[StructField]) -> None:
        cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in fields)
        self.spark.sql(f"ALTER TABLE delta.`{uri}` ADD COLUMNS ({cols})")

    def read(self, uri: str, version: int | None = None, timestamp: datetime | str | None = None) -> DataFrame:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is None:
            return reader.load(uri)
        try:
            return reader.option("timestampAsOf", str(timestamp)).load(uri)
        except AnalysisException as exc:
            # Delta refuses a time after its latest commit; the contract (and delta-rs) answer the latest version.
            if exc.getCondition() != TIMESTAMP_AFTER_LATEST:
                raise
            return self.spark.read.format("delta").option("versionAsOf", self.version(uri)).load(uri)

    def history(self, uri: str) -> list[dict[str, Any]]:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}")
        return [r.asDict(recursive=True) for r in self.DeltaTable.forPath(self.spark, uri).history().collect()]

    def already_committed(self, uri: str, txn: Txn) -> bool:
        return self.exists(uri) and RsTable(uri).transaction_version(txn_id(txn)) is not None

    # --- maintenance -----------------------------------------------------------------------------
    def _detail(self, uri: str) -> dict[str, Any]:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}")
        return self.DeltaTable.forPath(self.spark, uri).detail().first().asDict(recursive=True)

    def file_count(self, uri: str) -> int:
        return int(self._detail(uri)["numFiles"])

    def compact(self, uri: str) -> CompactResult:
        """Delta's OPTIMIZE (bin-packing compaction, one commit with data_change=false)."""
        before, version = self.file_count(uri), self.version(uri)
        if before <= 1:
            return CompactResult(before, before, None)
        self.DeltaTable.forPath(self.spark, uri).optimize().executeCompaction()
        after, new_version = self.file_count(uri), self.version(uri)
        log.info("compacted %s: %d -> %d files", uri, before, after)
        return CompactResult(before, after, new_version if new_version != version else None)

    def set_retention(self, uri: str, data_hours: int, log_hours: int) -> bool:
        """The retention policy as table properties (Delta's VACUUM and log cleanup read them); True when
        it changed."""
        want = retention_properties(data_hours, log_hours)
        have = self._detail(uri).get("properties") or {}
        if all(have.get(k) == v for k, v in want.items()):
            return False
        props = ", ".join(f"'{k}' = '{v}'" for k, v in want.items())
        self.spark.sql(f"ALTER TABLE delta.`{uri}` SET TBLPROPERTIES ({props})")
        return True

    def vacuum(self, uri: str, retention_hours: int, dry_run: bool) -> VacuumResult:
        """`VACUUM ... RETAIN n HOURS` (FULL: tombstoned and unreferenced files). Delta refuses a retention
        under the table's `delta.deletedFileRetentionDuration` (set it with `set_retention`). Its DRY RUN
        lists the files; the real run only returns the table path, so the list is taken first."""
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}")
        sql = f"VACUUM delta.`{uri}` RETAIN {int(retention_hours)} HOURS"
        listed = [absolute_path(uri, r[0]) for r in self._dry_run(sql, check=not dry_run)]
        sizes = file_sizes(listed)
        if not dry_run:
            self.spark.sql(sql).collect()
        gone = listed if dry_run else [f for f in listed if f not in file_sizes(listed)]
        return VacuumResult(tuple(sorted(gone)), sum(sizes.get(f, 0) for f in gone), dry_run)

    def _dry_run(self, sql: str, check: bool) -> list[Any]:
        """VACUUM's DRY RUN; without `check`, under a policy not yet written into the table (genuine's own
        check, the audit window, has run before: `genuine maintain --dry-run`)."""
        if check:
            return self.spark.sql(sql + " DRY RUN").collect()
        with self._session_txn:
            self.spark.conf.set(RETENTION_CHECK, "false")
            try:
                return self.spark.sql(sql + " DRY RUN").collect()
            finally:
                self.spark.conf.unset(RETENTION_CHECK)

    def cleanup_log(self, uri: str) -> None:
        """Nothing to call: Delta deletes commit files older than `delta.logRetentionDuration` itself,
        each time it writes a checkpoint (every `delta.checkpointInterval` commits, 10 by default)."""

    # --- writing -------------------------------------------------------------------------------
    def create(self, uri: str, schema: StructType, partition_by: Sequence[str] = ()) -> None:
        if not self.exists(uri):
            builder = self.DeltaTable.createIfNotExists(self.spark).location(uri).addColumns(schema)
            if partition_by:
                builder = builder.partitionedBy(*partition_by)
            builder.execute()

    def partition_columns(self, uri: str) -> list[str]:
        return list(self._detail(uri)["partitionColumns"])

    def append(self, uri: str, df: DataFrame, txn: Txn | None) -> WriteResult:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}; create it first")
        if df.limit(1).count() == 0:
            return WriteResult(None, 0, "no rows")
        return self._commit(uri, txn, "append", lambda: self._writer(df, "append", txn).save(uri))

    def overwrite(self, uri: str, df: DataFrame, predicate: str | None, txn: Txn | None) -> WriteResult:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}; create it first")
        if predicate is not None:
            bad = df.where(~F.coalesce(F.expr(predicate), F.lit(False))).limit(1).count()
            if bad:
                raise PredicateViolation(f"rows written to {uri} do not satisfy overwrite predicate {predicate!r}")

        def write() -> None:
            writer = self._writer(df, "overwrite", txn)
            if predicate is not None:
                writer = writer.option("replaceWhere", predicate)
            writer.save(uri)

        return self._commit(uri, txn, "overwrite", write)

    def merge(self, uri: str, df: DataFrame, keys: list[str], when_matched: MatchedAction,
              txn: Txn | None) -> WriteResult:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}; create it first")
        if df.groupBy(*keys).count().where("count > 1").limit(1).count():
            raise DuplicateMergeKeys(f"merge source for {uri} holds duplicate keys {keys}")
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)

        def write() -> None:
            builder = self.DeltaTable.forPath(self.spark, uri).alias("t").merge(df.alias("s"), cond)
            if when_matched == "update":
                builder = builder.whenMatchedUpdateAll()
            builder = builder.whenNotMatchedInsertAll()
            if txn is None:
                builder.execute()
                return
            with self._session_txn:
                self.spark.conf.set(TXN_APP_ID, txn_id(txn))
                self.spark.conf.set(TXN_VERSION, str(TXN_VERSION_VALUE))
                try:
                    builder.execute()
                finally:
                    self.spark.conf.unset(TXN_APP_ID)
                    self.spark.conf.unset(TXN_VERSION)

        return self._commit(uri, txn, "merge", write)

    # --- machinery ---------------------------------------------------------------------------------
    def _writer(self, df: DataFrame, mode: str, txn: Txn | None) -> Any:
        writer = df.write.format("delta").mode(mode)
        if txn is not None:
            writer = writer.option("txnAppId", txn_id(txn)).option("txnVersion", TXN_VERSION_VALUE)
        return writer

    def _commit(self, uri: str, txn: Txn | None, op: str, write: Callable[[], None]) -> WriteResult:
        """Run `write` (one Delta commit, or none when Delta already holds `txn`), redoing it when a
        concurrent commit made Delta reject ours; the result says what Delta's history recorded."""
        for attempt in range(1, self.max_attempts + 1):
            if txn is not None and self.already_committed(uri, txn):
                log.info("%s on %s skipped: txn %s already committed", op, uri, txn_id(txn))
                return WriteResult(None, 0, "txn already committed")
            before = self.version(uri)
            try:
                write()
            except self.conflicts as exc:
                if attempt == self.max_attempts:
                    raise LakeError(f"{op} on {uri} failed after {attempt} attempts: {exc}") from exc
                log.warning("%s on %s lost a commit race (attempt %d): redoing on the new snapshot", op, uri, attempt)
                continue
            last = self._last_commit(uri)
            if last["version"] == before:
                return WriteResult(None, 0, "txn already committed" if txn is not None else "nothing to commit")
            rows = int((last.get("operationMetrics") or {}).get("numOutputRows", 0))
            log.info("%s on %s committed version %d (%d rows written)", op, uri, last["version"], rows)
            return WriteResult(int(last["version"]), rows)
        raise LakeError(f"{op} on {uri}: gave up after {self.max_attempts} attempts")

