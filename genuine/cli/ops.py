"""`genuine` commands for operating the lake: maintain (compaction, retention, VACUUM).

The job is imported in the command: importing Spark would make every `genuine` invocation slower.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg, make_table
from genuine.core.errors import RetentionTooShort


def maintain(dry_run: Annotated[bool, typer.Option("--dry-run", help="change nothing; list what VACUUM would delete")]
             = False, env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Compact small files, apply the retention policy (VACUUM, log retention) to every table.

    Exit status 1, with one line naming the earliest run that would become unreplayable, when a retention
    (lake.maintenance) is shorter than the audit window (enforcement.audit.replay_window_days).
    """
    from genuine.jobs.maintain import run  # lazy: CLI start-up (module docstring)

    cfg = load_cfg(env, set_)
    try:
        result = run(cfg, dry_run, run_id)
    except RetentionTooShort as exc:
        console.print(f"[red]refused:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    verb = "would vacuum" if dry_run else "vacuumed"
    t = make_table("table", "files before", "files after", f"files {verb}", f"bytes {verb}",
                   title="dry run: nothing changed" if dry_run else f"run {result.run_id}", left=("table",))
    for r in result.tables:
        t.add_row(r.table, str(r.files_before), str(r.files_after), str(len(r.vacuum.files)), f"{r.vacuum.bytes:,}")
    console.print(t)
    if dry_run:
        for r in result.tables:
            for f in r.vacuum.files:
                console.print(f"{r.table}: {f}", soft_wrap=True, highlight=False, markup=False)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("maintain")(maintain)
