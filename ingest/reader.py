"""Find the files of an export and read them with Spark's native readers into the contract's types.

JSON Lines are read as text and parsed by `from_json` with the contract's declared schema (one typed
parse per line; the line itself is the record's raw text, kept only for records that fail). Parquet is
read natively, each column's own type checked against the declared one at plan time. Both give one
frame per source in the *canonical input types* (ingest/contract.py): string kinds as strings,
booleans, a list of strings, a list of media structs, plus

- `_structural`: invalid_utf8 / malformed_json / not_an_object, or null;
- `_wrong`, `_wrong_detail`: the first field holding another type than declared, or null;
- `_rid`: the record's id inside its file (Parquet: its row index; JSON Lines: xxhash64 of the line), so
  the raw text of a record that fails a later check can be read again from its file (`raw_text`);
- `record_no` (Parquet row index, null for JSON Lines), `source_file` (relative to the export root).

A value's JSON type is checked exactly only on the few lines that could hold a wrong one: a line whose
typed parse failed (a string `"true"` for a boolean, one object for a list) or whose string fields look
like a coerced object, list or boolean. There, each field is parsed again as a VARIANT and its type read
with `schema_of_variant`. Everything is a built-in expression (no Python UDF).
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegralType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
    VariantType,
)

from genuine.core.errors import ExportError
from genuine.core.privacy import hmac_sha256
from genuine.core.schemas import ENTITY_KEYS
from genuine.ingest.contract import CONTRACT, PII_KINDS, STRING_KINDS, FieldSpec, pii_fields

log = logging.getLogger(__name__)

JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet",)
IGNORED_NAMES = ("_SUCCESS",)
BOM = "\ufeff"
CORRUPT = "_corrupt"

MEDIA_ITEM = StructType([StructField("phash", StringType(), True), StructField("aigc_label", BooleanType(), True)])
# What each kind is declared as, and how a wrong-type detail names it.
DECLARED: dict[str, tuple[DataType, str]] = {
    **{k: (StringType(), "a string") for k in STRING_KINDS},
    "bool": (BooleanType(), "true or false"),
    "string_array": (ArrayType(StringType(), True), "a list of strings"),
    "media": (ArrayType(MEDIA_ITEM, True), "a list of {phash, aigc_label} objects"),
}
# A string field whose typed value looks like one of these may hold a coerced object, list or boolean.
_COERCED = r"^[\[{]"
_ODD_ELEMENT = r"^([\[{]|-?[0-9]|true$|false$)"
# One JSON value after `"name":` in a line that may be cut or malformed: a string, a flat object or
# list, or a bare token.
_JSON_VALUE = r'("(?:[^"\\]|\\.)*"|\{[^{}]*\}|\[[^\[\]]*\]|[^\s,}\]]+)'


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


@dataclass(frozen=True)
class Source:
    """Files of one entity read the same way: all JSON Lines, or Parquet files of one schema."""

    entity: str
    fmt: str                          # json | parquet
    files: tuple[ExportFile, ...]
    schema: StructType | None = None  # Parquet: the files' own column types


@dataclass(frozen=True)
class Scan:
    """One source read into canonical input types; `raw` is the record's raw text (PII hashed)."""

    frame: DataFrame
    raw: Column


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


def sources(spark: SparkSession, files: list[ExportFile], parquet_schemas: dict[str, str]) -> dict[str, list[Source]]:
    """Readable files grouped per entity: one JSON Lines source, one Parquet source per file schema."""
    out: dict[str, list[Source]] = {}
    for entity, mine in files_by_entity(files).items():
        found: list[Source] = []
        json_files = tuple(f for f in mine if f.fmt == "json")
        if json_files:
            found.append(Source(entity, "json", json_files))
        groups: dict[str, list[ExportFile]] = {}
        for f in mine:
            if f.fmt == "parquet":
                groups.setdefault(parquet_schemas.get(f.path, ""), []).append(f)
        for group in groups.values():
            # One footer read on the driver: every file of the group has this schema (probe).
            found.append(Source(entity, "parquet", tuple(group), spark.read.parquet(group[0].path).schema))
        out[entity] = found
    return out


def scan(spark: SparkSession, source: Source, key: bytes, only: list[str] | None = None) -> Scan:
    """Read a source (or only its files whose relative path is in `only`) into canonical input types."""
    files = [f for f in source.files if only is None or f.rel in only]
    if source.fmt == "json":
        return _scan_json(spark, source.entity, files, key)
    return _scan_parquet(spark, source, files, key)


