"""Delta without the JVM connector: Spark writes Parquet files in parallel, delta-rs commits them.

Each logical write is ONE Delta transaction. Row-level operations (predicate overwrite, merge) are
copy-on-write, as Delta itself does them: the files holding affected rows are rewritten by Spark and
swapped in by one commit of remove + add actions. A partitioned table gets Hive-style partition folders
(`event_date=2026-01-05/`) under each write's folder, the values in each add action, and a predicate on
partition columns alone replaces whole partitions from the log, reading no data file. Commits are made with no automatic retry against the
snapshot that was read, so a concurrent writer makes our commit fail and the whole operation is redone
on the new snapshot: serializable, no lost update.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Field
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import AddAction, RemoveAction, Transaction
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StringType, StructField, StructType

from genuine.core.errors import DuplicateMergeKeys, LakeError, PredicateViolation, TableNotFound
from genuine.core.lake.base import (
    CompactResult,
    MatchedAction,
    Txn,
    VacuumResult,
    WriteResult,
    retention_interval,
)
from genuine.core.schemas import to_arrow

log = logging.getLogger(__name__)

DATA_DIR = "data"
"""Sub-folder of the table root that holds the part files; never the root itself (that holds _delta_log)."""
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
"""The folder name Spark gives a null partition value."""
FILE_COL = "_file"
"""Column a read adds on request: the part file a row came from."""
_PART_KEY = "_part_key"
_LOG_PATH = "_log_path"
PATH_SAFE = "/="
"""Characters a log path keeps unescaped (Delta writes `event_date=2026-01-05/...` so); adds and removes agree."""


def txn_id(txn: Txn) -> str:
    return f"{txn[0]}/{txn[1]}"


class DeltaRsEngine:
    name = "delta-rs"

    def __init__(self, spark: SparkSession, max_attempts: int = 8) -> None:
        self.spark = spark
        self.max_attempts = max_attempts

    # --- reading -------------------------------------------------------------------------------
    def exists(self, uri: str) -> bool:
        return DeltaTable.is_deltatable(uri)

    def _table(self, uri: str, version: int | None = None) -> DeltaTable:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}")
        return DeltaTable(uri, version=version) if version is not None else DeltaTable(uri)

    def version(self, uri: str) -> int | None:
        return DeltaTable(uri).version() if self.exists(uri) else None

    def spark_schema(self, dt: DeltaTable) -> StructType:
        arrow = pa.schema(dt.schema().to_arrow())
        return from_arrow_schema(arrow)

    def read(self, uri: str, version: int | None = None, timestamp: datetime | str | None = None) -> DataFrame:
        dt = self._table(uri, version)
        if timestamp is not None:
            dt.load_as_version(timestamp)
        return self._read_files(dt, dt.file_uris())

    def _read_files(self, dt: DeltaTable, files: list[str], with_file: bool = False) -> DataFrame:
        """Some of the table's part files, in its schema; `with_file` adds the path each row came from
        (FILE_COL). Partition values are not in the files but in the log: each row gets its file's values
        by a broadcast join on the file's path below the table root (Spark's own partition discovery
        cannot be used: each write has its own folder, and Delta's writers lay files out as they like)."""
        schema = self.spark_schema(dt)
        parts = dt.metadata().partition_columns
        if not files:
            empty = self.spark.createDataFrame([], schema)
            return empty.withColumn(FILE_COL, F.lit(None).cast("string")) if with_file else empty
        data = StructType([f for f in schema.fields if f.name not in parts])
        df = self.spark.read.schema(data).parquet(*files).withColumn(FILE_COL, F.col("_metadata.file_path"))
        if parts:
            tail = F.array_join(F.slice(F.split(F.url_decode(F.col(FILE_COL)), "/"), -(len(parts) + 1),
                                        len(parts) + 1), "/")
            by_file = self._partition_frame(dt, parts, schema).drop(_LOG_PATH)
            df = df.withColumn(_PART_KEY, tail).join(F.broadcast(by_file), on=_PART_KEY, how="inner")
        return df.select(*schema.fieldNames(), *([FILE_COL] if with_file else []))

    def _partition_frame(self, dt: DeltaTable, parts: list[str], schema: StructType) -> DataFrame:
        """One row per live file of `dt`, from the log: its path as the log holds it (_LOG_PATH), its last
        folders + name (_PART_KEY) and its typed partition values."""
        actions = pa.table(dt.get_add_actions(flatten=True))
        paths = actions.column("path").to_pylist() if actions.num_rows else []
        keys = ["/".join(unquote(p).split("/")[-(len(parts) + 1):]) for p in paths]
        values = [actions.column(f"partition.{c}").cast(pa.string()).to_pylist() if paths else [] for c in parts]
        frame = self.spark.createDataFrame(
            list(zip(paths, keys, *values, strict=True)),
            StructType([StructField(c, StringType()) for c in (_LOG_PATH, _PART_KEY, *parts)]))
        types = {f.name: f.dataType for f in schema.fields}
        return frame.select(_LOG_PATH, _PART_KEY, *[F.col(c).cast(types[c]).alias(c) for c in parts])

    def history(self, uri: str) -> list[dict[str, Any]]:
        return self._table(uri).history()

    def already_committed(self, uri: str, txn: Txn) -> bool:
        return self.exists(uri) and DeltaTable(uri).transaction_version(txn_id(txn)) is not None

    # --- maintenance -----------------------------------------------------------------------------
    def file_count(self, uri: str) -> int:
        return len(self._table(uri).file_uris())

    def compact(self, uri: str) -> CompactResult:
        """delta-rs `optimize.compact`: small files rewritten into bins of its target size, one commit
        (data_change=false, so time travel and readers see the same rows)."""
        dt = self._table(uri)
        before = len(dt.file_uris())
        if before <= 1:
            return CompactResult(before, before, None)
        metrics = dt.optimize.compact()
        after = DeltaTable(uri)
        log.info("compacted %s: %d -> %d files (%s)", uri, before, len(after.file_uris()),
                 {k: metrics.get(k) for k in ("numFilesAdded", "numFilesRemoved")})
        return CompactResult(before, len(after.file_uris()), after.version())

    def set_retention(self, uri: str, data_hours: int, log_hours: int) -> bool:
        """Write the retention policy into the table (`delta.deletedFileRetentionDuration`,
        `delta.logRetentionDuration`), so any Delta client honours it; True when it changed."""
        dt = self._table(uri)
        want = retention_properties(data_hours, log_hours)
        have = dt.metadata().configuration
        if all(have.get(k) == v for k, v in want.items()):
            return False
        dt.alter.set_table_properties(want)
        return True

    def vacuum(self, uri: str, retention_hours: int, dry_run: bool) -> VacuumResult:
        """Full VACUUM (tombstoned files and files no version references), as delta-spark's VACUUM does.
        The table's own `delta.deletedFileRetentionDuration` is the floor of a real run (set it with
        `set_retention`)."""
        dt = self._table(uri)
        # A dry run lists under the policy asked for, even before set_retention wrote it into the table.
        listed = [absolute_path(uri, f) for f in dt.vacuum(retention_hours=retention_hours, dry_run=True,
                                                            enforce_retention_duration=not dry_run, full=True)]
        sizes = file_sizes(listed)
        if dry_run:
            return VacuumResult(tuple(sorted(listed)), sum(sizes.values()), True)
        deleted = [absolute_path(uri, f) for f in DeltaTable(uri).vacuum(
            retention_hours=retention_hours, dry_run=False, enforce_retention_duration=True, full=True)]
        return VacuumResult(tuple(sorted(deleted)), sum(sizes.get(f, 0) for f in deleted), False)

    def cleanup_log(self, uri: str) -> None:
        """A checkpoint, then the commit files older than `delta.logRetentionDuration` are deleted."""
        dt = self._table(uri)
        dt.create_checkpoint()
        dt.cleanup_metadata()

    # --- writing -------------------------------------------------------------------------------
    def create(self, uri: str, schema: StructType, partition_by: Sequence[str] = ()) -> None:
        if not self.exists(uri):
            DeltaTable.create(uri, to_arrow(schema), mode="ignore", partition_by=list(partition_by) or None)

    def partition_columns(self, uri: str) -> list[str]:
        return list(self._table(uri).metadata().partition_columns)

    def schema(self, uri: str) -> StructType:
        return self.spark_schema(self._table(uri))     # from the log: no data file is listed

    def add_columns(self, uri: str, fields: list[StructField]) -> None:
        self._table(uri).alter.add_columns([Field.from_arrow(f) for f in to_arrow(StructType(fields))])

    def append(self, uri: str, df: DataFrame, txn: Txn | None) -> WriteResult:
        def plan(dt: DeltaTable) -> tuple[DataFrame | None, list[str]]:
            return df, []

        return self._commit_loop(uri, txn, plan, op="append", allow_retry_free=True)

    def overwrite(self, uri: str, df: DataFrame, predicate: str | None, txn: Txn | None) -> WriteResult:
        if predicate is not None:
            bad = df.where(~F.coalesce(F.expr(predicate), F.lit(False))).limit(1).count()
            if bad:
                raise PredicateViolation(f"rows written to {uri} do not satisfy overwrite predicate {predicate!r}")

        def plan(dt: DeltaTable) -> tuple[DataFrame | None, list[str]]:
            current = dt.file_uris()
            if predicate is None:
                return df, current
            whole = self._partitions_matching(dt, predicate)
            if whole is not None:
                return df, whole
            affected = self._files_matching(current, dt, F.coalesce(F.expr(predicate), F.lit(False)))
            kept = self._read_files(dt, affected).where(
                ~F.coalesce(F.expr(predicate), F.lit(False)))
            return kept.unionByName(df), affected

        return self._commit_loop(uri, txn, plan, op="overwrite")

    def merge(self, uri: str, df: DataFrame, keys: list[str], when_matched: MatchedAction,
              txn: Txn | None) -> WriteResult:
        dupes = df.groupBy(*keys).count().where("count > 1").limit(1).count()
        if dupes:
            raise DuplicateMergeKeys(f"merge source for {uri} holds duplicate keys {keys}")

        def plan(dt: DeltaTable) -> tuple[DataFrame | None, list[str]]:
            current = dt.file_uris()
            target = self._read_files(dt, current)
            if when_matched == "ignore":
                return df.join(target.select(*keys), on=keys, how="left_anti"), []
            source_keys = df.select(*keys)
            affected = self._files_matching(current, dt, None, semi=source_keys, keys=keys)
            kept = self._read_files(dt, affected).join(source_keys, on=keys, how="left_anti")
            return kept.unionByName(df), affected

        return self._commit_loop(uri, txn, plan, op="merge")

    # --- machinery ---------------------------------------------------------------------------------
    def _files_matching(self, files: list[str], dt: DeltaTable, cond: Any, semi: DataFrame | None = None,
                        keys: list[str] | None = None) -> list[str]:
        """The part files that hold at least one affected row (only file names reach the driver)."""
        if not files:
            return []
        rows = self._read_files(dt, files, with_file=True)
        if cond is not None:
            rows = rows.where(cond)
        if semi is not None and keys is not None:
            rows = rows.join(semi, on=keys, how="left_semi")
        hit = {r[FILE_COL] for r in rows.select(FILE_COL).distinct().collect()}
        # input_file_name() and file_uris() may differ in scheme/escaping: match on the normalised path.
        norm = {_norm(f): f for f in files}
        return sorted(norm[_norm(h)] for h in hit if _norm(h) in norm)

    def _partitions_matching(self, dt: DeltaTable, predicate: str) -> list[str] | None:
        """The files of the partitions a predicate on partition columns selects, from the log alone; None
        when the table is not partitioned or the predicate names another column (then files are read)."""
        parts = dt.metadata().partition_columns
        if not parts:
            return None
        try:
            hit = (self._partition_frame(dt, parts, self.spark_schema(dt))
                   .where(F.coalesce(F.expr(predicate), F.lit(False))).select(_LOG_PATH).collect())
        except AnalysisException:
            return None
        return sorted(absolute_path(dt.table_uri, r[_LOG_PATH]) for r in hit)

    def _commit_loop(self, uri: str, txn: Txn | None, plan: Any, op: str,
                     allow_retry_free: bool = False) -> WriteResult:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}; create it first")
        for attempt in range(1, self.max_attempts + 1):
            dt = DeltaTable(uri)
            if txn is not None and dt.transaction_version(txn_id(txn)) is not None:
                log.info("%s on %s skipped: txn %s already committed", op, uri, txn_id(txn))
                return WriteResult(None, 0, "txn already committed")
            new_rows, removed = plan(dt)
            parts = dt.metadata().partition_columns
            adds, rows, staged = self._write_files(uri, new_rows, self.spark_schema(dt), parts)
            if not adds and not removed and op != "overwrite":
                self._cleanup(staged)
                return WriteResult(None, 0, "no rows")
            now = int(time.time() * 1000)
            actions: list[AddAction | RemoveAction] = list(adds)
            actions += [RemoveAction(path=_relative(uri, f), data_change=True, deletion_timestamp=now)
                        for f in removed]
            props = CommitProperties(
                app_transactions=[Transaction(txn_id(txn), 1, now)] if txn else None,
                max_commit_retries=None if allow_retry_free else 0,
                custom_metadata={"genuine.operation": op},
            )
            try:
                # always "append" with explicit actions: an "overwrite" transaction removes every live file
                # of the table, whatever the predicate (an overwrite of no rows for days holding none emptied
                # the table); an overwrite of nothing commits an empty version, as delta-spark does
                dt.create_write_transaction(actions, mode="append", schema=dt.schema(), partition_by=parts or None,
                                            commit_properties=props)
            except (CommitFailedError, DeltaError) as exc:
                self._cleanup(staged)
                if not _is_conflict(exc) or attempt == self.max_attempts:
                    raise LakeError(f"{op} on {uri} failed: {exc}") from exc
                log.warning("%s on %s lost a commit race (attempt %d): redoing on the new snapshot", op, uri, attempt)
                continue
            version = DeltaTable(uri).version()
            log.info("%s on %s committed version %d (%d rows added, %d files removed)",
                     op, uri, version, rows, len(removed))
            return WriteResult(version, rows)
        raise LakeError(f"{op} on {uri}: gave up after {self.max_attempts} attempts")

    def _write_files(self, uri: str, df: DataFrame | None, schema: StructType, partition_by: Sequence[str] = ()
                     ) -> tuple[list[AddAction], int, str | None]:
        if df is None:
            return [], 0, None
        rel_dir = f"{DATA_DIR}/{uuid.uuid4().hex}"
        target = f"{uri.rstrip('/')}/{rel_dir}"
        ordered = df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])
        writer = ordered.write.mode("errorifexists")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.parquet(target)
        fs, root = pafs.FileSystem.from_uri(target)
        infos = [i for i in fs.get_file_info(pafs.FileSelector(root, recursive=True)) if i.path.endswith(".parquet")]
        adds, total = [], 0
        for info in infos:
            meta = pq.read_metadata(info.path, filesystem=fs)
            if meta.num_rows == 0:
                fs.delete_file(info.path)
                continue
            total += meta.num_rows
            name = info.path[len(root.rstrip("/")) + 1:]          # part file, under its partition folders
            adds.append(AddAction(path=quote(f"{rel_dir}/{name}", safe=PATH_SAFE), size=info.size,
                                  partition_values=partition_values(name, partition_by),
                                  modification_time=int(info.mtime.timestamp() * 1000), data_change=True,
                                  stats=json.dumps({"numRecords": meta.num_rows})))
        return adds, total, target

    @staticmethod
    def _cleanup(staged: str | None) -> None:
        """Files of a write that did not commit are not in the log; delete them so they never pile up."""
        if staged is None:
            return
        fs, root = pafs.FileSystem.from_uri(staged)
        try:
            fs.delete_dir(root)
        except OSError:
            log.warning("could not remove uncommitted files under %s", staged)


