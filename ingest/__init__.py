"""`genuine ingest DIR`: a platform export -> raw Delta tables, every bad record quarantined with a reason.

Counts are exact by construction: read = accepted + quarantined per entity, and accepted = new +
already present. New rows are those whose key is not in the raw table on the batch's event dates; they
are appended with the run's application transaction, and quarantine rows carry deterministic ids, so
ingesting the same export twice (or retrying a run) changes no table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from genuine.core import catalog
from genuine.core.catalog import EVENT_TIME
from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from genuine.core.privacy import load_key
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.ingest.reader import Source, discover, empty_scan, probe, raw_text, scan, sources
from genuine.ingest.validate import (
    accepted_rows,
    changed_rows,
    check_duplicates,
    check_references,
    content_hash,
    duplicate_rows,
    earlier_rows,
    event_dates,
    failed_late,
    file_problem_rows,
    late_failures,
    quarantine_rows,
    reference_rows,
    repeated_keys,
    row_checks,
    with_verdicts,
)
from genuine.lib.checkpoint import materialize

__all__ = ["ingest", "IngestReport"]
log = logging.getLogger(__name__)

ORDER = ("accounts", "posts", "interactions", "sessions", "reports", "labels")


@dataclass
class EntityCounts:
    read: int = 0
    accepted: int = 0
    new: int = 0
    quarantined: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.quarantined


@dataclass
class IngestReport:
    run_id: str
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    files_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int | None] = field(default_factory=dict)


def ingest(lake: Lake, export_dir: str | Path, ledger: RunLedger, now: datetime | None = None) -> IngestReport:
    spark, cfg = lake.spark, lake.cfg
    now = now or datetime.now(UTC)
    key = load_key(cfg)
    files = discover(export_dir)
    good, problems, schemas = probe(spark, files)
    for p in problems:
        log.warning("file %s quarantined: %s (%s)", p.file.rel, p.reason, p.detail)
    by_entity = sources(spark, good, schemas)
    report = IngestReport(ledger.run_id, files_quarantined=len(problems))
    quarantine: list[DataFrame] = [file_problem_rows(spark, problems, ledger.run_id, now)] if problems else []

    known_accounts = known_posts = None
    for entity in ORDER:
        table = RAW_TABLE[entity]
        existing = lake.read_or_empty(table, RAW_SCHEMAS[entity])
        ledger.read(table)
        mine = by_entity.get(entity, [])
        scans = [scan(spark, src, key) for src in mine] or [empty_scan(spark, entity)]
        parts = [row_checks(s, entity, cfg.ingest, now, key) for s in scans]
        rows = parts[0]
        for other in parts[1:]:
            rows = rows.unionByName(other)
        # Row-checked records, computed once: the later checks read only their narrow columns, and the
        # write and the quarantine read them back. Materialized, not cached: each entity's plan holds the
        # valid accounts and posts before it, and an analyser that deduplicates relations walks such nested
        # self-joins in exponential time (a broken export of 100 records spent > 20 min in
        # DeduplicateRelations, or ran out of heap).
        rows = materialize(rows.select("*", content_hash(entity).alias("_hash"),
                                       F.monotonically_increasing_id().alias("_row")), local_checkpoints=True)
        # Earlier rows only on the batch's event dates (skipped while the table is empty): the daily cost
        # does not grow with the history.
        earlier = None
        if _has_rows(existing):
            dates = event_dates(rows.where(F.col("_reason").isNull()), entity) if entity in EVENT_TIME else []
            earlier = earlier_rows(existing, entity, dates)
        late = None
        if entity != "accounts":
            if known_accounts is None:
                raise AssertionError("accounts are ingested first")
            late = _few(late_failures(check_references(reference_rows(rows, entity), entity, known_accounts,
                                                       known_posts)), cfg.ingest.broadcast_max_rows)
        repeated = _few(repeated_keys(rows, entity), cfg.ingest.broadcast_max_rows)
        verdicts = materialize(check_duplicates(duplicate_rows(rows, entity, late), entity, earlier, repeated),
                               local_checkpoints=True)
        failed = F.col("_reason").isNotNull()
        stats = verdicts.agg(F.count(F.lit(1)).alias("read"),
                             F.count(F.when(~failed, 1)).alias("accepted"),
                             F.count(F.when(F.col("_new"), 1)).alias("new"),
                             F.count(F.when(failed_late(), 1)).alias("late")).first()
        counts = EntityCounts(stats["read"], stats["accepted"], stats["new"], stats["read"] - stats["accepted"])
        report.entities[entity] = counts
        checked = with_verdicts(rows, _few(changed_rows(verdicts), cfg.ingest.broadcast_max_rows))
        if entity == "accounts":
            valid = checked.where(~failed).select("account_id", "created_at")
            known_accounts, _ = _sized(valid.unionByName(existing.select("account_id", "created_at")).distinct(),
                                       cfg.ingest.broadcast_max_rows)
        if entity == "posts":
            valid = checked.where(~failed).select("post_id", "account_id", "created_at")
            known_posts, _ = _sized(valid.unionByName(existing.select("post_id", "account_id", "created_at"))
                                    .distinct(), cfg.ingest.broadcast_max_rows)
        # Appended, not merged: `_new` rows are not in the table on their dates (checked above), and the
        # run's application transaction makes a retried run write nothing twice. Event tables get their
        # event_date, the UTC day they are partitioned by.
        stored = catalog.table(table)
        new_rows = stored.with_partition_columns(accepted_rows(checked, entity, ledger.run_id))
        result = lake.append(table, new_rows, schema=stored.schema, txn=("ingest", ledger.run_id),
                             partition_by=stored.partition_by)
        ledger.wrote(table, result)
        report.versions[table] = result.version
        if counts.quarantined:
            quarantine.append(materialize(quarantine_rows(_with_late_raw(spark, checked, mine, key, stats["late"]),
                                                          ledger.run_id, now), local_checkpoints=True))
        for name, n in (("read", counts.read), ("accepted", counts.accepted), ("new", counts.new),
                        ("quarantined", counts.quarantined)):
            ledger.count(f"{entity}.{name}", n)
        log.info("%s: read %d = accepted %d (new %d) + quarantined %d", entity, counts.read, counts.accepted,
                 counts.new, counts.quarantined)

    # Each frame holds at least one row (file problems, or an entity with quarantined records): a clean
    # export has none, and pays no merge.
    if quarantine:
        all_bad = reduce(DataFrame.unionByName, quarantine)
        report.reasons = {r["reason"]: r["n"]
                          for r in all_bad.groupBy("reason").agg(F.count(F.lit(1)).alias("n")).collect()}
        quarantined = catalog.table("quarantine")
        keys, when_matched = quarantined.merge_on()
        result = lake.merge("quarantine", all_bad, keys=keys, when_matched=when_matched, schema=quarantined.schema,
                            txn=("ingest", ledger.run_id))
        ledger.wrote("quarantine", result)
        report.versions["quarantine"] = result.version
    else:
        report.versions["quarantine"] = None
    ledger.count("files.quarantined", len(problems))
    return report


def _sized(df: DataFrame, broadcast_max_rows: int) -> tuple[DataFrame, int]:
    """`df` computed once, with its row count, marked for broadcast when small. A local checkpoint has no
    size estimate: without the mark the planner shuffles the whole batch first (and adaptive execution
    turns the join into a broadcast only after that shuffle)."""
    df = materialize(df, local_checkpoints=True)
    n = df.count()
    return (F.broadcast(df) if n <= broadcast_max_rows else df), n


def _few(df: DataFrame, broadcast_max_rows: int) -> DataFrame | None:
    """`_sized`, and None when empty: a join with nothing is not planned at all."""
    df, n = _sized(df, broadcast_max_rows)
    return df if n else None


def _has_rows(df: DataFrame) -> bool:
    return bool(df.limit(1).count())


def _with_late_raw(spark: SparkSession, checked: DataFrame, mine: list[Source], key: bytes, late: int) -> DataFrame:
    """The failed rows with their raw text. Records that failed a check after the narrow stage
    (duplicates, references) carry none yet: it is read again from their files only (by `_rid`)."""
    bad = checked.where(F.col("_reason").isNotNull())
    if not late:
        return bad
    missing = bad.where(F.col("_raw").isNull())
    wanted = missing.select("source_file", "_rid").distinct()
    rel = {r["source_file"] for r in wanted.select("source_file").distinct().collect()}
    lookups = [raw_text(spark, src, key, wanted.where(F.col("source_file").isin(*[f.rel for f in src.files])))
               for src in mine if any(f.rel in rel for f in src.files)]
    if not lookups:
        return bad
    lookup = lookups[0]
    for other in lookups[1:]:
        lookup = lookup.unionByName(other)
    # One raw text per record id (two identical lines share an id and a text).
    lookup = lookup.groupBy("source_file", "_rid").agg(F.min("_raw").alias("_found"))
    filled = (missing.join(lookup, ["source_file", "_rid"], "left")
              .withColumn("_raw", F.col("_found")).drop("_found"))
    return bad.where(F.col("_raw").isNotNull()).unionByName(filled)
