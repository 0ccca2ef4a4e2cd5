"""Which runs a retention policy would make unreplayable (`genuine maintain` refuses such a policy).

`audit replay` re-reads the exact table versions a run recorded in the ledger (`runs.inputs`) through
Delta time travel. A version stays readable while (a) its data files are on disk and (b) its commit is in
the log. VACUUM at retention R deletes files removed before `now - R`: those are the files of version V
that the latest version committed before that instant (W) no longer references, so V loses data iff
files(V) - files(W) is not empty (exact, whichever engine wrote the table). Log cleanup at retention L
deletes commits older than `now - L` (at a checkpoint), so V is at risk when its commit is older than that.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from genuine.core.lake import Lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LostInput:
    run_id: str
    job: str
    started_at: datetime
    table: str
    version: int
    why: str                     # "data files" (VACUUM) or "log" (log cleanup)

    def describe(self) -> str:
        return (f"run {self.run_id} ({self.job}, started {self.started_at:%Y-%m-%d %H:%M} UTC) read "
                f"{self.table}@v{self.version}, whose {self.why} would be deleted")


class _Versions:
    """Commit times and file sets of the tables runs read, each looked up once."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._times: dict[str, dict[int, datetime]] = {}
        self._files: dict[tuple[str, int], frozenset[str]] = {}

    def times(self, table: str) -> dict[int, datetime]:
        if table not in self._times:
            self._times[table] = self.lake.commit_times(table) if self.lake.exists(table) else {}
        return self._times[table]

    def files(self, table: str, version: int) -> frozenset[str]:
        if (table, version) not in self._files:
            self._files[(table, version)] = frozenset(self.lake.read(table, version=version).inputFiles())
        return self._files[(table, version)]

    def state_at(self, table: str, instant: datetime) -> int | None:
        """The latest version committed before `instant` (the table as VACUUM's cutoff sees it)."""
        before = [v for v, t in self.times(table).items() if t < instant]
        return max(before) if before else None


def lost_inputs(lake: Lake, runs: Iterable[Mapping[str, Any]], data_hours: int, log_hours: int,
                now: datetime | None = None) -> list[LostInput]:
    """Every (run, input version) that VACUUM at `data_hours` or log cleanup at `log_hours` would make
    unreadable, earliest run first. `runs` are ledger rows (run_id, job, started_at, inputs)."""
    now = now or datetime.now(UTC)
    data_cut, log_cut = now - timedelta(hours=data_hours), now - timedelta(hours=log_hours)
    seen = _Versions(lake)
    lost: list[LostInput] = []
    for run in sorted(runs, key=lambda r: r["started_at"]):
        started = _utc(run["started_at"])
        for table, version in sorted((run["inputs"] or {}).items()):
            times = seen.times(table)
            if version not in times or version == max(times):
                continue                       # the latest version is never vacuumed away
            why = None
            if times[version] < log_cut:
                why = "log"
            else:
                w = seen.state_at(table, data_cut)
                if w is not None and w > version and seen.files(table, version) - seen.files(table, w):
                    why = "data files"
            if why:
                lost.append(LostInput(run["run_id"], run["job"], started, table, int(version), why))
    return lost


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
