"""The JVM Delta connector (delta-spark), used where its classes load (a cluster that ships the jars).

Idempotency uses Delta's own `txnAppId`/`txnVersion` writer options for appends and overwrites; the
transaction log is the same protocol, so `already_committed` and `version` read it with delta-rs too.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from deltalake import DeltaTable as RsTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from genuine.core.errors import DuplicateMergeKeys, PredicateViolation, TableNotFound
from genuine.core.lake.base import MatchedAction, Txn, WriteResult
from genuine.core.lake.deltars import txn_id

log = logging.getLogger(__name__)


class SparkDeltaEngine:
    name = "delta-spark"

    def __init__(self, spark: SparkSession) -> None:
        from delta.tables import DeltaTable  # imported here: the Python shim is useless without the jars

        self.spark = spark
        self.DeltaTable = DeltaTable

    def exists(self, uri: str) -> bool:
        return RsTable.is_deltatable(uri)

    def version(self, uri: str) -> int | None:
        return RsTable(uri).version() if self.exists(uri) else None

    def create(self, uri: str, schema: StructType) -> None:
        if not self.exists(uri):
            self.spark.createDataFrame([], schema).write.format("delta").mode("append").save(uri)

    def add_columns(self, uri: str, fields: list[StructField]) -> None:
        cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in fields)
        self.spark.sql(f"ALTER TABLE delta.`{uri}` ADD COLUMNS ({cols})")

    def read(self, uri: str, version: int | None = None, timestamp: datetime | str | None = None) -> DataFrame:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is not None:
            reader = reader.option("timestampAsOf", str(timestamp))
        return reader.load(uri)

    def history(self, uri: str) -> list[dict[str, Any]]:
        return [r.asDict(recursive=True) for r in self.DeltaTable.forPath(self.spark, uri).history().collect()]

    def already_committed(self, uri: str, txn: Txn) -> bool:
        return self.exists(uri) and RsTable(uri).transaction_version(txn_id(txn)) is not None

    def _write(self, uri: str, df: DataFrame, mode: str, txn: Txn | None, predicate: str | None) -> WriteResult:
        if txn is not None and self.already_committed(uri, txn):
            return WriteResult(None, 0, "txn already committed")
        before = self.version(uri)
        writer = df.write.format("delta").mode(mode)
        if txn is not None:
            writer = writer.option("txnAppId", txn_id(txn)).option("txnVersion", 1)
        if predicate is not None:
            writer = writer.option("replaceWhere", predicate)
        writer.save(uri)
        after = self.version(uri)
        return WriteResult(after if after != before else None, df.count())

    def append(self, uri: str, df: DataFrame, txn: Txn | None) -> WriteResult:
        if not self.exists(uri):
            raise TableNotFound(f"no Delta table at {uri}; create it first")
        if df.limit(1).count() == 0:
            return WriteResult(None, 0, "no rows")
        return self._write(uri, df, "append", txn, None)

    def overwrite(self, uri: str, df: DataFrame, predicate: str | None, txn: Txn | None) -> WriteResult:
        if predicate is not None:
            bad = df.where(~F.coalesce(F.expr(predicate), F.lit(False))).limit(1).count()
            if bad:
                raise PredicateViolation(f"rows written to {uri} do not satisfy overwrite predicate {predicate!r}")
        return self._write(uri, df, "overwrite", txn, predicate)

    def merge(self, uri: str, df: DataFrame, keys: list[str], when_matched: MatchedAction,
              txn: Txn | None) -> WriteResult:
        if df.groupBy(*keys).count().where("count > 1").limit(1).count():
            raise DuplicateMergeKeys(f"merge source for {uri} holds duplicate keys {keys}")
        if txn is not None and self.already_committed(uri, txn):
            return WriteResult(None, 0, "txn already committed")
        before = self.version(uri)
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        builder = self.DeltaTable.forPath(self.spark, uri).alias("t").merge(df.alias("s"), cond)
        if when_matched == "update":
            builder = builder.whenMatchedUpdateAll()
        builder = builder.whenNotMatchedInsertAll()
        if txn is not None:
            self.spark.conf.set("spark.databricks.delta.write.txnAppId", txn_id(txn))
            self.spark.conf.set("spark.databricks.delta.write.txnVersion", "1")
        try:
            builder.execute()
        finally:
            if txn is not None:
                self.spark.conf.unset("spark.databricks.delta.write.txnAppId")
                self.spark.conf.unset("spark.databricks.delta.write.txnVersion")
        after = self.version(uri)
        return WriteResult(after if after != before else None, df.count())