def raw_text(spark: SparkSession, source: Source, key: bytes, wanted: DataFrame) -> DataFrame:
    """(source_file, _rid, raw) of the `wanted` (source_file, _rid) records: the raw text of records that
    failed a check after the narrow stage (duplicates, references), read again only from their files
    and rendered only for them."""
    rel = sorted(r["source_file"] for r in wanted.select("source_file").distinct().collect())
    s = scan(spark, source, key, only=[f.rel for f in source.files if f.rel in rel])
    mine = s.frame.join(F.broadcast(wanted), ["source_file", "_rid"], "left_semi")
    return mine.select("source_file", "_rid", s.raw.alias("_raw"))


def empty_scan(spark: SparkSession, entity: str) -> Scan:
    """A scan of no records (an entity without files in the export), with the columns of any other."""
    schema = StructType([StructField("source_file", StringType(), True), StructField("record_no", LongType(), True),
                         StructField("_rid", LongType(), True),
                         *[StructField(s.name, DECLARED[s.kind][0], True) for s in CONTRACT[entity]],
                         *[StructField(c, StringType(), True) for c in ("_structural", "_wrong", "_wrong_detail")]])
    return Scan(spark.createDataFrame([], schema), F.lit(None).cast("string"))


# --- JSON Lines --------------------------------------------------------------------------------------

def json_schema(entity: str) -> StructType:
    """The declared schema of an entity as `from_json` reads it, plus the corrupt-record column."""
    fields = [StructField(s.name, DECLARED[s.kind][0], True) for s in CONTRACT[entity]]
    return StructType([*fields, StructField(CORRUPT, StringType(), True)])


def _head(v: Column) -> Column:
    """The JSON type of a VARIANT value: OBJECT, ARRAY, STRING, BOOLEAN, BIGINT, DECIMAL, DOUBLE, VOID."""
    return F.regexp_extract(F.schema_of_variant(v), r"^[A-Z]+", 0)


def _type_ok(spec: FieldSpec, v: Column, head: Column) -> Column:
    """Does the VARIANT value of a field (JSON type `head`) have the declared type? Absent and null are."""
    if spec.kind in STRING_KINDS:
        ok = head.isin("STRING", "BIGINT", "DECIMAL", "DOUBLE", "VOID")
    elif spec.kind == "bool":
        ok = head.isin("BOOLEAN", "VOID")
    elif spec.kind == "string_array":
        items = F.try_variant_get(v, "$", "array<variant>")
        ok = (head == "VOID") | ((head == "ARRAY") & F.forall(items, lambda e: F.coalesce(_head(e) == "STRING",
                                                                                        F.lit(False))))
    else:  # media
        items = F.try_variant_get(v, "$", "array<variant>")

        def item_ok(e: Column) -> Column:
            phash = _head(F.try_variant_get(e, "$.phash", "variant"))
            label = _head(F.try_variant_get(e, "$.aigc_label", "variant"))
            return (F.coalesce(_head(e) == "OBJECT", F.lit(False)) & F.coalesce(phash.isin("STRING", "VOID"), F.lit(True))
                    & F.coalesce(label.isin("BOOLEAN", "VOID"), F.lit(True)))

        ok = (head == "VOID") | ((head == "ARRAY") & F.forall(items, item_ok))
    return v.isNull() | F.coalesce(ok, F.lit(False))


def _wrong_types(df: DataFrame, entity: str, clean: Column) -> DataFrame:
    """Add `_wrong`, `_wrong_detail`: the first field whose JSON type is not the declared one, on suspect
    lines only (`_suspect`). Each step is a projection of its own, so no large expression is repeated."""
    specs = CONTRACT[entity]
    variants = StructType([StructField(s.name, VariantType(), True) for s in specs])
    df = df.withColumn("_vs", F.when(F.col("_suspect"), F.from_json(clean, variants)))
    df = df.select("*", *[_head(F.col("_vs")[s.name]).alias(f"_h_{s.name}") for s in specs])
    df = df.select("*", *[(~_type_ok(s, F.col("_vs")[s.name], F.col(f"_h_{s.name}"))).alias(f"_bad_{s.name}")
                          for s in specs])
    field: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for s in reversed(specs):
        bad = F.coalesce(F.col(f"_bad_{s.name}"), F.lit(False))
        text = F.concat(F.lit(f"{s.name}: expected {DECLARED[s.kind][1]}, got "), F.lower(F.col(f"_h_{s.name}")))
        field = F.when(bad, F.lit(s.name)).otherwise(field)
        detail = F.when(bad, text).otherwise(detail)
    helpers = ["_vs", *[f"_h_{s.name}" for s in specs], *[f"_bad_{s.name}" for s in specs]]
    return df.select("*", field.alias("_wrong"), detail.alias("_wrong_detail")).drop(*helpers)


