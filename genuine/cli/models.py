"""`genuine train`, `genuine retrain`, `genuine promote`, `genuine score` and `genuine bench score`: the account model.

Thin commands over jobs/train.py and jobs/score.py. A missing input (no feature table, no labels, no
champion, an unknown snapshot or version, a model registered by an older genuine) ends the command with
exit status 1 and one line that says what to run first; anything else is a bug and keeps its traceback.
Imports of jobs and the stage sit in the commands: importing Spark, MLflow and scikit-learn would make
every `genuine` invocation (even --help) seconds slower.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg
from genuine.core.errors import (
    EXIT_NOT_PROMOTED,
    LegacyModelError,
    NoChampionError,
    SnapshotNotFound,
    TableNotFound,
    TrainingDataError,
    VersionNotFound,
)

_EXIT_INPUT = 1
_EXPECTED = (TableNotFound, NoChampionError, SnapshotNotFound, VersionNotFound, TrainingDataError, LegacyModelError,
             FileNotFoundError)


def _fail(exc: BaseException) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(_EXIT_INPUT)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:,.0f}" if v.is_integer() and abs(v) >= 2 else f"{v:.3f}"
    return str(v)


def summary_table(summary: Any, title: str | None = None) -> Table:
    """Rich table of `genuine.models.report.champion_summary` (shared with the demo)."""
    attrs = summary.attrs
    th = attrs.get("thresholds", {})
    t = Table(title=title or (f"{attrs.get('model_name')} v{attrs.get('model_version')} "
                              f"(auto >= {th.get('auto', math.nan):.4f}, review >= {th.get('review', math.nan):.4f})"))
    for col in summary.columns:
        t.add_column(col.replace("_", " "), justify="left" if col in ("section", "name") else "right")
    for row in summary.itertuples(index=False):
        t.add_row(*[_fmt(v) for v in row])
    return t


def _print_decision(decision: Any) -> None:
    verdict = "[green]promoted[/green]" if decision.promoted else "[yellow]not promoted[/yellow]"
    console.print(f"promotion of v{decision.challenger_version}: {verdict} "
                  f"(champion {decision.champion_before} -> {decision.champion_after})")
    for line in decision.reasons:
        console.print(f"  {escape(line)}", soft_wrap=True)


def train(truth: Annotated[Path | None, typer.Option(help="simulator ground truth (_truth/accounts.parquet) "
                                                     "for per-strategy and held-out-strategy figures")] = None,
          env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Train the account model on the labels and feature snapshots, register it, run the promotion gates."""
    from genuine.core import tracking  # lazy: CLI start-up (module docstring)
    from genuine.jobs.train import run  # lazy: CLI start-up
    from genuine.models.report import champion_summary  # lazy: CLI start-up

    cfg = load_cfg(env, set_)
    try:
        out = run(cfg, truth, run_id)
    except _EXPECTED as exc:
        raise _fail(exc) from None
    r = out.train
    th = r.thresholds.as_dict()
    console.print(f"registered [bold]{r.model_name}[/bold] version {r.model_version} ({r.chosen}); "
                  f"thresholds auto >= {th['auto']:.4f}, review >= {th['review']:.4f}; "
                  f"holdout PR-AUC {r.metrics.get('holdout.pr_auc', math.nan):.4f}", soft_wrap=True)
    _print_decision(out.decision)
    if out.decision.champion_after is not None:
        console.print(summary_table(champion_summary(tracking.client(cfg.mlflow), r.model_name)))
    console.print(f"MLflow run {r.run_id} ({cfg.mlflow.tracking_uri}); job run {out.run_id}")


