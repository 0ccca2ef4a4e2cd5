"""`genuine daily` and `genuine backfill`: a day (or a range of days) end to end through the same jobs.

The job is imported in the command: importing Spark would make every `genuine` invocation slower.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from genuine.cli.common import EnvOpt, SetOpt, console, load_cfg, make_table
from genuine.core.errors import DailyError, LakeError, NoScoringRun

if TYPE_CHECKING:
    from genuine.jobs.daily import DailyRun

DateOpt = Annotated[str, typer.Option("--date", help="the day (UTC), YYYY-MM-DD")]


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


def _print_day(result: DailyRun) -> None:
    t = make_table("step", "run id", "status", title=f"day {result.day} ({result.run_id})", left=("step", "run id", "status"))
    for s in result.steps:
        t.add_row(s.step, s.run_id, s.status)
    console.print(t)
    if result.already_done:
        console.print(f"day {result.day} was already complete: nothing written")


def daily(date_: DateOpt, export: Annotated[Path | None, typer.Option(help="the day's export folder; without it, "
                                                                             "no ingest")] = None,
          env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Run one day: ingest (with --export), features, score, enforce, run report. Re-running a finished day
    writes nothing; an interrupted day completes exactly once (run ids derive from the date)."""
    from genuine.jobs.daily import run  # lazy: CLI start-up (module docstring)

    day = _day(date_, "--date")
    cfg = load_cfg(env, set_)
    try:
        result = run(cfg, day, export)
    except (DailyError, NoScoringRun, LakeError) as exc:
        console.print(f"[red]day {day} failed:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    _print_day(result)


def backfill(from_: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
             to: Annotated[str, typer.Option("--to", help="last day (inclusive), YYYY-MM-DD")],
             exports: Annotated[Path | None, typer.Option(help="folder of day exports, EXPORTS/YYYY-MM-DD; "
                                                                "without it, no ingest")] = None,
             env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Run `daily` for every day from --from to --to in order; stop at the first failing day."""
    from genuine.jobs.daily import backfill as run_range  # lazy: CLI start-up

    start, end = _day(from_, "--from"), _day(to, "--to")
    cfg = load_cfg(env, set_)
    try:
        run_range(cfg, start, end, exports, on_day=_print_day)
    except DailyError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("daily")(daily)
    app.command("backfill")(backfill)
