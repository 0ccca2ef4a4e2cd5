"""Pure transforms that split scanned records into typed rows and quarantine rows with a reason.

Every check is a Spark expression (no Python UDFs); a record earns the first reason in
`contract.REASONS` order that applies, with a detail naming the field (and, except for personal
identifiers, the value). A record's raw text is computed only for the records that fail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from genuine.core.catalog import EVENT_DATE, EVENT_TIME, utc_day
from genuine.core.config import IngestConfig
from genuine.core.privacy import hmac_sha256
from genuine.core.schemas import ENTITY_KEYS, QUARANTINE, RAW_SCHEMAS
from genuine.ingest.contract import CONTRACT, PII_KINDS, REASONS, STRING_KINDS, FieldSpec
from genuine.ingest.ip import ip_prefix, is_ip
from genuine.ingest.reader import Scan

ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$"
EPOCH_MS = r"^-?\d{1,15}$"
# Every phash of a media list, each followed by a comma. With the text exactly 17 characters per item, a
# match holds one comma per item, so no item holds a comma and each is 16 hex characters (a null one,
# read as "", breaks the rhythm).
PHASHES = r"^([0-9a-fA-F]{16},)*$"
STRUCTURAL_DETAIL = {"invalid_utf8": "bytes that are not valid UTF-8", "malformed_json": "not valid JSON",
                     "not_an_object": "JSON value is not an object"}

Check = tuple[str, Column, Column]   # (reason, failing condition, detail)


def _v(name: str) -> Column:
    return F.col(name)


def _t(name: str) -> Column:
    """The parsed timestamp of a timestamp field (computed once, in `row_checks`)."""
    return F.col(f"_t_{name}")


def _missing(spec: FieldSpec) -> Column:
    v = _v(spec.name)
    return v.isNull() | (F.trim(v) == "") if spec.kind in STRING_KINDS else v.isNull()


def _detail(spec: FieldSpec, text: str) -> Column:
    if spec.kind in PII_KINDS:   # a personal identifier is never written in clear, not even here
        return F.lit(f"{spec.name}: {text}")
    return F.concat(F.lit(f"{spec.name}: {text}: "), F.substring(F.coalesce(_v(spec.name), F.lit("null")), 1, 80))


def _phashes_ok(media: Column) -> Column:
    """Every item of a media list has a 16-hex-character phash (null items and null phashes fail). Built
    from codegen'd string functions: a lambda (`exists`) is interpreted row by row, 3x the CPU."""
    joined = F.concat(F.array_join(media["phash"], ",", ""), F.when(F.size(media) > 0, F.lit(",")).otherwise(F.lit("")))
    return (F.length(joined) == F.size(media) * 17) & joined.rlike(PHASHES)


def parse_ts(raw: Column) -> Column:
    """ISO-8601 with an offset or epoch milliseconds -> UTC timestamp; NULL for anything else."""
    raw = F.trim(raw)
    return (F.when(raw.rlike(EPOCH_MS), F.timestamp_millis(raw.cast("long")))
            .when(raw.rlike(ISO_WITH_OFFSET), F.try_to_timestamp(F.regexp_replace(raw, " ", "T")))
            .otherwise(F.lit(None).cast("timestamp")))


