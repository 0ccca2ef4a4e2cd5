"""`genuine train-text-detector` and `genuine bench text-detector`: the per-post AI-text model.

Neither needs Spark: training is scikit-learn on the driver and the record of a training is its MLflow run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genuine.cli.common import EnvOpt, SetOpt, console, load_cfg

CorpusOpt = Annotated[list[Path] | None, typer.Option(
    "--corpus", help="JSON Lines file, folder of *.jsonl or glob (repeatable); default: text_detector.corpus")]


def _corpus(given: list[Path] | None, configured: list[str]) -> list[Path]:
    from genuine.models.text_detector import resolve_corpus

    files = resolve_corpus(list(given) if given else configured)
    if not files:
        console.print("[red]no corpus:[/red] pass --corpus FILE (JSON Lines of {\"text\", \"label\"}) "
                      "or set text_detector.corpus")
        raise typer.Exit(2)
    return files


def train_text_detector(corpus: CorpusOpt = None,
                        alias: Annotated[str, typer.Option(help="registry alias the new version gets")] = "champion",
                        env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Train the AI-text detector on labelled text, log it to MLflow and register it."""
    from genuine.core.errors import CorpusError
    from genuine.models.text_detector import text_detector_config
    from genuine.models.text_detector import train_text_detector as train

    cfg = load_cfg(env, set_)
    params = text_detector_config(cfg)
    files = _corpus(corpus, params.corpus)
    try:
        result = train(files, cfg, alias=alias, params=params)
    except CorpusError as exc:
        console.print(f"[red]corpus error:[/red] {exc}")
        raise typer.Exit(2) from None
    t = Table(title=f"{result.registered_name} version {result.version} @{result.alias}")
    t.add_column("held-out metric")
    t.add_column("value", justify="right")
    for k, v in sorted(result.metrics.items()):
        t.add_row(k, f"{v:,.4f}" if k.startswith("heldout") else f"{v:,.1f}")
    console.print(t)
    console.print(f"MLflow run {result.run_id} ({cfg.mlflow.tracking_uri}); rows per file: {result.n_rows}")


def bench_text_detector(corpus: CorpusOpt = None,
                        folds: Annotated[int, typer.Option(help="cross-validation folds")] = 5,
                        seed: Annotated[int, typer.Option(help="fold shuffling seed")] = 0,
                        env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Out-of-fold AUROC per corpus file, detector vs. the char n-gram baseline, and posts/s."""
    from genuine.models.text_detector import bench_text_detector as bench
    from genuine.models.text_detector import text_detector_config

    cfg = load_cfg(env, set_)
    params = text_detector_config(cfg)
    result = bench(_corpus(corpus, params.corpus), folds=folds, seed=seed, params=params)
    t = Table(title=f"text detector, {folds}-fold out-of-fold AUROC")
    for col in ("file", "rows", "baseline", "detector"):
        t.add_column(col, justify="left" if col == "file" else "right")
    for name, row in sorted(result["files"].items()):
        t.add_row(name, f"{row['rows']:,}", f"{row['baseline']:.4f}", f"{row['detector']:.4f}")
    console.print(t)
    for model in ("baseline", "detector"):
        console.print(f"{model}: {result['throughput_posts_per_s'][model]:,.0f} posts/s wall, "
                      f"{result['throughput_posts_per_cpu_s'][model]:,.0f} posts per CPU second, "
                      f"fit {result['fit_seconds_per_fold'][model]:,.1f} s/fold "
                      f"(mean post {result['mean_chars']:.0f} chars)")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("train-text-detector")(train_text_detector)
    bench_app.command("text-detector")(bench_text_detector)
