"""The console's access log: every view of an account's evidence and every decision, appended to the
`console_access` Delta table (user, role, what, account, when). Append-only: nothing here updates a row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from genuine.core.lake import Lake
from genuine.core.schemas import CONSOLE_ACCESS

VIEW_ACCOUNT = "view_account"
VIEW_AUDIT = "view_audit"
VIEW_APPEAL = "view_appeal"
DECISION = "decision"
APPEAL_OUTCOME = "appeal_outcome"
EXPORT = "export_statements"


def record(lake: Lake, username: str, role: str, action: str, account_id: str | None,
           detail: str | None = None) -> None:
    record_many(lake, username, role, action, [account_id], detail)


def record_many(lake: Lake, username: str, role: str, action: str, account_ids: list[str | None],
                detail: str | None = None) -> None:
    """One row per account, one Delta commit for all of them (a page listing several accounts)."""
    if not account_ids:
        return
    now = datetime.now(UTC)
    rows = [(uuid.uuid4().hex, username, role, action, a, detail, now) for a in account_ids]
    lake.append("console_access", lake.spark.createDataFrame(rows, CONSOLE_ACCESS), schema=CONSOLE_ACCESS)