def field_checks(entity: str, cfg: IngestConfig, now: datetime) -> list[Check]:
    key = set(ENTITY_KEYS[entity])
    min_ts = datetime.fromisoformat(cfg.min_timestamp.replace("Z", "+00:00")).replace(tzinfo=None)
    max_ts = now.replace(tzinfo=None) + timedelta(hours=cfg.max_future_skew_hours)
    checks: list[Check] = []
    for s in CONTRACT[entity]:
        v = _v(s.name)
        present = ~_missing(s)
        if s.required:
            reason = "missing_key" if s.name in key else "missing_field"
            checks.append((reason, _missing(s), F.lit(f"{s.name}: missing or empty")))
        if s.kind in ("id", "account_ref", "post_ref", "device"):
            checks.append(("oversize_id", present & (F.length(v) > cfg.max_id_chars),
                           F.lit(f"{s.name}: longer than {cfg.max_id_chars} characters")))
        if s.kind in ("text", "category"):
            checks.append(("oversize_field", present & (F.length(v) > cfg.max_text_chars),
                           F.concat(F.lit(f"{s.name}: "), F.length(v).cast("string"),
                                    F.lit(f" characters > {cfg.max_text_chars}"))))
        if s.kind == "media":
            checks.append(("invalid_phash", present & ~_phashes_ok(v),
                F.concat(F.lit(f"{s.name}: phash must be 16 hex characters: "), F.substring(F.to_json(v), 1, 80))))
        if s.kind == "timestamp":
            ts = _t(s.name)
            checks.append(("unparseable_timestamp", present & ts.isNull(),
                           _detail(s, "not ISO-8601 with offset nor epoch ms")))
            checks.append(("impossible_timestamp", present & ts.isNotNull() & ((ts < F.lit(min_ts)) | (ts > F.lit(max_ts))),
                           _detail(s, f"outside [{cfg.min_timestamp}, now + {cfg.max_future_skew_hours}h]")))
        if s.kind == "enum":
            allowed = getattr(cfg, s.enum or "")
            checks.append(("unknown_enum", present & ~v.isin(*allowed), _detail(s, f"not one of {allowed}")))
        if s.kind == "ip":
            checks.append(("invalid_ip", present & ~is_ip(v), _detail(s, "not an IP address")))
    if entity == "interactions":
        checks.append(("missing_target_post", _v("kind").isin(*cfg.post_target_kinds)
                       & _missing(CONTRACT_FIELD["interactions"]["target_post_id"]),
                       F.concat(F.lit("target_post_id: required for kind "), _v("kind"))))
    return checks


CONTRACT_FIELD = {entity: {s.name: s for s in specs} for entity, specs in CONTRACT.items()}


def first_reason(checks: list[Check]) -> tuple[list[Column], Column, Column]:
    """The first failing check in REASONS order -> (one boolean column per check, reason, detail); reason
    and detail are null when the record is valid.

    The booleans are columns of their own (`_c0`, `_c1`, ...): the reason and the detail read them
    instead of evaluating every condition twice. The reader's findings come first: a structural reason
    (invalid_utf8, malformed_json, not_an_object), then `wrong_type` (a field holding another type than
    declared)."""
    order = {r: i for i, r in enumerate(REASONS)}
    ordered = sorted(enumerate(checks), key=lambda ic: (order[ic[1][0]], ic[0]))
    flags = [F.coalesce(cond, F.lit(False)).alias(f"_c{i}") for i, (_, cond, _) in enumerate(checks)]
    reason: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for i, (name, _, text) in reversed(ordered):
        reason = F.when(F.col(f"_c{i}"), F.lit(name)).otherwise(reason)
        detail = F.when(F.col(f"_c{i}"), text).otherwise(detail)
    structural_detail = F.create_map(*[F.lit(x) for kv in STRUCTURAL_DETAIL.items() for x in kv])
    reason = (F.when(F.col("_structural").isNotNull(), F.col("_structural"))
              .when(F.col("_wrong").isNotNull(), F.lit("wrong_type")).otherwise(reason))
    detail = (F.when(F.col("_structural").isNotNull(), structural_detail[F.col("_structural")])
              .when(F.col("_wrong").isNotNull(), F.col("_wrong_detail")).otherwise(detail))
    return flags, reason, detail


def typed_columns(entity: str, key: bytes, cfg: IngestConfig) -> list[Column]:
    """Columns of the raw table for one entity, from the canonical input columns."""
    out: list[Column] = []
    for s in CONTRACT[entity]:
        v = _v(s.name)
        if s.kind == "timestamp":
            col = _t(s.name)
        elif s.kind == "media":   # phashes are stored lower case; the lambda runs only where one is not
            col = F.when(F.array_join(v["phash"], ",", "").rlike("[A-F]"),
                         F.transform(v, lambda m: F.struct(F.lower(m["phash"]).alias("phash"),
                                                           m["aigc_label"].alias("aigc_label")))).otherwise(v)
        elif s.kind in PII_KINDS:
            col = hmac_sha256(F.when(~_missing(s), F.trim(v)), key)
        elif s.kind in ("id", "account_ref", "post_ref"):
            col = F.when(~_missing(s), F.trim(v))
        else:
            col = v
        out.append(col.alias(s.target or s.name))
        if s.prefix_target:   # the prefix never lands in clear either
            out.append(hmac_sha256(F.when(~_missing(s), ip_prefix(v)), key).alias(s.prefix_target))
        if s.category_target:
            categories = F.create_map(*[F.lit(x) for kv in cfg.report_reason_map().items() for x in kv])
            out.append(F.coalesce(categories[F.lower(F.trim(v))], F.lit(cfg.report_reason_fallback))
                       .alias(s.category_target))
    return out


