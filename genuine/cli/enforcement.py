"""`genuine` commands for the enforcement stage: enforce, review / appeal imports, statement export, audit.

Imports of jobs and the stage sit in the commands: importing Spark and MLflow would make every `genuine`
invocation (even --help) seconds slower.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg
from genuine.core.errors import StatementExportError


def say(text: str) -> None:
    """One logical line stays one line (ids and paths are long; tests and scripts grep the output)."""
    console.print(text, soft_wrap=True, highlight=False)


review_app = typer.Typer(no_args_is_help=True, help="Moderator decisions on the review queue.")
appeal_app = typer.Typer(no_args_is_help=True, help="Appeal outcomes.")
export_app = typer.Typer(no_args_is_help=True, help="Exports for regulators.")
audit_app = typer.Typer(no_args_is_help=True, help="Explain an account's actions; replay a scoring run.")


def enforce(scoring_run: Annotated[str | None, typer.Option(help="scoring run id (default: the latest)")] = None,
            env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Apply the policy to a scoring run: automatic actions, review queue, statuses, statements."""
    from genuine.jobs.enforce import run  # lazy: CLI start-up (module docstring)

    cfg = load_cfg(env, set_)
    r = run(cfg, scoring_run, run_id)
    t = Table(title=f"enforce {r.run_id}: scoring run {r.scoring_run_id} ({r.model}, features@{r.feature_table_version})")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for name, value in (("accounts in review/auto band", r.decisions), ("acted on automatically", r.auto_accounts),
                        ("actions logged", r.actions), ("queued for review", r.queued),
                        ("held by the circuit breaker", r.held), ("status changes", r.status_changes)):
        t.add_row(name, str(value))
    console.print(t)
    if r.already_enforced:
        say("this scoring run was already enforced: nothing written")
    elif r.breaker:
        say(f"circuit breaker: {r.breaker['reason']}")
    for table, version in r.versions.items():
        say(f"  {table:<15} {cfg.table(table)}  " +
                      (f"version {version}" if version is not None else r.skipped.get(table, "unchanged")))


def _import(kind: str, file: Path, env: str | None, set_: list[str] | None, run_id: str | None) -> None:
    from genuine.jobs import appeal, review  # lazy: CLI start-up (module docstring)

    cfg = load_cfg(env, set_)
    if not file.is_file():
        say(f"[red]no such file:[/red] {file}")
        raise typer.Exit(2)
    try:
        r = appeal.run(cfg, file, run_id) if kind == "appeal" else review.run(cfg, file, "review", run_id)
    except ValueError as exc:       # not a .csv / .jsonl file
        say(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    say(f"{kind} import {r.run_id} of {file}: {r.lines} lines, {r.applied} applied, "
                  f"{r.valid - r.applied} recorded without effect, {sum(r.rejected.values())} rejected")
    for why, n in sorted(r.not_applied.items()):
        say(f"  not applied ({why}): {n}")
    for why, n in sorted(r.rejected.items()):
        say(f"  [yellow]rejected ({why}): {n}[/yellow]  (see table {cfg.table('quarantine')})")
    say(f"  {r.actions} action-log rows, {r.labels} training labels -> {cfg.table('raw_labels')}")


@review_app.command("import")
def review_import(file: Path, env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Import moderator decisions: CSV or JSON Lines with account_id, decision (confirm|clear), moderator_id,
    note, decided_at (ISO-8601 with UTC offset)."""
    _import("review", file, env, set_, run_id)


@appeal_app.command("import")
def appeal_import(file: Path, env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Import appeal outcomes: CSV or JSON Lines with account_id, outcome (uphold|restore), moderator_id,
    note, decided_at (ISO-8601 with UTC offset)."""
    _import("appeal", file, env, set_, run_id)


@export_app.command("statements")
def export_statements(since: Annotated[str, typer.Option(help="first decision day (UTC), YYYY-MM-DD")],
                      out: Annotated[Path, typer.Option(help="JSON Lines file to write")],
                      until: Annotated[str | None, typer.Option(help="last decision day included (UTC), YYYY-MM-DD")]
                      = None, env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Statements of reasons (EU DSA Transparency Database shape), validated; nothing written if one is invalid."""
    from genuine.jobs.export import run  # lazy: CLI start-up (module docstring)

    try:
        day = date.fromisoformat(since)
        last = date.fromisoformat(until) if until else None
    except ValueError:
        say(f"[red]--since and --until expect YYYY-MM-DD, got {since!r}, {until!r}[/red]")
        raise typer.Exit(2) from None
    cfg = load_cfg(env, set_)
    try:
        r = run(cfg, day, out, run_id, until=last)
    except StatementExportError as exc:
        say(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    say(f"{r.written} statements of reasons written to {r.path} "
                  f"({r.skipped} actions since {day} need none)")


@audit_app.command("explain")
def audit_explain(account_id: str, env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Print an account's audit trail, from its actions back to raw events.

    actions -> decision -> score row -> model version -> feature snapshot version -> feature values read
    through Delta time travel -> sample raw events. Exit status 1 when nothing is known of the account.
    """
    from genuine.enforcement.audit import render_trail  # lazy: CLI start-up (module docstring)
    from genuine.jobs.audit import explain  # lazy: CLI start-up

    trail = explain(load_cfg(env, set_), account_id)
    console.print(render_trail(trail), markup=False, highlight=False, soft_wrap=True)
    if not trail.found:
        raise typer.Exit(1)


@audit_app.command("replay")
def audit_replay(scoring_run_id: str, env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Re-score a scoring run from its recorded versions; exit status 0 only if every score matches.

    Loads the model version and reads the feature table version the run recorded.
    """
    from genuine.enforcement.audit import render_replay  # lazy: CLI start-up (module docstring)
    from genuine.jobs.audit import replay  # lazy: CLI start-up

    result = replay(load_cfg(env, set_), scoring_run_id, run_id)
    console.print(render_replay(result), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result.ok else 1)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("enforce")(enforce)
    app.add_typer(review_app, name="review")
    app.add_typer(appeal_app, name="appeal")
    app.add_typer(export_app, name="export")
    app.add_typer(audit_app, name="audit")
