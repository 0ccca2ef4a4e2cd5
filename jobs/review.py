"""Import moderator decisions (spark-submit jobs/review.py FILE) or appeal outcomes (--kind appeal).

Every line ends applied, recorded as not applied (with why) or rejected to quarantine (with why).
Applied decisions update account_status, add action-log rows (and statements for new restrictions)
and become training labels in raw_labels, the table jobs/train.py reads. Ids are content hashes and
every write carries the transaction ("<kind>-import", run id): re-importing a file adds nothing, and a
killed import retried with the same --run-id completes exactly once.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.schemas import QUARANTINE, RAW_ACCOUNTS, RAW_LABELS
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.decisions import Kind, import_decisions, latest_evidence
from genuine.enforcement.schemas import ACCOUNT_STATUS, ACTION_LOG, DECISIONS, REVIEW_QUEUE, STATEMENTS
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.enforce import ensure_tables, read_pinned, write_all

log = logging.getLogger(__name__)

# account_status last: it is what validation reads back (prior status), so a retry of a run killed
# before it sees the same prior state and applies the same decisions.
ORDER = ("decisions", "action_log", "statements", "raw_labels", "quarantine", "account_status")
SCHEMAS = {"decisions": DECISIONS, "action_log": ACTION_LOG, "statements": STATEMENTS, "raw_labels": RAW_LABELS,
           "quarantine": QUARANTINE, "account_status": ACCOUNT_STATUS}


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


def run(cfg: Config, path: str | Path, kind: Kind = "review", run_id: str | None = None,
        spark: SparkSession | None = None) -> ImportRun:
    ecfg = enforcement_config(cfg)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such decision file: {path}")
    with job(f"{kind}-import", cfg, {"file": str(path), "kind": kind}, run_id, spark) as ctx:
        lake, ledger = ctx.lake, ctx.ledger
        now = datetime.now(UTC)
        accounts = read_pinned(lake, ledger, "raw_accounts", RAW_ACCOUNTS)
        status = read_pinned(lake, ledger, "account_status", ACCOUNT_STATUS)
        # This run's own decisions (a retry after a kill) are not "already imported": they are re-derived
        # from the same inputs with the same ids, and the committed writes are skipped by their txn.
        known = read_pinned(lake, ledger, "decisions", DECISIONS).where(
            F.coalesce(F.col("import_run_id") != F.lit(ctx.run_id), F.lit(True)))
        evidence = latest_evidence(read_pinned(lake, ledger, "review_queue", REVIEW_QUEUE),
                                   read_pinned(lake, ledger, "action_log", ACTION_LOG))
        res = import_decisions(ctx.spark, path, kind, accounts, ecfg, run_id=ctx.run_id, now=now,
                               current_status=status, known_decisions=known, evidence=evidence)

        txn = (f"{kind}-import", ctx.run_id)
        ensure_tables(lake, SCHEMAS)
        # Each frame computed once (a merge reads its source several times).
        frames = {t: df.localCheckpoint(eager=True) for t, df in (
            ("decisions", res.decisions), ("action_log", res.action_log), ("raw_labels", res.labels),
            ("quarantine", res.rejects), ("account_status", res.account_status))}
        results = write_all(lake, ledger, ORDER, frames, txn, ecfg)

        dec = frames["decisions"].select("applied", "not_applied_reason").collect()
        rejected = Counter(r["reason"] for r in frames["quarantine"].select("reason").collect())
        not_applied = Counter(r["not_applied_reason"] for r in dec if not r["applied"])
        out = ImportRun(ctx.run_id, kind, str(path), len(dec) + sum(rejected.values()), len(dec),
                        sum(1 for r in dec if r["applied"]), dict(not_applied), dict(rejected),
                        frames["action_log"].count(), frames["raw_labels"].count(),
                        {t: r.version for t, r in results.items()})
        for name, n in (("lines", out.lines), ("valid", out.valid), ("applied", out.applied),
                        ("rejected", sum(rejected.values())), ("actions", out.actions), ("labels", out.labels)):
            ledger.count(name, n)
        log.info("%s import of %s: %d lines, %d applied, not applied %s, rejected %s", kind, path, out.lines,
                 out.applied, dict(not_applied), dict(rejected))
        return out


def main(argv: list[str] | None = None, kind: Kind | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("file", type=Path)
    if kind is None:
        p.add_argument("--kind", choices=["review", "appeal"], default="review")
    args = p.parse_args(argv)
    run(config_from(args), args.file, kind or args.kind, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
