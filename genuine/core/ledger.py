"""The run ledger: every job run, what it read and wrote (with Delta versions), and how it ended.

A run is first recorded as `running`, then merged to `succeeded` or `failed` with its error, so a
killed job stays visible as a run that never finished.
"""

from __future__ import annotations

import json
import logging
import subprocess
import traceback
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

from pyspark.sql import functions as F

from genuine.core import catalog
from genuine.core.lake import Lake, WriteResult
from genuine.core.schemas import RUNS

log = logging.getLogger(__name__)


def code_version() -> str:
    """The git commit of the code that ran (with -dirty), or the package version outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return f"genuine-{metadata.version('genuine')}"


SUCCEEDED = "succeeded"


def find_run(lake: Lake, run_id: str) -> dict[str, Any] | None:
    """The ledger entry of a run (status, params, ...), or None: how a re-run finds its earlier attempt."""
    if not lake.exists("runs"):
        return None
    rows = lake.read("runs").where(F.col("run_id") == F.lit(run_id)).select("run_id", "job", "status", "params").collect()
    if not rows:
        return None
    row = rows[0].asDict()
    row["params"] = json.loads(row["params"] or "{}")
    return row


def new_run_id(job: str) -> str:
    return f"{job}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


class RunLedger:
    """Context manager around one job run."""

    def __init__(self, lake: Lake, job: str, params: dict[str, Any] | None = None, run_id: str | None = None):
        self.lake = lake
        self.job = job
        self.params = params or {}
        self.run_id = run_id or new_run_id(job)
        self.started_at = datetime.now(UTC)
        self.inputs: dict[str, int] = {}
        self.outputs: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def read(self, table: str, version: int | None = None) -> int | None:
        """Record (and return) the version of an input table the run reads."""
        v = self.lake.version(table) if version is None else version
        if v is not None:
            self.inputs[table] = v
        return v

    def wrote(self, table: str, result: WriteResult) -> None:
        if result.version is not None:
            self.outputs[table] = result.version

    def count(self, name: str, n: int) -> None:
        self.counts[name] = int(n)

    def _row(self, status: str, error: str | None) -> dict[str, Any]:
        return {"run_id": self.run_id, "job": self.job, "status": status,
                "started_at": self.started_at.replace(tzinfo=None),
                "ended_at": None if status == "running" else datetime.now(UTC).replace(tzinfo=None),
                "config_hash": self.lake.cfg.fingerprint(), "code_version": code_version(),
                "params": json.dumps(self.params, sort_keys=True, default=str),
                "inputs": self.inputs, "outputs": self.outputs, "row_counts": self.counts, "error": error}

    def _record(self, status: str, error: str | None = None) -> None:
        df = self.lake.spark.createDataFrame([self._row(status, error)], RUNS)
        keys, when_matched = catalog.table("runs").merge_on()
        self.lake.merge("runs", df, keys=keys, when_matched=when_matched, schema=RUNS)

    def __enter__(self) -> RunLedger:
        self._record("running")
        log.info("run %s started", self.run_id)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self._record(SUCCEEDED)
            log.info("run %s succeeded", self.run_id)
        else:
            text = "".join(traceback.format_exception_only(exc_type, exc)).strip()
            self._record("failed", text[:4000])
            log.error("run %s failed: %s", self.run_id, text)