def _suspect(entity: str, p: Column) -> Column:
    """Lines whose typed parse may hide a wrong type: a failed parse, or a coerced-looking value."""
    cond = p[CORRUPT].isNotNull()
    for s in CONTRACT[entity]:
        v = p[s.name]
        if s.kind in STRING_KINDS:
            cond = cond | v.rlike(_COERCED) | v.isin("true", "false")
        elif s.kind == "string_array":
            cond = cond | F.exists(v, lambda e: e.isNull() | e.rlike(_ODD_ELEMENT))
    return F.coalesce(cond, F.lit(False))


def scrub_json(text: Column, parsed: dict[str, Column], key: bytes) -> Column:
    """The raw line with the value of every personal-identifier field replaced by its HMAC (the hash the
    accepted row holds: of the trimmed value). Works on malformed and cut lines too: the value is taken
    from the typed parse where there is one, else from the text after `"name":`."""
    out = text
    for name in pii_fields():
        pattern = rf'("{name}"\s*:\s*){_JSON_VALUE}'
        token = F.regexp_extract(text, pattern, 2)
        unquoted = F.regexp_replace(token, r'^"|"$', "")
        value = F.coalesce(parsed[name], unquoted) if name in parsed else unquoted
        replacement = F.concat(F.lit('$1"'), hmac_sha256(F.trim(value), key), F.lit('"'))
        out = F.when(token != "", F.regexp_replace(out, pattern, replacement)).otherwise(out)
    return out


def _scan_json(spark: SparkSession, entity: str, files: list[ExportFile], key: bytes) -> Scan:
    text = spark.read.text([f.path for f in files])
    value = F.col("_src_value")
    clean = F.when(value.startswith(BOM), F.substring(value, 2, 1 << 30)).otherwise(value)
    base = (text.select(F.col("value").alias("_src_value"), F.col("_metadata.file_path").alias("_uri"))
            .where(~F.col("_src_value").rlike(r"^\s*$")))
    typed = base.withColumn("_p", F.from_json(clean, json_schema(entity), {"columnNameOfCorruptRecord": CORRUPT}))
    p = F.col("_p")
    parsed_json = F.try_parse_json(clean)
    corrupt = p[CORRUPT].isNotNull()
    structural = (F.when(~F.expr("is_valid_utf8(_src_value)"), F.lit("invalid_utf8"))
                  .when(corrupt & parsed_json.isNull(), F.lit("malformed_json"))
                  .when(corrupt & ~F.coalesce(_head(parsed_json) == "OBJECT", F.lit(False)), F.lit("not_an_object")))
    frame = typed.select(
        "_src_value", _source_file(F.col("_uri"), files).alias("source_file"),
        F.lit(None).cast("long").alias("record_no"), F.xxhash64("_src_value").alias("_rid"),
        *[p[s.name].alias(s.name) for s in CONTRACT[entity]],
        structural.alias("_structural"), _suspect(entity, p).alias("_suspect"))
    frame = _wrong_types(frame, entity, clean).drop("_suspect")
    parsed = {s.name: F.col(s.name) for s in CONTRACT[entity] if s.kind in PII_KINDS}
    return Scan(frame, scrub_json(value, parsed, key))


# --- Parquet -----------------------------------------------------------------------------------------

def _type_name(dtype: DataType) -> str:
    return dtype.simpleString()


