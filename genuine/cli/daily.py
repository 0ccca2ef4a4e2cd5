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
    from rich.table import Table

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


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def parts_table(by_day: dict[str, dict[str, float]]) -> Table | None:
    """Days x the features job's state updates and families (not their sub-parts), wall s; None without."""
    cols = sorted({p for parts in by_day.values() for p in parts if p.startswith("features: ") and p.count(": ") == 1},
                  key=lambda p: (not p.endswith(" state"), p))
    if not cols:
        return None
    t = make_table("day", *[p.removeprefix("features: ") for p in cols], left=("day",))
    for d, parts in by_day.items():
        t.add_row(d, *[f"{parts[p]:.1f}" if p in parts else "-" for p in cols])
    return t


def bench(accounts: Annotated[int, typer.Option(help="simulated accounts")] = 10000,
          days: Annotated[int, typer.Option(min=1, help="days backfilled before the timed day")] = 30,
          seed: Annotated[int, typer.Option(help="random seed")] = 7,
          out: Annotated[Path, typer.Option(help="scratch folder: the export and day folders (reused for the same "
                                                 "platform) and the bench's lake and MLflow store (wiped first)")]
          = Path("bench-out/daily"),
          env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Backfill DAYS days through the real jobs, then time every step of one more day."""
    from genuine.devtools.bench.daily import bench_daily  # lazy: it loads Spark

    load_cfg(env, set_)             # a bad --set ends here with its one line, before Spark starts
    f = bench_daily(env, set_ or [], accounts, days, out, seed)
    console.print(f"daily bench: {accounts:,} accounts, {days} days backfilled, then day {f['day']} "
                  f"({f['day_records']:,} records) on {f['cores']} cores, engine {f['engine']}; load average "
                  f"{f['load_avg_start'][0]:.1f} -> {f['load_avg_end'][0]:.1f}"
                  + (" (exports reused)" if f["reused_exports"] else ""))
    t = make_table("step", "wall s", "CPU s", "rows", "rows/s", "rows/CPU s", "day records/s",
                   "peak RSS MiB (JVM / driver)", left=("step",))
    for name, m in [*f["steps"].items(), ("day, all steps", f["day_total"]),
                    (f"backfill, {days} days", f["backfill"])]:
        t.add_row(name, f"{m['wall_s']:.1f}", f"{m['cpu_s_driver'] + m['cpu_s_jvm']:.1f}",
                  "-" if m["rows"] is None else f"{m['rows']:,}", _rate(m["rows_per_s"]), _rate(m["rows_per_cpu_s"]),
                  _rate(m["day_records_per_s"]), f"{m['peak_rss_mib_jvm']:,.0f} / {m['peak_rss_mib_driver']:,.0f}")
    console.print(t)
    parts = parts_table(f["parts_by_day"])
    if parts is not None:
        console.print("the features step by day, wall s of each state update and family (what grows with the "
                      "history):")
        console.print(parts)
    r = f["reference"]
    console.print(f"behaviour partials of the whole export ({r['events']:,} events, {r['threads']} threads): Spark "
                  f"{r['spark']['wall_s']:.1f} s wall / {r['spark']['cpu_s']:.1f} CPU s, DuckDB {r['duckdb']['wall_s']:.1f} s "
                  f"/ {r['duckdb']['cpu_s']:.1f} CPU s: Spark takes x{r['spark_over_duckdb_wall']:.1f} the wall time, "
                  f"x{r['spark_over_duckdb_cpu']:.1f} the CPU")
    console.print("CPU s = driver + JVM (local mode: driver and executors in one JVM, with its Python workers). "
                  "rows: ingest = records read, features = accounts in the snapshot, score/enforce/report = "
                  "accounts scored; backfill rows = its records. The champion (synthetic features, not timed "
                  f"above) took {f['champion']['wall_s']:.0f} s.")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("daily")(daily)
    app.command("backfill")(backfill)
    bench_app.command("daily")(bench)
