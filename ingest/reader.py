"""Find the files of an export and turn every record into one canonical JSON text line.

JSON Lines are read as text; Parquet rows are rendered to JSON, so one validation path serves both
formats and the quarantine can always show the record as it arrived.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from genuine.core.errors import ExportError
from genuine.core.schemas import ENTITY_KEYS

log = logging.getLogger(__name__)

JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet",)
IGNORED_NAMES = ("_SUCCESS",)


RECORDS = StructType([StructField("entity", StringType(), True), StructField("source_file", StringType(), True),
                      StructField("raw", StringType(), True)])


@dataclass(frozen=True)
class ExportFile:
    entity: str
    path: str        # absolute
    rel: str         # relative to the export root: the identity recorded in the tables
    fmt: str         # json | parquet | unknown


@dataclass(frozen=True)
class FileProblem:
    file: ExportFile
    reason: str      # unreadable_file | truncated_file
    detail: str


def discover(export_dir: str | Path) -> list[ExportFile]:
    root = Path(export_dir).resolve()
    if not root.is_dir():
        raise ExportError(f"export folder not found: {root}")
    files: list[ExportFile] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name.startswith(("_", ".")):
            continue   # ground truth, staging and hidden folders are not part of the contract
        if sub.name not in ENTITY_KEYS:
            raise ExportError(f"unknown entity folder {sub.name!r} in {root}; expected {sorted(ENTITY_KEYS)}")
        for path in sorted(p for p in sub.rglob("*") if p.is_file()):
            if path.name in IGNORED_NAMES or path.name.startswith((".", "_")):
                continue
            name = path.name.lower()
            fmt = "json" if name.endswith(JSON_SUFFIXES) else "parquet" if name.endswith(PARQUET_SUFFIXES) else "unknown"
            files.append(ExportFile(sub.name, str(path), str(path.relative_to(root)), fmt))
    if not files:
        raise ExportError(f"export folder {root} holds no entity files")
    return files


def _probe(item: tuple[str, str]) -> tuple[str, str | None, str]:
    """Runs on executors: read each file through once so a cut or unreadable file is named, not fatal."""
    path, fmt = item
    try:
        if fmt == "unknown":
            return path, "unreadable_file", "unsupported file type (expected .jsonl[.gz], .json[.gz] or .parquet)"
        if fmt == "parquet":
            pf = pq.ParquetFile(path)
            for i in range(pf.num_row_groups):
                pf.read_row_group(i)
            return path, None, str(pf.schema_arrow)
        opener = gzip.open if path.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
        return path, None, ""
    except (EOFError, gzip.BadGzipFile) as exc:
        return path, "truncated_file", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # any other failure to read is a named problem, never a crash of the run
        text = str(exc)
        reason = "truncated_file" if "footer" in text.lower() or "magic" in text.lower() else "unreadable_file"
        return path, reason, f"{type(exc).__name__}: {text[:300]}"


def probe(spark: SparkSession, files: list[ExportFile]) -> tuple[list[ExportFile], list[FileProblem], dict[str, str]]:
    """Split files into readable ones and problems; also return each Parquet file's schema text."""
    items = [(f.path, f.fmt) for f in files]
    results = spark.sparkContext.parallelize(items, max(1, min(len(items), 64))).map(_probe).collect()
    by_path = {f.path: f for f in files}
    good, bad, schemas = [], [], {}
    for path, reason, detail in results:
        if reason:
            bad.append(FileProblem(by_path[path], reason, detail))
        else:
            good.append(by_path[path])
            schemas[path] = detail
    return good, bad, schemas


def files_by_entity(files: list[ExportFile]) -> dict[str, list[ExportFile]]:
    """The files of each entity, entities in sorted order (so runs read and write them in the same order)."""
    return {entity: [f for f in files if f.entity == entity] for entity in sorted({f.entity for f in files})}


def read_records(spark: SparkSession, files: list[ExportFile], parquet_schemas: dict[str, str]) -> DataFrame:
    """(entity, source_file, raw) for every non-blank record of every readable file."""
    frames: list[DataFrame] = []
    for entity, mine in files_by_entity(files).items():
        json_files = [f.path for f in mine if f.fmt == "json"]
        if json_files:
            frames.append(spark.read.text(json_files).select(
                F.lit(entity).alias("entity"), F.col("value").alias("raw"), F.input_file_name().alias("_uri")))
        groups: dict[str, list[str]] = {}
        for f in mine:
            if f.fmt == "parquet":
                groups.setdefault(parquet_schemas.get(f.path, ""), []).append(f.path)
        for paths in groups.values():
            df = spark.read.parquet(*paths)
            frames.append(df.select(F.lit(entity).alias("entity"),
                                    F.to_json(F.struct(*[F.col(c) for c in df.columns])).alias("raw"),
                                    F.input_file_name().alias("_uri")))
    if not frames:
        return spark.createDataFrame([], RECORDS)
    records = frames[0]
    for other in frames[1:]:
        records = records.unionByName(other)
    records = records.where(F.trim(F.col("raw")) != "")
    return with_source_file(records, files).select("entity", "source_file", "raw")


def with_source_file(df: DataFrame, files: list[ExportFile]) -> DataFrame:
    """Replace `_uri` (input_file_name() of the scan) by `source_file`, the path relative to the export root.

    A left join: a path we fail to map keeps its URI as source_file rather than losing the record.
    """
    rel_of = df.sparkSession.createDataFrame([(_uri_key(f.path), f.rel) for f in files],
                                             "_key string, source_file string")
    joined = df.withColumn("_key", _uri_key_col(F.col("_uri"))).join(F.broadcast(rel_of), "_key", "left")
    return joined.withColumn("source_file", F.coalesce("source_file", "_uri")).drop("_key", "_uri")


def _uri_key(path: str) -> str:
    return str(Path(path).resolve())


def _uri_key_col(col):
    return F.regexp_replace(F.url_decode(col), r"^file:(//)?", "")
