"""One day end to end: the day's ingest (with an export), its feature snapshot, scoring, enforcement and the
run report (spark-submit jobs/daily.py --date D [--export DIR]); `backfill` runs a range of days in order.

Each step is the job a scheduler runs, under its own ledger entry and with the run id the scheduled task
graph gives that task for that day (`daily-<step>-<date>`, schedules/pipeline.yml), so a re-run finds the
earlier attempt, whoever made it:
- a step whose ledger entry says succeeded is skipped without any write;
- a step that was interrupted (kill -9 leaves its entry `running`) runs again with the same run id, and
  the job's own application transactions skip the writes it had already committed;
- a day whose own entry (`daily-<date>`) succeeded is not touched at all: no table gets a new version.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.errors import DailyError, NoScoringRun
from genuine.core.lake import Lake
from genuine.core.ledger import SUCCEEDED, find_run
from genuine.core.session import get_spark
from genuine.jobs import enforce, features, ingest, report, score
from genuine.jobs.common import base_parser, config_from, job

log = logging.getLogger(__name__)

JOB = "daily"
STEPS = ("ingest", "features", "score", "enforce", "report")
RAN, DONE, NOT_RUN = "ran", "already done", "not run (no export)"


def run_id_of(step: str, day: date) -> str:
    """The run id of a step of a day: the scheduled task graph's (`<job>-<task>-<date>`)."""
    return f"{JOB}-{step}-{day.isoformat()}"


def day_run_id(day: date) -> str:
    return f"{JOB}-{day.isoformat()}"


@dataclass
class StepOutcome:
    step: str
    run_id: str
    status: str                 # RAN, DONE (its ledger entry had succeeded: nothing written), NOT_RUN
    result: Any = None


@dataclass
class DailyRun:
    day: date
    run_id: str
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def already_done(self) -> bool:
        return all(s.status != RAN for s in self.steps)


@dataclass
class _Day:
    """What the steps of one day share."""

    cfg: Config
    spark: SparkSession
    lake: Lake
    day: date
    export_dir: Path | None


def _ingest(d: _Day, run_id: str) -> Any:
    assert d.export_dir is not None
    rep = ingest.run(d.cfg, d.export_dir, run_id, d.spark)
    unbalanced = [e for e, c in rep.entities.items() if not c.balanced]
    if unbalanced:
        raise DailyError(f"ingest {run_id}: read != accepted + quarantined for {', '.join(unbalanced)}")
    return rep


def _features(d: _Day, run_id: str) -> Any:
    return features.run(d.cfg, as_of=d.day, run_id=run_id, spark=d.spark)


def _score(d: _Day, run_id: str) -> Any:
    return score.run(d.cfg, snapshot=d.day, run_id=run_id, spark=d.spark)


def scoring_run_of(lake: Lake, day: date) -> str:
    """The scoring run the day enforces: the day's own (its score step's run id), else the newest of the
    day's snapshot (a score run of that snapshot made outside the daily, under the same key)."""
    if not lake.exists("scores"):
        raise NoScoringRun(f"no scores table: nothing to enforce for {day}")
    runs = (lake.read("scores").where(F.col("snapshot_date") == F.lit(day)).groupBy("scoring_run_id")
            .agg(F.max("scored_at").alias("at")).collect())
    if not runs:
        raise NoScoringRun(f"no scoring run of snapshot {day}")
    own = run_id_of("score", day)
    return own if any(r["scoring_run_id"] == own for r in runs) else max(runs, key=lambda r: r["at"])["scoring_run_id"]


def _enforce(d: _Day, run_id: str) -> Any:
    return enforce.run(d.cfg, scoring_run_of(d.lake, d.day), run_id, d.spark)


def _report(d: _Day, run_id: str) -> Any:
    enforced = find_run(d.lake, run_id_of("enforce", d.day))
    params = enforced["params"] if enforced else {}
    sid = params.get("scoring_run_id") or scoring_run_of(d.lake, d.day)
    return report.run(d.cfg, sid, d.cfg.reports.path(JOB, d.day.isoformat()),
                      breaker_reason=(params.get("breaker") or {}).get("reason"),
                      context={"day": d.day, "enforce run": run_id_of("enforce", d.day)}, run_id=run_id, spark=d.spark)


