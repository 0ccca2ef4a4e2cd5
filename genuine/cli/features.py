"""`genuine` commands for the features stage: the feature job, its generated docs and its benchmark."""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg

log = logging.getLogger(__name__)

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
        from genuine.features.catalog import DOCS_PATH, write_docs

        write_docs(DOCS_PATH)
        console.print(f"feature docs written to [bold]{DOCS_PATH}[/bold]")
        return
    from genuine.core.errors import NoEventsError, TruthError
    from genuine.jobs.features import run

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

def _status_kib(pid: int | str, key: str) -> int | None:
    """A `VmHWM`/`VmRSS` line of /proc/<pid>/status in KiB (None off Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak(pid: int | str) -> bool:
    """Reset the kernel's peak-RSS mark of a process we own (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _cpu_seconds(pid: int | str) -> float | None:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _tree_cpu_seconds(pid: str) -> float:
    """CPU seconds of a process and all its live descendants (the JVM's Python workers run Python UDFs)."""
    children: dict[str, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = stat.read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        children.setdefault(ppid, []).append(stat.parent.name)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += _cpu_seconds(p) or 0.0
        todo.extend(children.get(p, []))
    return total


def _cores(spark: Any) -> int:
    """Task slots of the session: N of local[N] (all cores for local[*]), else the default parallelism."""
    master = spark.sparkContext.master
    if master.startswith("local"):
        inner = master[master.find("[") + 1:master.find("]")] if "[" in master else "1"
        n = inner.split(",")[0]
        return (os.cpu_count() or 1) if n == "*" else int(n)
    return spark.sparkContext.defaultParallelism


class _Meter:
    """Wall time, CPU time and peak resident memory of one measured step, for the driver and the JVM.

    Before each step the JVM collects garbage and the kernel's peak-RSS marks of both processes are reset,
    so a step's peak is its own; but a JVM rarely returns heap pages to the OS, so the JVM figure is
    the larger of the step's own peak and what earlier steps left resident (an upper bound).
    """

    def __init__(self, spark: Any) -> None:
        jvm = spark.sparkContext._jvm
        self.jvm = jvm
        self.jvm_pid = str(jvm.java.lang.ProcessHandle.current().pid())
        self.max_heap_mib = jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**20

    def measure(self, step: Callable[[], Any]) -> dict[str, Any]:
        self.jvm.java.lang.System.gc()
        resettable = _reset_peak("self") and _reset_peak(self.jvm_pid)
        cpu0 = (_cpu_seconds("self") or 0.0, _tree_cpu_seconds(self.jvm_pid))
        began = time.perf_counter()
        step()
        wall = time.perf_counter() - began
        cpu1 = (_cpu_seconds("self") or 0.0, _tree_cpu_seconds(self.jvm_pid))
        driver_peak = _status_kib("self", "VmHWM") if resettable else None
        return {
            "wall_s": wall,
            "cpu_s_driver": cpu1[0] - cpu0[0],
            "cpu_s_jvm": cpu1[1] - cpu0[1],
            "peak_rss_mib_driver": (driver_peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024,
            "peak_rss_mib_jvm": (_status_kib(self.jvm_pid, "VmHWM") or 0) / 1024,
            "peaks_per_step": resettable,
        }


# --load choice -> name of its timed step
LOAD_STEPS = {"ingest": "ingest", "trusted": "load"}


def bench_features(accounts: int, days: int, out: Path, seed: int, env: str | None,
                   overrides: list[str], steps: list[str] | None = None, reuse: bool = False,
                   load: str = "ingest") -> dict[str, Any]:
    """Simulate (before the JVM starts), load the export, then time each family and the whole snapshot.

    `load` is "ingest" (the real ingest job, timed as step `ingest`) or "trusted" (genuine/ingest/trusted.py:
    the same raw rows without validation, timed as step `load`), for inputs too large to ingest here.
    With `reuse`, a lake this command built earlier in `out` for the same accounts, days and seed is
    measured again without simulating and loading.
    """
    from genuine.devtools.simulate import run as simulate

    wanted = _check_steps(steps)
    if load not in LOAD_STEPS:
        raise ValueError(f"unknown load {load!r}; known: {', '.join(LOAD_STEPS)}")
    load_step = LOAD_STEPS[load]
    lake_root, mlflow_db, export = out / "lake", out / "mlflow.db", out / "export"
    marker, spec = out / "bench-input.json", {"accounts": accounts, "days": days, "seed": seed}
    reused = reuse and marker.is_file() and json.loads(marker.read_text()) == spec
    if not reused:
        shutil.rmtree(lake_root, ignore_errors=True)
        mlflow_db.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
    cfg = load_cfg(env, [*overrides, f"lake.root={lake_root}", f"mlflow.tracking_uri=sqlite:///{mlflow_db.resolve()}"])
    figures: dict[str, Any] = {"accounts": accounts, "days": days, "reused_lake": reused}
    began = time.perf_counter()
    if not reused:
        summary = simulate(cfg, accounts, days, seed, export)        # forks workers: no JVM yet
        figures["simulated_rows"] = summary.events
    figures["simulate_s"] = time.perf_counter() - began

    from genuine.core.session import get_spark
    from genuine.devtools.trusted_load import run_trusted
    from genuine.jobs import ingest

    spark = get_spark(cfg)
    figures["load_avg_start"] = os.getloadavg()
    meter = _Meter(spark)
    if not reused:
        loader = {"ingest": ingest.run, "trusted": run_trusted}[load]
        figures[load_step] = meter.measure(lambda: loader(cfg, export, spark=spark))
        marker.write_text(json.dumps(spec))
    figures.update(measure_steps(cfg, spark, wanted, meter))
    if not reused:
        figures["steps"] = [load_step, *figures["steps"]]
        _rates(figures, [load_step])
    figures["load_avg_end"] = os.getloadavg()
    log.info("bench features: %s", figures)
    return figures


def _check_steps(steps: list[str] | None) -> list[str]:
    from genuine.features.registry import FAMILIES

    wanted = steps or [*FAMILIES, "snapshot"]
    unknown = sorted(set(wanted) - {*FAMILIES, "snapshot", "job"})
    if unknown:
        raise ValueError(f"unknown bench step(s) {unknown}; known: {[*FAMILIES, 'snapshot', 'job']}")
    return wanted


def measure_steps(cfg: Any, spark: Any, steps: list[str], meter: _Meter | None = None) -> dict[str, Any]:
    """Time each wanted step on the lake of `cfg`, inputs cut at the default snapshot date.

    Every step reads its inputs from the Delta tables and ends in a `noop` write, so a step's time is
    the work of that family alone (scan, cut, aggregate), without the cost of storing its output. The
    optional `job` step is the real `genuine features` run: snapshot + Delta write + run ledger.
    """
    from genuine.core.lake import Lake
    from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
    from genuine.features.registry import FAMILIES, Family
    from genuine.features.snapshot import (
        FamilyConfigs,
        FeaturesConfig,
        Inputs,
        assemble,
        cut_inputs,
        end_of_day,
        family_frame,
    )
    from genuine.jobs import features as job

    wanted = _check_steps(steps)
    meter = meter or _Meter(spark)
    fcfg = cfg.section("features", FeaturesConfig)
    job._ensure_checkpoint_dir(spark, cfg, fcfg.snapshot)
    lake = Lake(spark, cfg)
    frames = {e: lake.read(RAW_TABLE[e]) if lake.exists(RAW_TABLE[e]) else spark.createDataFrame([], s)
              for e, s in RAW_SCHEMAS.items()}
    snapshot_date = job.default_snapshot_date(frames["interactions"], frames["posts"])
    as_of = end_of_day(snapshot_date)
    scores = job.post_scores(lake, cfg, frames["posts"], "bench")
    inputs = cut_inputs(Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                               frames["reports"], frames["labels"], scores), as_of)
    rows = {e: getattr(inputs, e).count() for e in RAW_SCHEMAS}
    figures: dict[str, Any] = {"cores": _cores(spark), "snapshot_date": snapshot_date, "rows": rows,
                               "events": sum(rows.values()), "jvm_max_heap_mib": meter.max_heap_mib}
    cfgs = FamilyConfigs.of(fcfg)

    def family_step(fam: Family) -> Callable[[], None]:
        return lambda: family_frame(fam, inputs, as_of, cfgs).write.format("noop").mode("overwrite").save()

    for fam in FAMILIES:
        if fam in wanted:
            figures[fam] = meter.measure(family_step(fam))
            log.info("bench features: %s %s", fam, figures[fam])

    def whole() -> None:
        parts = [family_frame(fam, inputs, as_of, cfgs) for fam in FAMILIES]
        assemble(parts, snapshot_date, as_of, {}, "bench").write.format("noop").mode("overwrite").save()

    if "snapshot" in wanted:
        figures["snapshot"] = meter.measure(whole)
    if "job" in wanted:
        figures["job"] = meter.measure(lambda: job.run(cfg, snapshot_date, spark=spark))
    figures["steps"] = [s for s in (*FAMILIES, "snapshot", "job") if s in wanted]
    _rates(figures, figures["steps"])
    return figures


def _rates(figures: dict[str, Any], steps: list[str]) -> None:
    """events/s per core (wall) and events per CPU second of the given measured steps, in place."""
    for step in steps:
        m = figures[step]
        m["events_per_s_per_core"] = figures["events"] / m["wall_s"] / figures["cores"] if m["wall_s"] else None
        cpu = m["cpu_s_jvm"] + m["cpu_s_driver"]
        m["events_per_cpu_s"] = figures["events"] / cpu if cpu else None


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
          load: Annotated[str, typer.Option(help="how the simulated export reaches the raw tables: ingest (the real "
                                                 "job, timed) or trusted (same rows, no validation; for inputs "
                                                 "too large to ingest here)")] = "ingest",
          env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Time, CPU, peak memory and events/s per core of each feature family and of the whole snapshot."""
    chosen = [x.strip() for x in steps.split(",") if x.strip()]
    try:
        _check_steps(chosen)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--steps") from None
    if load not in LOAD_STEPS:
        raise typer.BadParameter(f"{load!r}: expected one of {', '.join(LOAD_STEPS)}", param_hint="--load")
    f = bench_features(accounts, days, out, seed, env, list(set_ or []), chosen, reuse=reuse, load=load)
    if f["reused_lake"]:
        console.print(f"reusing the lake in {out} (simulated and loaded by an earlier run)")
    console.print(f"features bench: {accounts:,} accounts x {days} days, {f['events']:,} input rows as of the "
                  f"snapshot, {f['cores']} cores, load average {f['load_avg_start'][0]:.1f} -> "
                  f"{f['load_avg_end'][0]:.1f}")
    t = Table()
    for col in ("step", "wall s", "CPU s", "ev/s/core", "ev/CPU s", "py MiB", "JVM MiB"):
        t.add_column(col, justify="left" if col == "step" else "right")
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
