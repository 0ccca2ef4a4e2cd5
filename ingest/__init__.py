"""`genuine ingest DIR`: a platform export -> raw Delta tables, every bad record quarantined with a reason.

Counts are exact by construction: read = accepted + quarantined per entity, and accepted = new +
already present. Raw tables are written with insert-if-absent merges keyed by the entity key, and
quarantine rows carry deterministic ids, so ingesting the same export twice changes no table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.core import catalog
from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from genuine.core.privacy import load_key
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.ingest.reader import discover, probe, read_records
from genuine.ingest.validate import (
    accepted_rows,
    check_duplicates,
    check_references,
    file_problem_rows,
    parse,
    quarantine_rows,
)

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
    # Not cached: each entity's parse reads only its own files (the optimizer prunes the other union
    # branches on the literal entity), while a cache of the whole export as JSON text outgrew memory at
    # 100k accounts and would be tens of GB at 1M.
    records = read_records(spark, good, schemas)
    report = IngestReport(ledger.run_id, files_quarantined=len(problems))
    quarantine: list[DataFrame] = [file_problem_rows(spark, problems, ledger.run_id, now)] if problems else []

    known_accounts = known_posts = None
    for entity in ORDER:
        table = RAW_TABLE[entity]
        existing = lake.read_or_empty(table, RAW_SCHEMAS[entity])
        ledger.read(table)
        parsed = parse(records, entity, cfg.ingest, now, key)
        if known_accounts is None and entity != "accounts":
            raise AssertionError("accounts are ingested first")
        if entity != "accounts":
            parsed = check_references(parsed, entity, known_accounts, known_posts)
        checked = check_duplicates(parsed.withColumn("ingest_run_id", F.lit(ledger.run_id)), entity, existing).cache()
        stats = checked.agg(F.count(F.lit(1)).alias("read"),
                            F.count(F.when(F.col("_reason").isNull(), 1)).alias("accepted"),
                            F.count(F.when(F.col("_new"), 1)).alias("new")).first()
        counts = EntityCounts(stats["read"], stats["accepted"], stats["new"], stats["read"] - stats["accepted"])
        report.entities[entity] = counts
        if entity == "accounts":
            valid = checked.where(F.col("_reason").isNull()).select("account_id", "created_at")
            known_accounts = valid.unionByName(existing.select("account_id", "created_at")).distinct().cache()
            known_accounts.count()   # materialized now: `checked` is released at the end of this entity
        if entity == "posts":
            valid = checked.where(F.col("_reason").isNull()).select("post_id", "account_id", "created_at")
            known_posts = valid.unionByName(existing.select("post_id", "account_id", "created_at")).distinct().cache()
            known_posts.count()
        stored = catalog.table(table)     # event tables: + event_date, the UTC day they are partitioned by
        rows = stored.with_partition_columns(accepted_rows(checked, entity, ledger.run_id))
        keys, when_matched = stored.merge_on()
        result = lake.merge(table, rows, keys=keys, when_matched=when_matched, schema=stored.schema,
                            txn=("ingest", ledger.run_id), partition_by=stored.partition_by)
        ledger.wrote(table, result)
        report.versions[table] = result.version
        bad = quarantine_rows(checked, ledger.run_id, now).cache()
        bad.count()
        quarantine.append(bad)
        # Every entity's checked rows stayed cached until the end of the run: at 1M accounts that is the
        # whole export twice over (JSON text + typed columns).
        checked.unpersist()
        for name, n in (("read", counts.read), ("accepted", counts.accepted), ("new", counts.new),
                        ("quarantined", counts.quarantined)):
            ledger.count(f"{entity}.{name}", n)
        log.info("%s: read %d = accepted %d (new %d) + quarantined %d", entity, counts.read, counts.accepted,
                 counts.new, counts.quarantined)

    all_bad = quarantine[0]
    for other in quarantine[1:]:
        all_bad = all_bad.unionByName(other)
    report.reasons = {r["reason"]: r["n"] for r in all_bad.groupBy("reason").agg(F.count(F.lit(1)).alias("n")).collect()}
    quarantined = catalog.table("quarantine")
    keys, when_matched = quarantined.merge_on()
    result = lake.merge("quarantine", all_bad, keys=keys, when_matched=when_matched, schema=quarantined.schema,
                        txn=("ingest", ledger.run_id))
    ledger.wrote("quarantine", result)
    report.versions["quarantine"] = result.version
    ledger.count("files.quarantined", len(problems))
    for part in quarantine:
        part.unpersist()
    return report
