"""A decision made in the console, through the import path of `genuine review import` / `genuine appeal
import` (genuine.jobs.review.run): the console writes the decision as the one-line JSON Lines file a
moderator would have written, and imports it. Same tables, same ids, same idempotency, same effect on
account_status, the action log, statements and the training labels; the file stays as the decision's
source_file.

What the import cannot know is what the moderator saw: the console refuses, before importing, a
decision on an account that has left the queue (or an appeal that is no longer open), and a form whose
account changed since it was rendered (a double submit, or two moderators on one account). One lock
serialises the console's decisions, so the check and the import see the same state.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.console.config import ConsoleConfig
from genuine.console.data import Reader
from genuine.core.config import Config, under_root
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.decisions import Kind, kind_spec
from genuine.enforcement.import_run import ImportRun
from genuine.jobs import review

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
NO_DECISION = "none"


class DecisionRefused(ValueError):
    """The console will not import this decision; the message says why, in words for the moderator.
    status: 400 for a bad form, 409 when the account's state forbids it (decided, changed, not queued)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Submitted:
    run: ImportRun
    path: Path

    @property
    def applied(self) -> bool:
        return self.run.applied > 0


def account_state(reader: Reader, account_id: str) -> str:
    """The token a form carries: the account's last decision reference (or 'none'). The decision is refused
    if it changed between rendering the form and submitting it."""
    st = reader.account_status(account_id)
    return (st or {}).get("last_decision_ref") or NO_DECISION


def decision_file(cfg: Config, ccfg: ConsoleConfig, kind: Kind, now: datetime) -> Path:
    root = cfg.lake.root
    if "://" in root:
        raise DecisionRefused(f"lake.root {root} is not a local folder: console decision files need one "
                              "(console.decision_files)", 503)
    folder = Path(under_root(root, ccfg.decision_files)) / kind / now.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{now.strftime('%H%M%S')}-{uuid.uuid4().hex[:12]}.jsonl"


def submit(cfg: Config, ccfg: ConsoleConfig, spark: SparkSession, reader: Reader, kind: Kind, account_id: str,
           decision: str, user: str, note: str, state: str) -> Submitted:
    """Check, write the one-line file, import it; raises DecisionRefused with a message for the page."""
    spec = kind_spec(kind, enforcement_config(cfg))
    decision = (decision or "").strip().lower()
    note = (note or "").strip()
    if decision not in spec.values:
        raise DecisionRefused(f"{spec.field} must be one of {', '.join(spec.values)}")
    if not note:
        raise DecisionRefused("a note is required: say what you saw")
    if len(note) > ccfg.max_note_chars:
        raise DecisionRefused(f"the note has {len(note)} characters; at most {ccfg.max_note_chars} are kept")
    with _LOCK:
        if kind == "review" and reader.open_queue_item(account_id) is None:
            raise DecisionRefused(f"account {account_id} is not in the open review queue (already decided, or "
                                  "not queued by the latest scoring run): nothing was recorded", 409)
        if kind == "appeal" and not reader.open_appeals(account_id):
            raise DecisionRefused(f"account {account_id} has no open appeal (already decided, or none filed): "
                                  "nothing was recorded", 409)
        current = account_state(reader, account_id)
        if current != state:
            raise DecisionRefused(f"account {account_id} changed since this page was opened (last decision "
                                  f"{current}); reload it before deciding: nothing was recorded", 409)
        now = datetime.now(UTC)
        path = decision_file(cfg, ccfg, kind, now)
        line = {"account_id": account_id, spec.field: decision, "moderator_id": user, "note": note,
                "decided_at": now.isoformat(timespec="microseconds").replace("+00:00", "Z")}
        path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
        run = review.run(cfg, path, kind, spark=spark)
    log.info("console %s of %s by %s: %d applied (%s)", kind, account_id, user, run.applied,
             run.not_applied or run.rejected or "ok")
    return Submitted(run, path)