def _canonical(spec: FieldSpec, dtype: DataType | None, col: Column) -> tuple[Column, bool]:
    """A Parquet column in the declared type -> (canonical value, whether the column type is accepted)."""
    if dtype is None:
        return F.lit(None).cast(DECLARED[spec.kind][0]), True
    if spec.kind in STRING_KINDS:
        if isinstance(dtype, StringType):
            return col, True
        if isinstance(dtype, IntegralType | DecimalType | DoubleType | FloatType):
            return col.cast("string"), True
        if spec.kind == "timestamp" and isinstance(dtype, TimestampType):   # an instant: UTC text
            return F.date_format(col, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"), True
    elif spec.kind == "bool" and isinstance(dtype, BooleanType):
        return col, True
    elif spec.kind == "string_array" and isinstance(dtype, ArrayType) and isinstance(dtype.elementType, StringType):
        return col, True
    elif spec.kind == "media" and isinstance(dtype, ArrayType) and isinstance(dtype.elementType, StructType):
        item = dtype.elementType
        if [(f.name, f.dataType) for f in item.fields] == [(f.name, f.dataType) for f in MEDIA_ITEM.fields]:
            return col, True   # already the declared item: no per-row lambda
        phash = item["phash"].dataType if "phash" in item.names else StringType()
        label = item["aigc_label"].dataType if "aigc_label" in item.names else BooleanType()
        if isinstance(phash, StringType) and isinstance(label, BooleanType):
            return F.transform(col, lambda m: F.struct(
                (m["phash"] if "phash" in item.names else F.lit(None).cast("string")).alias("phash"),
                (m["aigc_label"] if "aigc_label" in item.names else F.lit(None).cast("boolean")).alias("aigc_label"))
            ), True
    return F.lit(None).cast(DECLARED[spec.kind][0]), False


def _scan_parquet(spark: SparkSession, source: Source, files: list[ExportFile], key: bytes) -> Scan:
    assert source.schema is not None
    schema = source.schema
    df = spark.read.schema(schema).parquet(*[f.path for f in files])
    src = {c: f"_src_{c}" for c in schema.names}
    base = df.select(*[F.col(f"`{c}`").alias(src[c]) for c in schema.names],
                     F.col("_metadata.file_path").alias("_uri"), F.col("_metadata.row_index").alias("_rid"))
    cols: list[Column] = []
    wrong: Column = F.lit(None).cast("string")
    wrong_detail: Column = F.lit(None).cast("string")
    for spec in reversed(CONTRACT[source.entity]):
        dtype = schema[spec.name].dataType if spec.name in schema.names else None
        value, accepted = _canonical(spec, dtype, F.col(src.get(spec.name, "_")) if dtype else F.lit(None))
        cols.insert(0, value.alias(spec.name))
        if not accepted:
            bad = F.col(src[spec.name]).isNotNull()
            wrong = F.when(bad, F.lit(spec.name)).otherwise(wrong)
            wrong_detail = F.when(bad, F.lit(f"{spec.name}: expected {DECLARED[spec.kind][1]}, got "
                                              f"{_type_name(dtype)} (Parquet column type)")).otherwise(wrong_detail)
    frame = base.select(*[F.col(c) for c in src.values()], _source_file(F.col("_uri"), files).alias("source_file"),
                        F.col("_rid").alias("record_no"), "_rid", *cols,
                        F.lit(None).cast("string").alias("_structural"), wrong.alias("_wrong"),
                        wrong_detail.alias("_wrong_detail"))
    pii = set(pii_fields())

    def shown(c: str) -> Column:
        col = F.col(src[c])
        return hmac_sha256(F.trim(col.cast("string")), key).alias(c) if c in pii else col.alias(c)

    return Scan(frame, F.to_json(F.struct(*[shown(c) for c in schema.names])))


# --- where a record came from ------------------------------------------------------------------------

def _source_file(uri: Column, files: list[ExportFile]) -> Column:
    """`_metadata.file_path` -> the path relative to the export root. The URI Spark gives is looked up as
    is; one spelt otherwise is decoded and looked up by its absolute path; one not found at all keeps
    its URI rather than losing the record."""
    if not files:
        return uri
    by_uri = F.create_map(*[F.lit(x) for f in files for x in (_spark_uri(f.path), f.rel)])
    by_path = F.create_map(*[F.lit(x) for f in files for x in (str(Path(f.path).resolve()), f.rel)])
    decoded = F.regexp_replace(F.url_decode(uri), r"^file:(//)?", "")
    return F.coalesce(by_uri[uri], by_path[decoded], uri)


def _spark_uri(path: str) -> str:
    """How Spark spells a local file in `_metadata.file_path` ("file:/a%20b/c.jsonl")."""
    return "file:" + Path(path).resolve().as_uri()[len("file://"):]
