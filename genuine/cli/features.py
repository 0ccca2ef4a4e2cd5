"""`genuine` commands for the features stage: the feature job, its generated docs and its benchmark."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg, make_table

DateOpt = Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"],
                                                   help="snapshot date (UTC); default: the day of the latest event")]


def features(as_of: DateOpt = None,
             truth: Annotated[Path | None, typer.Option(help="ground truth (simulator: EXPORT/_truth/accounts.parquet) "
                                                              "for the separation report")] = None,
             docs: Annotated[bool, typer.Option("--docs", help="only regenerate docs/features.md from the registry "
                                                              "(no Spark) and exit")] = False,
             env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Compute one feature snapshot for every account into the Delta feature table."""
    if docs:
        from genuine.features.catalog import DOCS_PATH, write_docs  # lazy: CLI start-up (no Spark session)

        write_docs(DOCS_PATH)
        console.print(f"feature docs written to [bold]{DOCS_PATH}[/bold]")
        return
    from genuine.core.errors import NoEventsError, TruthError  # lazy, with the job: CLI start-up
    from genuine.jobs.features import run  # lazy: CLI start-up (Spark, MLflow)

    cfg = load_cfg(env, set_)
    try:
        r = run(cfg, as_of.date() if as_of else None, run_id, truth=truth)
    except (TruthError, NoEventsError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if r.skipped:
        console.print(f"run {r.run_id}: nothing written ({r.skipped}); snapshot {r.snapshot_date} holds "
                      f"{r.accounts} rows of this run")
    else:
        console.print(f"feature snapshot [bold]{r.snapshot_date}[/bold]: {r.accounts} accounts -> "
                      f"{cfg.table('features')} version {r.version} (run {r.run_id})")
    console.print("inputs: " + ", ".join(f"{t}@{v}" for t, v in sorted(r.input_versions.items())))
    if r.report is not None:
        console.print(f"separation report: [bold]{r.report.markdown}[/bold]" +
                      "".join(f"\n  heatmap: {p}" for p in r.report.heatmaps))


# --- benchmark -------------------------------------------------------------------------------------

def bench(accounts: Annotated[int, typer.Option(help="simulated accounts")] = 5000,
          days: Annotated[int, typer.Option(help="simulated days")] = 30,
          seed: Annotated[int, typer.Option(help="random seed")] = 7,
          out: Annotated[Path, typer.Option(help="scratch folder: export, lake and MLflow store (lake wiped first unless "
                                                 "--reuse)")]
          = Path("bench-out/features"),
          steps: Annotated[str, typer.Option(help="comma-separated steps to time after ingest: behaviour, content, "
                                                  "network, reports, snapshot (all four at once), job (the real "
                                                  "run: snapshot + Delta write + ledger)")]
          = "behaviour,content,network,reports,snapshot",
          reuse: Annotated[bool, typer.Option("--reuse", help="measure again on the lake an earlier run with the "
                                                              "same accounts, days and seed left in --out")] = False,
          env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Time, CPU, peak memory and events/s per core of each feature family and of the whole snapshot."""
    # Imported here, not at the top: it loads the feature job, MLflow and scikit-learn (seconds of `--help`).
    from genuine.devtools.bench.features import bench_features, check_steps

    chosen = [x.strip() for x in steps.split(",") if x.strip()]
    try:
        check_steps(chosen)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--steps") from None
    f = bench_features(load_cfg(env, set_), accounts, days, out, seed, chosen, reuse=reuse)
    if f["reused_lake"]:
        console.print(f"reusing the lake in {out} (simulated and loaded by an earlier run)")
    console.print(f"features bench: {accounts:,} accounts x {days} days, {f['events']:,} input rows as of the "
                  f"snapshot, {f['cores']} cores, load average {f['load_avg_start'][0]:.1f} -> "
                  f"{f['load_avg_end'][0]:.1f}")
    t = make_table("step", "wall s", "CPU s", "ev/s/core", "ev/CPU s", "py MiB", "JVM MiB", left=("step",))
    for step in f["steps"]:
        m = f[step]
        rate, per_cpu = m.get("events_per_s_per_core"), m.get("events_per_cpu_s")
        t.add_row(step, f"{m['wall_s']:.1f}", f"{m['cpu_s_jvm'] + m['cpu_s_driver']:.1f}",
                  f"{rate:,.0f}" if rate else "-", f"{per_cpu:,.0f}" if per_cpu else "-",
                  f"{m['peak_rss_mib_driver']:.0f}", f"{m['peak_rss_mib_jvm']:.0f}")
    console.print(t)
    console.print("rows: " + ", ".join(f"{k}={v:,}" for k, v in f["rows"].items()))
    console.print("CPU s = JVM (with its Python workers) + driver; ev/s/core = input rows / wall s / cores; "
                  "py / JVM MiB = peak resident memory of the Python driver / the JVM (local mode: driver and "
                  f"executors in one JVM, max heap {f['jvm_max_heap_mib']:.0f} MiB); peaks are "
                  + ("per step, the JVM's an upper bound (it keeps heap it has grown)"
                     if f[f["steps"][0]]["peaks_per_step"] else "process-lifetime high-water marks"))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("features")(features)
    bench_app.command("features")(bench)
