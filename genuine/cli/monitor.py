"""`genuine monitor`: drift of the day's snapshot and scores against the champion's training reference.

Thin command over jobs/monitor.py. Exit status 0: nothing moved; EXIT_DRIFT (4, genuine.core.errors):
a figure is past its threshold (the line printed last names the features); 1: a missing input.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg
from genuine.core.errors import EXIT_DRIFT, NoChampionError, NoDriftReference, NoScoringRun, TableNotFound


def monitor(scoring_run: Annotated[str | None, typer.Option(help="scoring run to monitor, default: the latest")] = None,
            env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Per-feature PSI, KS and null share against the champion's training reference; score distribution and
    band volumes against the previous scoring runs; precision per band from moderator decisions."""
    from genuine.jobs.monitor import run  # lazy: importing Spark and MLflow slows every command

    cfg = load_cfg(env, set_)
    try:
        out = run(cfg, scoring_run, run_id)
    except (NoScoringRun, NoChampionError, NoDriftReference, TableNotFound) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    t = Table(title=f"scoring run {out.key.scoring_run_id} (snapshot {out.key.snapshot_date}) against "
                    f"{out.key.model_name} v{out.key.model_version}")
    for c in ("feature", "PSI", "KS", "null share", "reference null share", "moved"):
        t.add_column(c, justify="left" if c in ("feature", "moved") else "right")
    for f in out.features.sort_values("feature").itertuples():
        t.add_row(f.feature, *["-" if math.isnan(v) else f"{v:.3f}" for v in (f.psi, f.ks, f.null_share,
                                                                               f.ref_null_share)],
                  ", ".join(f.moved))
    console.print(t)
    console.print(f"monitoring table {out.table}; figures {', '.join(str(p) for p in out.plots)}", soft_wrap=True)
    if out.alert:
        console.print(f"[yellow]{escape(out.alert)}[/yellow]", soft_wrap=True)
        raise typer.Exit(EXIT_DRIFT)
    console.print("no drift past the thresholds")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("monitor")(monitor)