def row_checks(scan: Scan, entity: str, cfg: IngestConfig, now: datetime, key: bytes) -> DataFrame:
    """A scanned source -> typed columns + `_reason`, `_detail` from the record-level checks, and `_raw`
    (PII hashed) only where a check failed."""
    times = [F.when(~_missing(s), parse_ts(_v(s.name))).alias(f"_t_{s.name}")
             for s in CONTRACT[entity] if s.kind == "timestamp"]
    # Parsed timestamps as columns of their own: used by several checks and the output, computed once.
    df = scan.frame.select("*", *times)
    flags, reason, detail = first_reason(field_checks(entity, cfg, now))
    df = df.select("*", *flags)
    df = df.select("*", reason.alias("_reason"), detail.alias("_detail")).drop(*[f"_c{i}" for i in range(len(flags))])
    return df.select(F.lit(entity).alias("entity"), "source_file", "record_no", "_rid",
                     *typed_columns(entity, key, cfg), "_reason", "_detail",
                     F.when(F.col("_reason").isNotNull(), scan.raw).alias("_raw"))


def event_dates(df: DataFrame, entity: str) -> list[date]:
    """The distinct event dates (UTC days, as the raw table is partitioned) of a batch's rows."""
    col = F.col(EVENT_TIME[entity])
    rows = df.where(col.isNotNull()).select(utc_day(col).alias("d")).distinct().collect()
    return sorted(r["d"] for r in rows)


def earlier_rows(existing: DataFrame, entity: str, dates: list[date]) -> DataFrame | None:
    """The rows of a raw table a batch's duplicates can be among: for an event table (partitioned by
    `event_date`) those of the batch's dates only, read from their partitions alone; None without dates.
    Accounts and labels are small and unpartitioned: all of them."""
    if entity not in EVENT_TIME:
        return existing
    if not dates:
        return None
    return existing.where(F.col(EVENT_DATE).isin(*dates))


def content_hash(entity: str) -> Column:
    """Hash of a record's content: the contract's fields as stored (derived columns such as the IP prefix
    or the report category are left out, so a table written before they existed compares equal)."""
    names = [s.target or s.name for s in CONTRACT[entity]]
    return F.xxhash64(*[F.col(n) for n in names])


def flag(df: DataFrame, reason: str, cond: Column, detail: Column) -> DataFrame:
    """Set a reason on still-valid rows where `cond` holds (earlier reasons win)."""
    hit = F.col("_reason").isNull() & F.coalesce(cond, F.lit(False))
    return (df.withColumn("_detail", F.when(hit, detail).otherwise(F.col("_detail")))
              .withColumn("_reason", F.when(hit, F.lit(reason)).otherwise(F.col("_reason"))))


def check_references(df: DataFrame, entity: str, accounts: DataFrame, posts: DataFrame) -> DataFrame:
    """orphan_account / orphan_post / target_mismatch / before_target against known ids.

    `accounts` (account_id, created_at) and `posts` (post_id, account_id, created_at) hold the valid
    rows of this export plus what the raw tables already have.
    """
    refs = [s.name for s in CONTRACT[entity] if s.kind == "account_ref"]
    for i, ref in enumerate(refs):
        known = accounts.select(F.col("account_id").alias(f"_a{i}"), F.col("created_at").alias(f"_a{i}_at"))
        df = df.join(known, df[ref] == known[f"_a{i}"], "left")
        df = flag(df, "orphan_account", F.col(ref).isNotNull() & F.col(f"_a{i}").isNull(),
                  F.concat(F.lit(f"{ref}: unknown account "), F.col(ref)))
    if entity == "posts":
        df = flag(df, "before_target", F.col("created_at") < F.col("_a0_at"),
                  F.lit("created_at: before the author's account was created"))
    if entity == "interactions":
        known_posts = posts.select(F.col("post_id").alias("_p"), F.col("account_id").alias("_p_author"),
                                   F.col("created_at").alias("_p_at"))
        df = df.join(known_posts, df["target_post_id"] == known_posts["_p"], "left")
        df = flag(df, "orphan_post", F.col("target_post_id").isNotNull() & F.col("_p").isNull(),
                  F.concat(F.lit("target_post_id: unknown post "), F.col("target_post_id")))
        # A reply (the platform's convention): the post's author comments on its own post and targets the
        # account it answers. Fast replies are evidence against automated personas: never quarantine them.
        reply = (F.col("kind") == F.lit("comment")) & (F.col("actor_id") == F.col("_p_author"))
        df = flag(df, "target_mismatch", F.col("_p").isNotNull() & (F.col("_p_author") != F.col("target_account_id"))
                  & ~reply, F.concat(F.lit("target_account_id: post author is "), F.col("_p_author")))
        df = flag(df, "before_target", F.col("_p").isNotNull() & (F.col("created_at") < F.col("_p_at")),
                  F.lit("created_at: before the target post was created"))
    return df.drop(*[c for c in df.columns if c.startswith("_a") or c.startswith("_p")])


