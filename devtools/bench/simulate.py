"""`genuine bench simulate`: wall time, CPU time, peak memory and throughput of the simulator."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from genuine.devtools.bench.meter import SELF, ProcessMeter, largest_reaped_child_rss_mib
from genuine.devtools.simulator.engine import simulate

logger = logging.getLogger(__name__)


def bench(n_accounts: int, days: int, out_dir: str | Path, seed: int = 7, **kwargs: Any) -> dict[str, Any]:
    """Simulate once and measure it (devtools/bench/meter.py).

    CPU seconds count this process and its pool workers, so throughput per core can be judged on a busy
    machine too. `peak_rss_mib` is this process's own peak during the run; `peak_rss_worker_mib` is the
    high-water mark of its largest finished worker over the process's life: run the benchmark in a fresh
    process (as the CLI does) for a figure that belongs to this run alone.
    """
    meter = ProcessMeter()
    with meter.span() as r:
        summary = simulate(n_accounts, days, seed, out_dir, **kwargs)
    seconds, cpu = r.wall_s, r.cpu_s[SELF]
    result = {
        "accounts": n_accounts,
        "days": days,
        "wall_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mib": round(r.peak_rss_mib[SELF], 1),
        "peak_rss_worker_mib": round(largest_reaped_child_rss_mib(), 1),
        "events": summary.events,
        "events_per_second": round(summary.events / seconds, 1) if seconds > 0 else None,
        "events_per_cpu_second": round(summary.events / cpu, 1) if cpu > 0 else None,
        "rows": dict(summary.rows),
        "bytes_on_disk": sum(p.stat().st_size for p in Path(out_dir).rglob("*.parquet")),
    }
    logger.info("bench simulate: %s", result)
    return result
