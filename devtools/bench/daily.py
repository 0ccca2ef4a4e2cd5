"""`genuine bench daily`: what one more day costs once a platform's history is in the lake.

A platform of N accounts is simulated for D + 1 days (before the JVM starts) and cut into day exports
(devtools/day_exports.py). In one Spark session: a champion is trained on synthetic features into the
bench's MLflow store (devtools/chaos.py: scoring needs one; its quality is judged nowhere), the first D days
are backfilled through `genuine backfill` (the real ingest, features, score, enforce and report of every
day), then day D + 1 runs through `genuine daily` with every step metered on its own. Everything lives
under OUT/run, wiped first; the simulated export and day folders are reused for the same platform.

Per step: wall, CPU seconds of the driver and of the JVM (with its Python workers), their peak RSS, the
rows the step processed (ingest: records read; features: accounts in the snapshot; score, enforce and
report: accounts scored) and rows/s. The day's records are counted from the export's Parquet footers, so
"day records/s" compares steps with each other and one day's size with another's. Last, the behaviour
partials of the whole export on Spark and on DuckDB (devtools/bench/reference.py): a single-node
reference point, as a ratio.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from genuine.core.config import Config, load_config
from genuine.core.session import get_spark
from genuine.devtools.bench.features import step_figures
from genuine.devtools.bench.meter import ProcessMeter, Reading, spark_cores
from genuine.devtools.bench.reference import bench_reference
from genuine.devtools.bench.scratch import scratch_settings
from genuine.devtools.chaos import CHAMPION_SETTINGS, train_champion
from genuine.devtools.day_exports import split_by_day
from genuine.devtools.simulate import run as simulate
from genuine.features.snapshot import FeaturesConfig
from genuine.jobs import daily
from genuine.lib.timing import recording

log = logging.getLogger(__name__)


def run_settings(out: Path) -> list[str]:
    """The bench's own lake, MLflow store, HMAC key and report folder, in OUT/run (never the real ones)."""
    return scratch_settings(out / "run")


def day_records(folder: Path) -> int:
    """Records in a day export (Parquet footers: no data read)."""
    return sum(pq.read_metadata(f).num_rows for f in folder.glob("*/*.parquet"))


def _prepare_exports(cfg: Config, accounts: int, days: int, seed: int, out: Path,
                     workers: int | None) -> tuple[list[Path], bool]:
    """Simulate D + 1 days and cut them into day folders, unless OUT holds them for the same platform."""
    marker = out / "bench-input.json"
    spec = {"accounts": accounts, "days": days + 1, "seed": seed, "start_date": cfg.simulate.start_date}
    first = date.fromisoformat(cfg.simulate.start_date)
    reused = marker.is_file() and json.loads(marker.read_text()) == spec
    if not reused:
        marker.unlink(missing_ok=True)
        for d in ("export", "days"):
            shutil.rmtree(out / d, ignore_errors=True)
        simulate(cfg, accounts, days + 1, seed, out / "export", workers)   # forks workers unless 1
        split_by_day(out / "export", out / "days", first, days + 1)
        marker.write_text(json.dumps(spec))
    return [out / "days" / (first + timedelta(days=i)).isoformat() for i in range(days + 1)], reused


def _rows(step: str, result: Any, scored: int | None) -> int | None:
    if step == "ingest":
        return sum(c.read for c in result.entities.values())
    if step == "features":
        return int(result.accounts)
    return scored


def _figures(r: Reading, rows: int | None, records: int) -> dict[str, Any]:
    f = step_figures(r)
    cpu = f["cpu_s_driver"] + f["cpu_s_jvm"]
    f.update(rows=rows, rows_per_s=rows / r.wall_s if rows is not None and r.wall_s else None,
             rows_per_cpu_s=rows / cpu if rows is not None and cpu else None,
             day_records_per_s=records / r.wall_s if r.wall_s else None)
    return f


def bench_daily(env: str | None, sets: list[str], accounts: int, days: int, out: Path, seed: int = 7,
                workers: int | None = None) -> dict[str, Any]:
    """Backfill D days, then meter every step of day D + 1 (module docstring); returns the figures.
    `workers`: simulator processes (1 when a JVM is already up: no fork beside it)."""
    if days < 1:
        raise ValueError("--days must be at least 1: the timed day comes after a backfilled history")
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(env, [*sets, *run_settings(out)])
    folders, reused = _prepare_exports(cfg, accounts, days, seed, out, workers)
    shutil.rmtree(out / "run", ignore_errors=True)
    spark = get_spark(cfg)
    meter = ProcessMeter.for_spark(spark)
    first, day = date.fromisoformat(cfg.simulate.start_date), date.fromisoformat(folders[-1].name)
    records = [day_records(f) for f in folders]
    figures: dict[str, Any] = {"accounts": accounts, "days": days, "seed": seed, "cores": spark_cores(spark),
                               "engine": cfg.lake.engine, "reused_exports": reused, "day": day.isoformat(),
                               "day_records": records[-1], "backfill_records": sum(records[:-1]),
                               "load_avg_start": os.getloadavg()}
    champion = load_config(env, [*sets, *run_settings(out), *CHAMPION_SETTINGS,
                                 f"lake.root={(out / 'run' / 'champion-lake').resolve()}"])
    with meter.span() as r:
        train_champion(champion, spark, out / "run" / "champion-lake" / "truth.parquet")
    figures["champion"] = step_figures(r)
    readings: dict[str, Reading] = {}

    @contextmanager
    def metered(step: str) -> Iterator[None]:
        with meter.span() as reading:
            yield
        readings[step] = reading

    # the timed parts of the jobs (the features job's state updates, families and network parts) by day:
    # what grows with the history at a near-fixed day size
    parts_by_day: dict[str, dict[str, float]] = {}
    with recording() as parts:

        def close_day(run: daily.DailyRun) -> None:
            parts_by_day[run.day.isoformat()] = {p: round(s, 3) for p, s in parts}
            parts.clear()

        with meter.span() as r:
            daily.backfill(cfg, first, day - timedelta(days=1), out / "days", spark, on_day=close_day)
        figures["backfill"] = _figures(r, sum(records[:-1]), sum(records[:-1]))
        with meter.span() as total:
            result = daily.run(cfg, day, folders[-1], spark, around_step=metered)
        close_day(result)
    figures["parts_by_day"] = parts_by_day
    scored = next((int(s.result.rows) for s in result.steps if s.step == "score" and s.result is not None), None)
    figures["steps"] = {s.step: _figures(readings[s.step], _rows(s.step, s.result, scored), records[-1])
                        for s in result.steps if s.step in readings}
    figures["day_total"] = _figures(total, records[-1], records[-1])
    # the single-node reference: the behaviour partials of the whole export, Spark against DuckDB
    figures["reference"] = bench_reference(spark, out / "export", cfg.section("features", FeaturesConfig).behaviour,
                                           meter)
    figures["load_avg_end"] = os.getloadavg()
    log.info("bench daily: %s", figures)
    return figures
