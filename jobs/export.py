"""Export statements of reasons (spark-submit jobs/export.py statements --since DATE [--until DATE] --out FILE).

JSON Lines in the shape of the EU DSA Transparency Database API v2, one statement per restriction decided
at or after DATE (UTC) and, with --until, on or before that day; every one validated first: one invalid
statement and no file is written.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.errors import StatementExportError
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.statements import ExportResult, export_statements
from genuine.jobs.common import base_parser, config_from, job
from genuine.jobs.io import read_pinned

log = logging.getLogger(__name__)


def run(cfg: Config, since: date | str, out: str | Path, run_id: str | None = None,
        spark: SparkSession | None = None, until: date | None = None) -> ExportResult:
    """Statements of the action log (at the version recorded in the ledger, so an export names exactly
    what it was made from); `until` is the last UTC day included (default: no end)."""
    params = {"since": str(since), "out": str(out), **({"until": str(until)} if until else {})}
    with job("export-statements", cfg, params, run_id, spark) as ctx:
        actions = read_pinned(ctx.lake, ctx.ledger, "action_log")
        if until is not None:
            end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
            actions = actions.where(F.col("decided_at") < F.lit(end))
        result = export_statements(actions, since, out, enforcement_config(cfg))
        ctx.ledger.count("statements", result.written)
        ctx.ledger.count("no_statement_needed", result.skipped)
        return result


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    sub = p.add_subparsers(dest="what", required=True)
    st = sub.add_parser("statements")
    st.add_argument("--since", type=date.fromisoformat, required=True)
    st.add_argument("--until", type=date.fromisoformat, default=None, help="last day included (UTC)")
    st.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        result = run(config_from(args), args.since, args.out, args.run_id, until=args.until)
    except StatementExportError as exc:
        log.error("%s", exc)
        return 1
    log.info("%d statements written to %s", result.written, result.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
