"""`genuine` command line: one sub-command per job, each also runnable as `jobs/<name>.py`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from genuine.cli import console as console_cli
from genuine.cli import daily, enforcement, features, models, monitor, ops, text_detector
from genuine.cli import ingest as ingest_cli
from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg, make_table
from genuine.core.config import Config
from genuine.core.errors import JavaMissingError
from genuine.core.logs import setup_logging
from genuine.devtools.bench.simulate import bench as bench_simulator
from genuine.devtools.demo import DemoResult, console_command
from genuine.devtools.demo import run as run_demo
from genuine.devtools.simulate import run as simulate_export
from genuine.ingest import IngestReport
from genuine.jobs import ingest as ingest_job

if TYPE_CHECKING:   # only a type here; pandas costs a third of `genuine --help`
    import pandas as pd

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures (time, memory, throughput).")
app.add_typer(bench_app, name="bench")
for _area in (ingest_cli, features, models, text_detector, enforcement, monitor, ops, daily, console_cli):
    _area.register(app, bench_app)


@app.command()
def simulate(accounts: Annotated[int, typer.Option(help="number of accounts")] = 3000,
             days: Annotated[int, typer.Option(help="days of activity")] = 14,
             seed: Annotated[int, typer.Option(help="random seed (same seed, same export)")] = 7,
             out: Annotated[Path, typer.Option(help="export folder to write")] = Path("out/export"),
             env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Write a simulated platform export (+ ground truth in OUT/_truth)."""
    summary = simulate_export(load_cfg(env, set_), accounts, days, seed, out)
    console.print(f"export written to [bold]{out}[/bold]: {summary}")


