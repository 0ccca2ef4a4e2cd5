"""Load an export known to be valid (the simulator's) straight into EMPTY raw tables, without checks.

Why it exists: `genuine ingest` renders every record to JSON and validates it as text (one path for JSON
Lines and Parquet, and the quarantine shows a record as it arrived). That costs ~300 microseconds of
CPU per record here (measured: 1M accounts in 5 minutes on 2 cores), so building a 100M-row benchmark
lake through it would take most of a working day. The feature benchmark needs the raw tables, not
another ingest measurement, so it may load the simulator's export with this instead.

The rows are the ones ingest writes for valid records: the same `typed_columns` conversions (UTC
timestamps from epoch ms or ISO text, HMAC of device and IP, trimmed ids) from the same field map,
only built from the Parquet columns directly instead of parsed from JSON text; a test checks the
tables equal ingest's on a simulated export. Nothing is validated, so this is never a way in for a
real export: it refuses anything but Parquet and a lake whose raw tables already hold rows.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StructType

from genuine.core import catalog
from genuine.core.config import Config
from genuine.core.errors import TrustedLoadError
from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from genuine.core.privacy import load_key
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.ingest.contract import CONTRACT
from genuine.ingest.reader import discover, files_by_entity, with_source_file
from genuine.ingest.validate import typed_columns
from genuine.jobs.common import job

__all__ = ["load_trusted", "trusted_rows", "TrustedLoadError"]
log = logging.getLogger(__name__)


def _as_text(df: DataFrame, name: str) -> Column:
    """The value as JSON text would carry it after `from_json(raw, map<string,string>)`."""
    if isinstance(df.schema[name].dataType, ArrayType | MapType | StructType):
        return F.to_json(F.col(name))
    return F.col(name).cast("string")


def trusted_rows(df: DataFrame, entity: str, key: bytes, run_id: str) -> DataFrame:
    """Contract-named Parquet columns + `source_file` -> rows of the entity's raw table."""
    names = [s.name for s in CONTRACT[entity] if s.name in df.columns]
    pairs = [c for n in names for c in (F.lit(n), _as_text(df, n))]
    with_map = df.withColumn("_m", F.create_map(*pairs) if pairs else F.create_map())
    rows = with_map.select(*typed_columns(entity, key), F.lit(run_id).alias("ingest_run_id"), "source_file")
    return rows.select(*[F.col(f.name).cast(f.dataType) for f in RAW_SCHEMAS[entity].fields])


def load_trusted(lake: Lake, export_dir: str | Path, ledger: RunLedger) -> dict[str, int]:
    """Append every entity of a Parquet export to its empty raw table; rows written per entity."""
    spark, cfg = lake.spark, lake.cfg
    files = discover(export_dir)
    not_parquet = [f.rel for f in files if f.fmt != "parquet"]
    if not_parquet:
        raise TrustedLoadError(f"a trusted load reads Parquet only; got {not_parquet[:3]}")
    by_entity = files_by_entity(files)
    for entity in by_entity:
        table = RAW_TABLE[entity]
        if lake.exists(table) and not lake.already_committed(table, ("load-trusted", ledger.run_id)) \
                and lake.read(table).limit(1).count():
            raise TrustedLoadError(f"{table} already holds rows: a trusted load only fills an empty lake")
    key = load_key(cfg)
    written: dict[str, int] = {}
    for entity, mine in by_entity.items():
        raw = with_source_file(spark.read.parquet(*[f.path for f in mine])
                               .withColumn("_uri", F.input_file_name()), mine)
        stored = catalog.table(RAW_TABLE[entity])
        table = stored.name
        result = lake.append(table, stored.with_partition_columns(trusted_rows(raw, entity, key, ledger.run_id)),
                             schema=stored.schema, txn=("load-trusted", ledger.run_id), partition_by=stored.partition_by)
        ledger.wrote(table, result)
        ledger.count(f"{entity}.written", result.rows)
        written[entity] = result.rows
        log.info("trusted load: %s -> %s: %d rows (version %s)", entity, table, result.rows, result.version)
    return written


def run_trusted(cfg: Config, export_dir: str | Path, run_id: str | None = None,
                spark: SparkSession | None = None) -> dict[str, int]:
    """The simulator's export into an empty lake without validation, recorded in the run ledger."""
    with job("load-trusted", cfg, {"export_dir": str(export_dir)}, run_id, spark) as ctx:
        return load_trusted(ctx.lake, export_dir, ctx.ledger)
