"""`genuine train-text-detector` and `genuine bench text-detector`: the per-post AI-text model.

Training is the job jobs/train_text_detector.py (scikit-learn on the driver, a Spark session only for its
run-ledger entry); the benchmark needs no Spark. Imports of the stage sit in the commands: importing
scikit-learn, MLflow and Spark would make every `genuine` invocation (even --help) seconds slower.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genuine.cli.common import EnvOpt, RunOpt, SetOpt, console, load_cfg
from genuine.core.errors import CorpusError
from genuine.models.config import text_detector_config

CorpusOpt = Annotated[list[Path] | None, typer.Option(
    "--corpus", help="JSON Lines file, folder of *.jsonl or glob (repeatable); default: text_detector.corpus")]


def _corpus(given: list[Path] | None, configured: list[str]) -> list[Path]:
    from genuine.models.text_corpus import resolve_corpus  # lazy: CLI start-up (module docstring)

    files = resolve_corpus(list(given) if given else configured)
    if not files:
        console.print("[red]no corpus:[/red] pass --corpus FILE (JSON Lines of {\"text\", \"label\"}) "
                      "or set text_detector.corpus")
        raise typer.Exit(2)
    return files


def train_text_detector(corpus: CorpusOpt = None,
                        alias: Annotated[str, typer.Option(help="registry alias the new version gets")] = "champion",
                        env: EnvOpt = None, set_: SetOpt = None, run_id: RunOpt = None) -> None:
    """Train the AI-text detector on labelled text, log it to MLflow and register it."""
    from genuine.jobs.train_text_detector import run  # lazy: CLI start-up (module docstring)

    cfg = load_cfg(env, set_)
    files = _corpus(corpus, text_detector_config(cfg).corpus)
    try:
        result = run(cfg, files, alias, run_id)
    except CorpusError as exc:
        console.print(f"[red]corpus error:[/red] {exc}")
        raise typer.Exit(2) from None
    t = Table(title=f"{result.registered_name} version {result.version} @{result.alias}")
    t.add_column("held-out metric")
    t.add_column("value", justify="right")
    for k, v in sorted(result.metrics.items()):
        t.add_row(k, f"{v:,.1f}" if k.startswith(("fit_", "predict_")) else f"{v:,.4f}")
    console.print(t)
    console.print(f"MLflow run {result.run_id} ({cfg.mlflow.tracking_uri}); rows per file: {result.n_rows}")


def bench_text_detector(corpus: CorpusOpt = None,
                        folds: Annotated[int, typer.Option(help="cross-validation folds")] = 5,
                        seed: Annotated[int, typer.Option(help="fold shuffling seed")] = 0,
                        env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Out-of-fold AUROC per corpus file, detector vs. the char n-gram baseline, and posts/s."""
    from genuine.devtools.bench.text_detector import bench_text_detector as bench  # lazy: CLI start-up

    cfg = load_cfg(env, set_)
    params = text_detector_config(cfg)
    result = bench(_corpus(corpus, params.corpus), folds=folds, seed=seed, params=params)
    _print_auroc(result, folds)
    for model in ("baseline", "detector"):
        console.print(f"{model}: {result['throughput_posts_per_s'][model]:,.0f} posts/s wall, "
                      f"{result['throughput_posts_per_cpu_s'][model]:,.0f} posts per CPU second, "
                      f"fit {result['fit_seconds_per_fold'][model]:,.1f} s/fold "
                      f"(mean post {result['mean_chars']:.0f} chars)")
    _print_fpr(result["fpr"])


def _f(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.4f}"


def _print_auroc(result: dict, folds: int) -> None:
    lofo = result["leave_one_file_out"]
    t = Table(title=f"text detector, {folds}-fold out-of-fold AUROC; unseen = trained on the other files only")
    for col in ("file", "rows", "baseline", "detector", "gain", "unseen baseline", "unseen detector", "unseen gain"):
        t.add_column(col, justify="left" if col == "file" else "right")
    for name, row in sorted(result["files"].items()):
        un = lofo.get(name, {})
        t.add_row(name, f"{row['rows']:,}", _f(row.get("baseline")), _f(row.get("detector")),
                  _f(row["detector"] - row["baseline"]) if {"detector", "baseline"} <= set(row) else "-",
                  _f(un.get("baseline")), _f(un.get("detector")),
                  _f(un["detector"] - un["baseline"]) if un else "-")
    console.print(t)


def _print_fpr(fpr: dict) -> None:
    share = fpr["human_share"]
    for kind, table in fpr["groups"].items():
        t = Table(title=f"false-positive rate on human text by {kind}: at the score flagging {share:.0%} of all "
                        "human texts, and at p_ai >= 0.5")
        cols = [f"{m}_{k}" for k in ("human_share", "p05") for m in ("baseline", "detector")]
        for col in (kind, "humans", *(c.replace("_human_share", f" @{share:.0%}").replace("_p05", " @0.5")
                                      for c in cols)):
            t.add_column(col, justify="left" if col == kind else "right")
        for g, row in table.items():
            label = g.replace("lt", "<").replace("ge", ">=").replace("_", "-") if kind == "length" else g
            t.add_row(label, f"{row['humans']:,}",
                      *(_f(row[c]) for c in cols))
        console.print(t)
    for m in ("baseline", "detector"):
        th, rec = fpr["thresholds"][m], fpr["ai_recall"][m]
        console.print(f"{m}: the {share:.0%} threshold is p_ai >= {th['human_share']:.3f}; it catches "
                      f"{rec['human_share']:.1%} of AI texts, p_ai >= 0.5 catches {rec['p05']:.1%}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("train-text-detector")(train_text_detector)
    bench_app.command("text-detector")(bench_text_detector)
