"""One decision import (moderator decisions or appeal outcomes) as jobs/review.py and jobs/appeal.py run
it: the tables it reads, the frames it writes and in which order, and what it reports.

The jobs pin the reads and write the frames (genuine.jobs.io); the import itself is decisions.py.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.enforcement.config import EnforcementConfig
from genuine.enforcement.decisions import ImportResult, Kind, import_decisions, latest_evidence
from genuine.enforcement.statements import logged_statements

log = logging.getLogger(__name__)

# What an import reads, in this order.
INPUTS = ("raw_accounts", "account_status", "decisions", "review_queue", "action_log")
# Write order (keys and merge modes: genuine.core.catalog). account_status last: it is what validation
# reads back (prior status), so a retry of a run killed before it sees the same prior state and applies
# the same decisions. Statements are built at their turn from the committed action log.
ORDER = ("decisions", "action_log", "statements", "raw_labels", "quarantine", "account_status")


@dataclass
class ImportRun:
    run_id: str
    kind: str
    source_file: str
    lines: int                              # records read (valid + rejected)
    valid: int                              # recorded in the decisions table
    applied: int                            # changed an account's status
    not_applied: dict[str, int]             # not_applied_reason -> lines
    rejected: dict[str, int]                # reject reason -> lines (in quarantine)
    actions: int
    labels: int
    versions: dict[str, int | None] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """The figures recorded with the run in the ledger."""
        return {"lines": self.lines, "valid": self.valid, "applied": self.applied,
                "rejected": sum(self.rejected.values()), "actions": self.actions, "labels": self.labels}


def decision_file(path: str | Path) -> Path:
    """The import file, refused before any run is recorded when it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such decision file: {path}")
    return path


def import_from_tables(spark: SparkSession, path: Path, kind: Kind, tables: Mapping[str, DataFrame],
                       cfg: Config | EnforcementConfig, *, run_id: str, now: datetime) -> ImportResult:
    """The import against the tables of INPUTS as the job read them.

    This run's own decisions (a retry after a kill) are not "already imported": they are re-derived from
    the same inputs with the same ids, and the committed writes are skipped by their txn.
    """
    known = tables["decisions"].where(F.coalesce(F.col("import_run_id") != F.lit(run_id), F.lit(True)))
    evidence = latest_evidence(tables["review_queue"], tables["action_log"])
    return import_decisions(spark, path, kind, tables["raw_accounts"], cfg, run_id=run_id, now=now,
                            current_status=tables["account_status"], known_decisions=known, evidence=evidence)


def frames_to_write(res: ImportResult, action_log: Callable[[], DataFrame],
                    cfg: Config | EnforcementConfig) -> dict[str, Any]:
    """Every table of ORDER -> its frame, each computed once (a merge reads its source several times);
    statements -> a function building them from the committed action log (`action_log` reads it)."""
    frames: dict[str, Any] = {t: df.localCheckpoint(eager=True) for t, df in (
        ("decisions", res.decisions), ("action_log", res.action_log), ("raw_labels", res.labels),
        ("quarantine", res.rejects), ("account_status", res.account_status))}
    frames["statements"] = lambda: logged_statements(action_log(), frames["action_log"], cfg)
    return frames


def import_summary(run_id: str, kind: Kind, path: Path, frames: Mapping[str, Any],
                   versions: dict[str, int | None]) -> ImportRun:
    """What the import did, line by line: applied, recorded without effect (why), rejected (why)."""
    dec = frames["decisions"].select("applied", "not_applied_reason").collect()
    rejected = Counter(r["reason"] for r in frames["quarantine"].select("reason").collect())
    not_applied = Counter(r["not_applied_reason"] for r in dec if not r["applied"])
    out = ImportRun(run_id, kind, str(path), len(dec) + sum(rejected.values()), len(dec),
                    sum(1 for r in dec if r["applied"]), dict(not_applied), dict(rejected),
                    frames["action_log"].count(), frames["raw_labels"].count(), versions)
    log.info("%s import of %s: %d lines, %d applied, not applied %s, rejected %s", kind, path, out.lines,
             out.applied, dict(not_applied), dict(rejected))
    return out