def repeated_keys(df: DataFrame, entity: str) -> DataFrame:
    """The keys that occur more than once in a batch: a hash aggregate over the key columns alone."""
    keys = ENTITY_KEYS[entity]
    return df.groupBy(*keys).agg(F.count(F.lit(1)).alias("_n")).where(F.col("_n") > 1).select(*keys)


def check_duplicates(df: DataFrame, entity: str, earlier: DataFrame | None,
                     repeated: DataFrame | None) -> DataFrame:
    """`df` carries each record's `_hash` (`content_hash`). Within the export (`repeated`: its
    `repeated_keys`, None when there are none): same key + other content -> duplicate_key_conflict (all
    copies); exact copies beyond the first -> duplicate_record. Against `earlier` (the raw table's rows on
    the batch's event dates, `earlier_rows`; None when the table holds none): other content ->
    conflicts_with_existing; same content -> valid but `_new` = false (already ingested).

    Only the rows of repeated keys are windowed (one shuffle, over the key alone); the others pass."""
    keys = ENTITY_KEYS[entity]
    if repeated is not None:
        df = df.join(repeated, keys, "left_anti").unionByName(_in_export_duplicates(
            df.join(repeated, keys, "left_semi"), keys))
    if earlier is None:
        df = df.withColumn("_old_hash", F.lit(None).cast("long"))
    else:
        old = earlier.select(*keys, content_hash(entity).alias("_old_hash"))
        df = df.join(old, on=keys, how="left")
    df = flag(df, "conflicts_with_existing", F.col("_old_hash").isNotNull() & (F.col("_old_hash") != F.col("_hash")),
              F.lit("key already ingested with different content"))
    return df.withColumn("_new", F.col("_reason").isNull() & F.col("_old_hash").isNull()).drop("_old_hash")


def _in_export_duplicates(df: DataFrame, keys: list[str]) -> DataFrame:
    """duplicate_key_conflict / duplicate_record among rows that share their key."""
    valid = F.col("_reason").isNull()
    by_key = Window.partitionBy(*keys)
    variants = F.size(F.collect_set(F.when(valid, F.col("_hash"))).over(by_key))
    df = flag(df, "duplicate_key_conflict", valid & (variants > 1),
              F.concat(F.lit(f"{'+'.join(keys)}: same key, "), variants.cast("string"), F.lit(" different contents")))
    # The still-valid rows of a key now share one content: all but the first are exact copies.
    first = F.row_number().over(by_key.orderBy(F.col("_reason").isNotNull(), "source_file", "_rid"))
    return flag(df, "duplicate_record", F.col("_reason").isNull() & (first > 1),
                F.lit("exact copy of an earlier record in this export"))


def reference_rows(checked: DataFrame, entity: str) -> DataFrame:
    """What `check_references` reads of row-checked records: row id, references, kind, creation time and
    reason. The join with the known posts shuffles these few columns, not the whole records."""
    refs = [s.name for s in CONTRACT[entity] if s.kind in ("account_ref", "post_ref")]
    extra = [c for c in ("kind", "created_at") if c in checked.columns]
    return checked.select("_row", *refs, *extra, "_reason", "_detail", F.col("_reason").alias("_reason0"))


