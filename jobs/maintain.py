"""Table maintenance (spark-submit jobs/maintain.py [--dry-run]).

For every catalog table that exists under the lake root: write the retention policy (lake.maintenance)
into the table's properties, compact small files, VACUUM files older than the data retention that no
version kept needs, and let the log drop commits older than the log retention. Refuses, before touching
anything, a retention shorter than the audit window (enforcement.audit.replay_window_days), naming the
earliest run `audit replay` could no longer replay. `--dry-run` changes nothing and lists what VACUUM
would delete.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core import catalog
from genuine.core.config import Config
from genuine.core.errors import RetentionTooShort
from genuine.core.lake import Lake, VacuumResult
from genuine.core.session import get_spark
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.retention import LostInput, lost_inputs
from genuine.jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)

JOB = "maintain"


@dataclass(frozen=True)
class TableReport:
    table: str
    files_before: int
    files_after: int           # on a dry run: unchanged
    compacted_version: int | None
    vacuum: VacuumResult
    policy_changed: bool


@dataclass(frozen=True)
class MaintainResult:
    run_id: str | None         # None on a dry run (nothing is written, not even the ledger)
    dry_run: bool
    tables: tuple[TableReport, ...]


def check_retention(cfg: Config, lake: Lake, now: datetime | None = None) -> None:
    """Raise RetentionTooShort when a retention is under the audit window, naming the earliest run of
    `enforcement.audit.replayable_jobs` inside the window that would lose an input version."""
    audit, m = enforcement_config(cfg).audit, cfg.lake.maintenance
    window_hours = audit.replay_window_days * 24
    short = {k: h for k, h in (("lake.maintenance.data_retention_hours", m.data_retention_hours),
                               ("lake.maintenance.log_retention_hours", m.log_retention_hours))
             if h < window_hours}
    if not short:
        return
    now = now or datetime.now(UTC)
    lost = lost_inputs(lake, replayable_runs(lake, audit.replayable_jobs, now - timedelta(hours=window_hours)),
                       m.data_retention_hours, m.log_retention_hours, now)
    what = " and ".join(f"{k}={h}" for k, h in short.items())
    raise RetentionTooShort(
        f"{what} is shorter than the audit window enforcement.audit.replay_window_days="
        f"{audit.replay_window_days} ({window_hours} h): " + _victim(lost) + "; nothing was changed")


def _victim(lost: list[LostInput]) -> str:
    if lost:
        return f"{lost[0].describe()} ({len({x.run_id for x in lost})} run(s) in the window would become unreplayable)"
    return "no run in the window would lose an input today, but runs inside the window would as the tables change"


def replayable_runs(lake: Lake, jobs: list[str], since: datetime) -> list[dict]:
    """Succeeded runs of `jobs` started at or after `since` (UTC), as ledger rows."""
    if not lake.exists("runs"):
        return []
    rows = (lake.read("runs").where(F.col("status") == "succeeded").where(F.col("job").isin(jobs))
            .select("run_id", "job", "started_at", "inputs").collect())
    cut = since.astimezone(UTC).replace(tzinfo=None)     # the ledger stores naive UTC
    return [r.asDict() for r in rows if r["started_at"] >= cut]


def maintain_tables(cfg: Config, lake: Lake, dry_run: bool) -> list[TableReport]:
    """Per existing catalog table: retention properties, compaction, VACUUM, log cleanup (the run ledger
    itself last, after this run's own entry was written)."""
    m = cfg.lake.maintenance
    names = sorted(catalog.TABLES, key=lambda n: n == "runs")
    reports = []
    for name in names:
        if not lake.exists(name):
            continue
        before = lake.file_count(name)
        if dry_run:
            reports.append(TableReport(name, before, before, None, lake.vacuum(name, m.data_retention_hours, True),
                                       False))
            continue
        changed = lake.set_retention(name, m.data_retention_hours, m.log_retention_hours)
        compacted = lake.compact(name)
        swept = lake.vacuum(name, m.data_retention_hours)
        lake.cleanup_log(name)
        log.info("%s: %d -> %d files, %d files (%d bytes) vacuumed", name, before, compacted.files_after,
                 len(swept.files), swept.bytes)
        reports.append(TableReport(name, before, compacted.files_after, compacted.version, swept, changed))
    return reports


def run(cfg: Config, dry_run: bool = False, run_id: str | None = None, spark: SparkSession | None = None,
        now: datetime | None = None) -> MaintainResult:
    """Check the policy against the audit window, then maintain every table (a dry run changes nothing)."""
    spark = spark or get_spark(cfg)
    lake = Lake(spark, cfg)
    check_retention(cfg, lake, now)
    if dry_run:
        return MaintainResult(None, True, tuple(maintain_tables(cfg, lake, True)))
    params = {"data_retention_hours": cfg.lake.maintenance.data_retention_hours,
              "log_retention_hours": cfg.lake.maintenance.log_retention_hours}
    with job(JOB, cfg, params, run_id, spark) as ctx:
        reports = maintain_tables(cfg, ctx.lake, False)
        ctx.ledger.count("tables", len(reports))
        ctx.ledger.count("files_removed", sum(len(r.vacuum.files) for r in reports))
        ctx.ledger.count("bytes_removed", sum(r.vacuum.bytes for r in reports))
        for r in reports:
            if r.compacted_version is not None:
                ctx.ledger.outputs[r.table] = r.compacted_version
        return MaintainResult(ctx.run_id, False, tuple(reports))


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--dry-run", action="store_true", help="change nothing; list what VACUUM would delete")
    args = p.parse_args(argv)
    try:
        result = run(config_from(args), args.dry_run, args.run_id)
    except RetentionTooShort as exc:
        log.error("%s", exc)
        return 1
    for r in result.tables:
        log.info("%s: files %d -> %d, %s %d files (%d bytes)", r.table, r.files_before, r.files_after,
                 "would vacuum" if result.dry_run else "vacuumed", len(r.vacuum.files), r.vacuum.bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
