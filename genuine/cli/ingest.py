"""`genuine bench ingest`: throughput of the real ingest job on clean Parquet, clean JSON Lines and a
broken export (the `genuine ingest` command itself is in genuine/cli/app.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genuine.cli.common import EnvOpt, SetOpt, console, load_cfg, make_table


def bench(accounts: Annotated[int, typer.Option(help="simulated accounts (10,000 x 30 days: ~1.2M rows)")] = 10000,
          days: Annotated[int, typer.Option(help="simulated days")] = 30,
          seed: Annotated[int, typer.Option(help="random seed")] = 7,
          broken: Annotated[float, typer.Option(help="share of broken records in the broken export")] = 0.01,
          exports: Annotated[str, typer.Option(help="comma-separated: parquet, jsonl, broken")] = "parquet,jsonl,broken",
          out: Annotated[Path, typer.Option(help="scratch folder: exports (kept and reused for the same "
                                                 "platform) and one lake per export (wiped first)")]
          = Path("bench-out/ingest"),
          env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Rows/s, wall and CPU seconds of `genuine ingest` per export kind; read = accepted + quarantined."""
    # Imported here: it loads Spark (seconds of `--help`).
    from genuine.devtools.bench.ingest import EXPORTS, bench_ingest

    chosen = [x.strip() for x in exports.split(",") if x.strip()]
    if sorted(set(chosen) - set(EXPORTS)):
        raise typer.BadParameter(f"{exports!r}: expected some of {', '.join(EXPORTS)}", param_hint="--exports")
    f = bench_ingest(load_cfg(env, set_), accounts, days, out, seed, broken, chosen)
    console.print(f"ingest bench: {accounts:,} accounts x {days} days, {f['cores']} cores, load average "
                  f"{f['load_avg_start'][0]:.1f} -> {f['load_avg_end'][0]:.1f}"
                  + (" (exports reused)" if f["reused_exports"] else ""))
    t = make_table("export", "rows read", "accepted", "quarantined", "balanced", "wall s", "CPU s", "rows/s",
                   "rows/CPU s", "JIT s", "rows/CPU s w/o JIT", left=("export",))
    for name in chosen:
        m = f[name]
        t.add_row(name, f"{m['rows']:,}", f"{m['accepted']:,}", f"{m['quarantined']:,}",
                  "yes" if m["balanced"] else "[red]NO[/red]", f"{m['wall_s']:.1f}",
                  f"{m['cpu_s_driver'] + m['cpu_s_jvm']:.1f}", f"{m['rows_per_s']:,.0f}", f"{m['rows_per_cpu_s']:,.0f}",
                  f"{m['jit_s']:.1f}", "-" if m["rows_per_cpu_s_without_jit"] is None
                  else f"{m['rows_per_cpu_s_without_jit']:,.0f}")
    console.print(t)
    if "broken" in chosen:
        written = f["broken"]["written"]
        console.print("broken export, lines written per entity: " + json_line(written))
        console.print("quarantine reasons: " + ", ".join(f"{k}={v:,}" for k, v in sorted(f["broken"]["reasons"].items())))
    console.print("CPU s = driver + JVM (local mode: driver and executors in one JVM, with its Python workers); "
                  "rows/s = rows read / wall s; JIT s = the JVM's JIT compilers' time in the run (a fixed cost of a "
                  "fresh JVM, not per row)")


def json_line(written: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{e}: " + ", ".join(f"{k}={v:,}" for k, v in c.items()) for e, c in written.items())


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    bench_app.command("ingest")(bench)