def retrain(truth: Annotated[Path | None, typer.Option(help="simulator ground truth (_truth/accounts.parquet) "
                                                       "for per-strategy figures")] = None,
            if_drift: Annotated[bool, typer.Option("--if-drift", help="retrain only if the champion's latest "
                                                   "monitoring run reported drift (else exit 0)")] = False,
            env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Train a challenger on every label so far (imports, moderator decisions, appeal outcomes) and run the
    promotion gates against the champion on the recent holdout; exit 0 promoted, 5 not promoted."""
    from genuine.jobs.retrain import run  # lazy: CLI start-up (module docstring)
    from genuine.models.config import ModelConfig  # lazy: CLI start-up

    cfg = load_cfg(env, set_)
    try:
        out = run(cfg, truth, run_id, if_drift=if_drift)
    except _EXPECTED as exc:
        raise _fail(exc) from None
    if out.skipped or out.holdout is None:
        console.print(f"{escape(out.skipped or 'skipped')}; job run {out.run_id}", soft_wrap=True)
        return
    console.print(escape(out.holdout.describe()), soft_wrap=True)
    if out.trained is None:
        console.print(f"[yellow]not promoted[/yellow]: fewer than "
                      f"{cfg.section('model', ModelConfig).retrain.min_holdout_per_label} labels of each kind "
                      f"in the holdout, no challenger trained; job run {out.run_id}", soft_wrap=True)
    else:
        r = out.trained.train
        console.print(f"registered [bold]{r.model_name}[/bold] version {r.model_version} ({r.chosen}); "
                      f"holdout PR-AUC {r.metrics.get('holdout.pr_auc', math.nan):.4f}", soft_wrap=True)
        _print_decision(out.trained.decision)
        console.print(f"MLflow run {r.run_id} ({cfg.mlflow.tracking_uri}); job run {out.run_id}")
    if not out.promoted:
        raise typer.Exit(EXIT_NOT_PROMOTED)


def promote(version: Annotated[str, typer.Argument(help="registered version of the account model")],
            force: Annotated[bool, typer.Option(help="move champion even if a gate fails (recorded)")] = False,
            env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Run the promotion gates for VERSION against the current champion; exit 5 when the gates refuse it
    (retrain's status), 1 on a missing input."""
    from genuine.jobs.train import promote_version, promotion_exit_status  # lazy: CLI start-up

    cfg = load_cfg(env, set_)
    try:
        decision = promote_version(cfg, version, force)
    except _EXPECTED as exc:
        raise _fail(exc) from None
    _print_decision(decision)
    if status := promotion_exit_status(decision):
        raise typer.Exit(status)


def score(snapshot: Annotated[str | None, typer.Option(help="snapshot date YYYY-MM-DD, default: the latest")] = None,
          env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Score every account of a feature snapshot with the champion (a repeated scoring run writes nothing)."""
    from genuine.jobs.score import run  # lazy: CLI start-up (module docstring)

    cfg = load_cfg(env, set_)
    try:
        snap = date.fromisoformat(snapshot) if snapshot else None
    except ValueError:
        console.print(f"[red]error:[/red] --snapshot expects YYYY-MM-DD, got {escape(repr(snapshot))}")
        raise typer.Exit(2) from None
    try:
        out = run(cfg, snap, run_id)
    except _EXPECTED as exc:
        raise _fail(exc) from None
    what = (f"{out.rows:,} accounts scored -> {out.table} version {out.version}" if out.version is not None
            else f"already scored ({out.skipped}): nothing written to {out.table}")
    console.print(escape(f"snapshot {out.snapshot_date}, features v{out.feature_table_version}, "
                         f"{out.model_name} v{out.model_version}: {what}"), soft_wrap=True)
    console.print(f"scoring key {out.scoring_key}; job run {out.run_id}", soft_wrap=True)


def bench_score(accounts: Annotated[int, typer.Option(help="accounts in the synthetic snapshot")] = 1_000_000,
                train_accounts: Annotated[int, typer.Option(help="accounts offered for labels (half labelled)")] = 20_000,
                partitions: Annotated[int | None, typer.Option(help="partitions of the snapshot (default: ~100k rows each)")] = None,
                keep: Annotated[Path | None, typer.Option(help="keep the temp lake here instead of deleting it")] = None,
                env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Time scoring of N synthetic accounts with a freshly trained champion; prints accounts/s (per core) and
    peak memory. Runs in a temporary lake and MLflow store; run it in a fresh process."""
    from genuine.devtools.bench.score import bench_score as bench  # lazy: CLI start-up (module docstring)

    cfg = load_cfg(env, set_)
    fig = bench(cfg, accounts, train_accounts=train_accounts, partitions=partitions, keep=keep)
    t = Table(title=f"score: {accounts:,} accounts, {fig['cores']} cores")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in fig.items():
        t.add_row(k, f"{v:,.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v))
    console.print(t)


def bench_exploration(truth: Annotated[Path, typer.Option(help="the simulator's _truth/accounts.parquet of the lake's platform")],
                      strategy: Annotated[list[str] | None, typer.Option(help="AI strategy to hold out (repeatable)")] = None,
                      days: Annotated[int, typer.Option(help="days of review and retraining")] = 5,
                      error_rate: Annotated[float, typer.Option(help="share of simulated moderator decisions that are wrong")] = 0.01,
                      seed: Annotated[int, typer.Option(help="seed of the moderators' mistakes")] = 7,
                      env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Hold out each strategy's labels, then review and retrain day by day with and without exploration;
    prints the share of the held-out strategy caught per day (devtools/bench/exploration.py); every figure,
    with the recall and PR-AUC of its still-unlabelled accounts, goes to MLflow."""
    from genuine.core.session import get_spark
    from genuine.devtools.bench.exploration import bench_exploration as bench

    cfg = load_cfg(env, set_)
    out = bench(get_spark(cfg), cfg, truth, strategy or ["llm_persona", "loose_ring", "dormant_sleeper", "device_ring"],
                days, error_rate, seed)
    wide = out.pivot_table(index=["strategy", "share"], columns="day", values="caught", dropna=False)
    t = Table(title=f"share of a strategy nobody labelled that is caught (confirmed by moderators, or flagged at "
                    f"0.5 % human FPR), by day ({days} days of review and retraining)")
    t.add_column("strategy")
    t.add_column("exploration share", justify="right")
    for d in wide.columns:
        t.add_column(f"day {d}", justify="right")
    for (s, share), vals in wide.iterrows():
        t.add_row(s, f"{share:.2f}", *[f"{v:.3f}" for v in vals])
    console.print(t)
    cpu = out["cpu_s"].sum()
    console.print(f"CPU {cpu:.1f} s in the driver for {len(out)} retrainings", soft_wrap=True)


def bench_drift_loop(accounts: Annotated[int, typer.Option(help="simulated accounts")] = 2000,
                     days: Annotated[int, typer.Option(help="simulated days (the shift is simulate.shift.at_day)")] = 14,
                     seed: Annotated[int, typer.Option(help="simulator seed")] = 7,
                     out: Annotated[Path, typer.Option(help="folder for the export and the moderators' files")] = Path(
                         "out/drift-loop"),
                     snapshot_every: Annotated[int, typer.Option(help="days between feature snapshots")] = 2,
                     holdout_days: Annotated[int | None, typer.Option(
                         help="retrain's holdout (default: a third of the days after the shift)")] = None,
                     text_detector: Annotated[bool, typer.Option(
                         help="train and register the AI-text detector first if none is")] = False,
                     env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Train on the platform before its AI strategies shift, score after it, monitor, review, retrain,
    score again (devtools/bench/drift_loop.py); prints the figures before and after and each step's time."""
    from genuine.devtools.bench.drift_loop import run, table_rows

    res = run(load_cfg(env, set_), accounts, days, seed, out, snapshot_every=snapshot_every,
              holdout_days=holdout_days, text_detector=text_detector)
    t = Table(title=f"drift loop: {accounts} accounts x {days} days, seed {seed}, shift on {res.shift_day} "
                    f"(new: {res.strategies[0] if res.strategies else '-'})")
    for c in ("figure", "before (stale champion)", "after (retrain)"):
        t.add_column(c)
    for row in table_rows(res):
        t.add_row(*row)
    console.print(t)
    console.print(f"monitor exit {res.monitor_exit}; moved: {', '.join(res.moved) or 'nothing'}", soft_wrap=True)
    console.print(f"snapshots {', '.join(map(str, res.snapshots))}; retrain holdout_days {res.holdout_days}; "
                  f"text detector {'yes' if res.text_detector else 'no (AI-text features null)'}", soft_wrap=True)
    console.print(f"moderators: {res.moderators}; retrain exit {res.retrain_exit}; {res.retrain_holdout}", soft_wrap=True)
    for reason in res.retrain_reasons:
        console.print(f"  gate: {escape(reason)}", soft_wrap=True)
    steps = Table(title="seconds per step")
    for c in ("step", "wall s", "CPU s (driver + JVM)"):
        steps.add_column(c, justify="left" if c == "step" else "right")
    for name, r in res.steps.items():
        steps.add_row(name, f"{r.wall_s:.1f}", f"{r.cpu_s_total:.1f}")
    console.print(steps)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("train")(train)
    app.command("retrain")(retrain)
    app.command("promote")(promote)
    app.command("score")(score)
    bench_app.command("score")(bench_score)
    bench_app.command("exploration")(bench_exploration)
    bench_app.command("drift-loop")(bench_drift_loop)
