"""`genuine bench simulate`: wall time, CPU time, peak memory and throughput of the simulator."""

from __future__ import annotations

import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

from genuine.devtools.simulator.engine import simulate

logger = logging.getLogger(__name__)


def _rss_mib(who: int) -> float:
    """Peak resident memory (ru_maxrss: KiB on Linux, bytes on macOS). For RUSAGE_CHILDREN it is the
    largest single finished child, i.e. one worker process, not their sum."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench(n_accounts: int, days: int, out_dir: str | Path, seed: int = 7, **kwargs: Any) -> dict[str, Any]:
    """Simulate once and measure it.

    Peak RSS values are high-water marks of this process and of its largest worker: run the benchmark in
    a fresh process (as the CLI does) for figures that belong to this run alone. CPU seconds count the
    parent and its workers, so throughput per core can be judged on a busy machine too.
    """
    cpu0 = _cpu_seconds()
    began = time.perf_counter()
    summary = simulate(n_accounts, days, seed, out_dir, **kwargs)
    seconds = time.perf_counter() - began
    cpu = _cpu_seconds() - cpu0
    result = {
        "accounts": n_accounts,
        "days": days,
        "wall_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mib": round(_rss_mib(resource.RUSAGE_SELF), 1),
        "peak_rss_worker_mib": round(_rss_mib(resource.RUSAGE_CHILDREN), 1),
        "events": summary.events,
        "events_per_second": round(summary.events / seconds, 1) if seconds > 0 else None,
        "events_per_cpu_second": round(summary.events / cpu, 1) if cpu > 0 else None,
        "rows": dict(summary.rows),
        "bytes_on_disk": sum(p.stat().st_size for p in Path(out_dir).rglob("*.parquet")),
    }
    logger.info("bench simulate: %s", result)
    return result