@app.command()
def ingest(export_dir: Path, env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Load a platform export into the raw Delta tables; bad records go to quarantine."""
    cfg = load_cfg(env, set_)
    report = ingest_job.run(cfg, export_dir, run_id)
    _print_ingest(cfg, report)


@app.command()
def demo(accounts: Annotated[int | None, typer.Option(help="simulated accounts (default demo.accounts)")] = None,
         days: Annotated[int | None, typer.Option(help="simulated days (default demo.days)")] = None,
         seed: Annotated[int | None, typer.Option(help="random seed (default demo.seed)")] = None,
         out: Annotated[Path | None, typer.Option(help="simulated export folder (default demo.out)")] = None,
         env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Simulate a platform and run the whole pipeline on the embedded default, then say where it landed."""
    cfg = load_cfg(env, set_)
    result = run_demo(cfg, accounts, days, seed, out)
    console.rule("genuine demo")
    sim = result.steps["simulate"]
    console.print(f"simulated export: [bold]{result.export_dir}[/bold] ({sim.n_accounts} accounts, {sim.days} "
                  f"days, {sim.events} records; ground truth in {sim.truth_path})")
    _print_ingest(cfg, result.steps["ingest"])
    _print_pipeline(cfg, result)
    _print_times(result)
    _print_moderators(cfg, result)


def _print_times(result: DemoResult) -> None:
    """Each step's wall and CPU seconds, so runs on the two Delta engines compare step by step."""
    table = make_table("step", "wall s", "CPU s (Python + JVM)", title=f"time per step, Delta engine {result.engine}",
                       left=("step",))
    for name, t in result.times.items():
        table.add_row(name, f"{t.wall_s:.1f}", f"{t.cpu_s:.1f}")
    total_wall, total_cpu = sum(t.wall_s for t in result.times.values()), sum(t.cpu_s for t in result.times.values())
    table.add_row("all", f"{total_wall:.1f}", f"{total_cpu:.1f}")
    console.print(table)


def _print_moderators(cfg: Config, result: DemoResult) -> None:
    m = result.steps["moderators"]
    if m.review is not None:
        console.print(f"moderator round: {m.decided} queue items decided from the simulator's truth ({m.wrong} wrong "
                      f"on purpose, demo.moderator_error_rate={cfg.demo.moderator_error_rate}); {m.review.applied} "
                      f"applied, {m.review.actions} actions, {m.review.labels} training labels", soft_wrap=True)
    if m.appeals_filed:
        decided = m.appeal.applied if m.appeal is not None else 0
        console.print(f"appeals: {len(m.appeals_filed)} filed, {decided} decided by the appeals officer, "
                      f"{len(m.open_appeals)} open in the console ({', '.join(m.open_appeals) or '-'})", soft_wrap=True)
    console.print("console users: `genuine console add-user NAME --role moderator` (also appeals_officer, auditor, "
                  "admin; asks for the password)", soft_wrap=True, highlight=False, markup=False)
    console.print("open the console on these tables:", soft_wrap=True)
    console.print(f"  {console_command(cfg)}", soft_wrap=True, highlight=False, markup=False)


def _print_pipeline(cfg: Config, result: DemoResult) -> None:
    td = result.steps["text_detector"]
    if td is None:
        console.print("text detector: [yellow]none[/yellow] (no corpus at text_detector.corpus): AI-text features null")
    else:
        version = td["reused_version"] if isinstance(td, dict) else td.version
        console.print(f"text detector: {cfg.mlflow.text_model} version {version}")
    snaps = [*result.steps["training_snapshots"], result.steps["features"]]
    feats = result.steps["features"]
    console.print(f"feature snapshots: {', '.join(str(f.snapshot_date) for f in snaps)} "
                  f"({feats.accounts} accounts each) -> {cfg.table('features')}")
    if feats.report is not None:
        console.print(f"separation report: {feats.report.markdown}")
    tr = result.steps["train"]
    console.print(f"trained {tr.train.model_name} version {tr.train.model_version} ({tr.train.chosen}); promotion: "
                  f"{'promoted' if tr.decision.promoted else 'not promoted'}, champion is version "
                  f"{tr.decision.champion_after}")
    _print_champion(cfg)
    sc = result.steps["score"]
    console.print(f"scores: {sc.rows} rows for snapshot {sc.snapshot_date} by {sc.model_name} version "
                  f"{sc.model_version} -> {sc.table} (version {sc.version})")
    en = result.steps["enforce"]
    console.print(f"enforcement: {en.decisions} decisions (review/auto bands and exploration picks), {en.auto_accounts} actioned "
                  f"automatically, {en.queued} queued for review, {en.held} held by the circuit breaker "
                  f"({en.breaker.get('reason')})")
    rep = result.steps["report"]
    sel = rep.selections.set_index("selection")
    if "precision" in sel:
        for name, row in sel.iterrows():
            console.print(f"  {name:<24} {int(row['flagged']):>6} accounts  precision {row['precision']:.3f}  "
                          f"recall {row['recall']:.3f}" if row["flagged"] else f"  {name:<24} 0 accounts")
    console.print(f"run report: [bold]{rep.markdown}[/bold]  |  run ledger: {cfg.table('runs')}  |  "
                  f"MLflow: {cfg.mlflow.tracking_uri}")


def _print_champion(cfg: Config) -> None:
    # MLflow is imported here, not at the top: it alone would triple the time of `genuine --help`.
    from genuine.core import tracking
    from genuine.models.report import champion_summary

    console.print(champion_table(champion_summary(tracking.configure(cfg.mlflow), cfg.mlflow.account_model)))


CHAMPION_COLUMNS = ("section", "name", "n", "pr_auc", "precision_auto", "recall_auto", "recall_review", "fpr_review")


def champion_table(summary: pd.DataFrame) -> Table:
    """The champion's figures per section (models/report.champion_summary) as a table."""
    cols = list(CHAMPION_COLUMNS)
    t = make_table(*cols, left=("section", "name"),
              title=f"champion {summary.attrs['model_name']} version {summary.attrs['model_version']} "
                    f"(thresholds {summary.attrs['thresholds']})")
    for row in summary[cols].itertuples(index=False):
        t.add_row(*[str(v) if isinstance(v, str) else "-" if v != v else f"{v:.0f}" if k == "n" else f"{v:.3f}"
                    for k, v in zip(cols, row, strict=True)])
    return t


def _print_ingest(cfg: Config, report: IngestReport) -> None:
    t = make_table("entity", "read", "accepted", "new", "quarantined", "read = acc + quar", left=("entity",),
              title=f"ingest {report.run_id}")
    for entity, c in report.entities.items():
        t.add_row(entity, str(c.read), str(c.accepted), str(c.new), str(c.quarantined),
                  "yes" if c.balanced else "[red]NO[/red]")
    console.print(t)
    if report.files_quarantined:
        console.print(f"{report.files_quarantined} unreadable file(s) quarantined whole")
    if report.reasons:
        console.print("quarantine reasons: " + ", ".join(f"{k}={v}" for k, v in sorted(report.reasons.items())))
    for table, version in report.versions.items():
        console.print(f"  {table:<18} {cfg.table(table)}  " +
                      (f"version {version}" if version is not None else "unchanged"))


@bench_app.command("simulate")
def bench_simulate(accounts: Annotated[int, typer.Option(help="simulated accounts")] = 20000,
                   days: Annotated[int, typer.Option(help="simulated days")] = 30,
                   out: Annotated[Path, typer.Option(help="scratch folder for the export")] = Path("bench-out/simulate")) -> None:
    """Time and peak memory of the simulator (run in a fresh process so the peak is this run's)."""
    setup_logging()
    figures = bench_simulator(accounts, days, out)
    t = make_table("figure", "value", left=("figure",), title=f"simulator: {accounts} accounts x {days} days")
    for k, v in figures.items():
        if not isinstance(v, dict):
            t.add_row(k, f"{v:,.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v))
    console.print(t)


def main() -> None:
    try:
        app()
    except JavaMissingError as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(3)


if __name__ == "__main__":
    main()