RETENTION_PROPERTIES = ("delta.deletedFileRetentionDuration", "delta.logRetentionDuration")


def retention_properties(data_hours: int, log_hours: int) -> dict[str, str]:
    data, log_ = RETENTION_PROPERTIES
    return {data: retention_interval(data_hours), log_: retention_interval(log_hours)}


def partition_values(path: str, columns: Sequence[str]) -> dict[str, str | None]:
    """The partition values of a Hive-style relative path (`event_date=2026-01-05/part-0.parquet`), as the
    Delta log holds them (strings; null for Spark's default partition)."""
    found = dict(seg.split("=", 1) for seg in path.split("/")[:-1] if "=" in seg)
    missing = [c for c in columns if c not in found]
    if missing:
        raise LakeError(f"part file {path} has no partition folder for {missing}")
    return {c: None if found[c] == HIVE_NULL else unquote(found[c]) for c in columns}


def file_sizes(paths: list[str]) -> dict[str, int]:
    """Size on disk of each file (local paths or URIs) that still exists."""
    sizes: dict[str, int] = {}
    for path in paths:
        fs, rel = pafs.FileSystem.from_uri(path if "://" in path else "file://" + _norm(path))
        info = fs.get_file_info(rel)
        if info.type == pafs.FileType.File:
            sizes[path] = int(info.size)
    return sizes


def absolute_path(uri: str, path: str) -> str:
    """A path delta-rs or Delta reports, as one absolute form (local: a plain path, else a URI)."""
    if "://" in path or path.startswith(("/", "file:")):
        return _norm(path) if not _is_remote(path) else path
    base = uri.rstrip("/")
    return (_norm(base) if not _is_remote(base) else base) + "/" + unquote(path)


def _is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file:")


def _norm(path: str) -> str:
    p = unquote(path)
    for prefix in ("file://", "file:"):
        if p.startswith(prefix):
            p = p[len(prefix):]
    while p.startswith("//"):
        p = p[1:]
    return p


def _relative(uri: str, file_uri: str) -> str:
    base = _norm(uri).rstrip("/") + "/"
    full = _norm(file_uri)
    if not full.startswith(base):
        raise LakeError(f"{file_uri} is not under table {uri}")
    return quote(full[len(base):], safe=PATH_SAFE)


def _is_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, CommitFailedError) or any(
        word in text for word in ("conflict", "concurrent", "version already exists", "already exists"))