def failed_late() -> Column:
    """A record that passed the row-level checks (`_reason0`) and failed a later one."""
    return F.col("_reason").isNotNull() & F.col("_reason0").isNull()


def late_failures(checked_refs: DataFrame) -> DataFrame:
    """(_row, _reason, _detail) of the records a later check failed (few in a sound export)."""
    return checked_refs.where(failed_late()).select("_row", "_reason", "_detail")


def duplicate_rows(checked: DataFrame, entity: str, failed: DataFrame | None) -> DataFrame:
    """What `check_duplicates` reads of row-checked records (row id, key, file, record id, `_hash`,
    reason), with the reference checks' failures (`late_failures`) applied; the row-level reason is kept
    as `_reason0`."""
    df = checked.select("_row", *ENTITY_KEYS[entity], "source_file", "_rid", "_hash", "_reason", "_detail",
                        F.col("_reason").alias("_reason0"))
    if failed is None:
        return df
    late = failed.select("_row", F.col("_reason").alias("_late_reason"), F.col("_detail").alias("_late_detail"))
    return (df.join(late, "_row", "left")
            .withColumn("_reason", F.coalesce("_reason", "_late_reason"))
            .withColumn("_detail", F.coalesce("_detail", "_late_detail")).drop("_late_reason", "_late_detail"))


def changed_rows(verdicts: DataFrame) -> DataFrame:
    """The `verdicts` rows (the `duplicate_rows` after `check_duplicates`) whose reason or `_new` flag the
    later checks set: a late failure, or a valid row already ingested. None in a clean daily export."""
    return (verdicts.where(failed_late() | (F.col("_reason").isNull() & ~F.col("_new")))
            .select("_row", F.col("_reason").alias("_late_reason"), F.col("_detail").alias("_late_detail"),
                    F.col("_new").alias("_late_new")))


def with_verdicts(checked: DataFrame, changed: DataFrame | None) -> DataFrame:
    """The row-checked records with the reason and `_new` flag of the later checks: the row-level ones,
    replaced where `changed` (`changed_rows`, None when empty) has the row."""
    if changed is None:
        return checked.withColumn("_new", F.col("_reason").isNull())
    kept = [c for c in checked.columns if c not in ("_reason", "_detail")]
    return (checked.join(changed, "_row", "left")
            .select(*kept, F.coalesce("_late_reason", "_reason").alias("_reason"),
                    F.coalesce("_late_detail", "_detail").alias("_detail"),
                    F.coalesce("_late_new", F.col("_reason").isNull()).alias("_new")))


def quarantine_rows(df: DataFrame, run_id: str, now: datetime) -> DataFrame:
    """Quarantine rows with a deterministic id, so quarantining the same record again adds nothing."""
    bad = df.where(F.col("_reason").isNotNull())
    occurrence = F.row_number().over(Window.partitionBy("entity", "source_file", "_raw", "_reason").orderBy("_raw"))
    qid = F.sha2(F.concat_ws("\u0001", "entity", "source_file", "_raw", "_reason", occurrence.cast("string")), 256)
    # Invalid bytes are replaced (U+FFFD) so every reader of the quarantine, Arrow included, can open it.
    return bad.select(qid.alias("quarantine_id"), "entity", "source_file", F.col("record_no").cast("long"),
                      F.expr("make_valid_utf8(_raw)").alias("raw"), F.col("_reason").alias("reason"),
                      F.col("_detail").alias("detail"),
                      F.lit(run_id).alias("run_id"), F.lit(now.replace(tzinfo=None)).cast("timestamp").alias("quarantined_at"))


def accepted_rows(df: DataFrame, entity: str, run_id: str) -> DataFrame:
    schema: StructType = RAW_SCHEMAS[entity]
    ok = df.where(F.col("_reason").isNull() & F.col("_new")).withColumn("ingest_run_id", F.lit(run_id))
    return ok.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])


def file_problem_rows(spark, problems, run_id: str, now: datetime) -> DataFrame:
    rows = [(p.file.entity, p.file.rel, None, None, p.reason, p.detail) for p in problems]
    df = spark.createDataFrame(rows, "entity string, source_file string, record_no long, _raw string, _reason string, "
                                     "_detail string")
    return quarantine_rows(df, run_id, now).select(*[f.name for f in QUARANTINE.fields])