RUNNERS: dict[str, Callable[[_Day, str], Any]] = {
    "ingest": _ingest, "features": _features, "score": _score, "enforce": _enforce, "report": _report}


def _nothing(step: str) -> AbstractContextManager[Any]:
    return nullcontext()


def run(cfg: Config, day: date, export_dir: str | Path | None = None, spark: SparkSession | None = None,
        around_step: Callable[[str], AbstractContextManager[Any]] | None = None) -> DailyRun:
    """Run the day's steps in order; each step already done by an earlier attempt is skipped.
    `around_step(step)` wraps each step that runs (`genuine bench daily` meters them with it)."""
    export = Path(export_dir) if export_dir is not None else None
    if export is not None and not export.is_dir():
        raise DailyError(f"export folder for {day} not found: {export}")
    spark = spark or get_spark(cfg)
    lake = Lake(spark, cfg)
    out = DailyRun(day, day_run_id(day))
    params = {"date": day.isoformat(), "export_dir": str(export) if export else None}
    earlier = find_run(lake, out.run_id)
    if earlier is not None and earlier["params"] != params:
        raise DailyError(f"day {day} was started with {earlier['params']} (run {out.run_id}); it cannot be "
                         f"re-run with {params}: finish it with the same arguments")
    steps = [s for s in STEPS if s != "ingest" or export is not None]
    if earlier is not None and earlier["status"] == SUCCEEDED:
        log.info("day %s already completed (run %s): nothing to do", day, out.run_id)
        out.steps = [StepOutcome(s, run_id_of(s, day), DONE) for s in steps]
        return out
    if export is None:
        out.steps.append(StepOutcome("ingest", run_id_of("ingest", day), NOT_RUN))
    d = _Day(cfg, spark, lake, day, export)
    with job(JOB, cfg, params, out.run_id, spark) as ctx:
        for step in steps:
            rid = run_id_of(step, day)
            prev = find_run(lake, rid)
            if prev is not None and prev["status"] == SUCCEEDED:
                log.info("%s %s: already succeeded, skipped", step, rid)
                out.steps.append(StepOutcome(step, rid, DONE))
                continue
            log.info("%s %s: %s", step, rid, "retrying an interrupted run" if prev else "running")
            with (around_step or _nothing)(step):
                result = RUNNERS[step](d, rid)
            out.steps.append(StepOutcome(step, rid, RAN, result))
            ctx.ledger.count(f"{step}.ran", 1)
    return out


def backfill(cfg: Config, start: date, end: date, exports: str | Path | None = None,
             spark: SparkSession | None = None, on_day: Callable[[DailyRun], None] | None = None) -> list[DailyRun]:
    """`run` for every day from `start` to `end` (inclusive), in order; the first failure stops the range
    with a DailyError naming the day (the days before it are complete; a re-run resumes at that day)."""
    if end < start:
        raise DailyError(f"empty range: --from {start} is after --to {end}")
    spark = spark or get_spark(cfg)
    done: list[DailyRun] = []
    day = start
    while day <= end:
        export = Path(exports, day.isoformat()) if exports is not None else None
        try:
            result = run(cfg, day, export, spark)
        except Exception as exc:
            ok = f"days {start} to {day - timedelta(days=1)} are complete; " if done else ""
            raise DailyError(f"backfill stopped at {day}: {type(exc).__name__}: {exc}. {ok}re-run "
                             f"`genuine backfill --from {day} --to {end}` after fixing it") from exc
        done.append(result)
        if on_day is not None:
            on_day(result)
        day += timedelta(days=1)
    return done


def parser() -> argparse.ArgumentParser:
    p = base_parser(__doc__ or "")
    p.add_argument("--date", type=date.fromisoformat, required=True, help="the day (UTC), YYYY-MM-DD")
    p.add_argument("--export", type=Path, default=None, help="the day's export folder (without it: no ingest)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.run_id:
        p.error("--run-id: the day's run ids derive from --date (daily-<step>-<date>)")
    try:
        run(config_from(args), args.date, args.export)
    except DailyError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
