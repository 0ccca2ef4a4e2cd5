"""Training, registration and evaluation of the AI-text detector (scikit-learn on the driver, no Spark).

Training holds out a stratified share of every corpus file x label for the reported AUROC per file, then
(by default) refits on all rows and registers that model with an alias. With `cv_folds` it also logs the
figures of the benchmark (devtools/bench/text_detector.py), computed by the same `evaluate`: out-of-fold
AUROC per file for the detector and the baseline, leave-one-file-out AUROC, predict speed, and the
false-positive rate on human text by language and length.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import joblib
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from genuine.core import tracking
from genuine.core.config import Config
from genuine.core.errors import CorpusError
from genuine.models.config import TextDetectorConfig, text_detector_config
from genuine.models.pyfunc import PIPELINE_FILE, pip_requirements
from genuine.models.text_corpus import read_corpus
from genuine.models.text_detector import (
    CHAMPION,
    TEXT_COL,
    TextDetectorModel,
    build_baseline,
    build_pipeline,
    predict_p_ai,
)
from genuine.models.text_features import cjk_share

log = logging.getLogger(__name__)

TEXT_MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "joblib", "jieba", "wordfreq")
MODELS = ("baseline", "detector")


# --- fitting --------------------------------------------------------------------------------------------

def source_weights(sources: np.ndarray | pd.Series) -> np.ndarray:
    """Weights that give every corpus file the same total (mean 1): 4,203 English summaries must not drown
    690 Chinese answers, the texts closest to social posts."""
    s = pd.Series(np.asarray(sources))
    w = 1.0 / s.map(s.value_counts()).to_numpy(dtype=np.float64)
    return w / w.mean()


def fit_detector(params: TextDetectorConfig, texts: list[str], labels: np.ndarray,
                 sources: np.ndarray | pd.Series) -> Pipeline:
    """build_pipeline(params) fitted, with every file weighed equally when `balance_sources`."""
    fit_params = {"clf__sample_weight": source_weights(sources)} if params.balance_sources else {}
    return build_pipeline(params).fit(texts, labels, **fit_params)


def fit_model(name: str, params: TextDetectorConfig, texts: list[str], labels: np.ndarray,
              sources: np.ndarray | pd.Series) -> Pipeline:
    """"detector" or "baseline" (the README's, unweighted: it is the reference as published)."""
    if name == "detector":
        return fit_detector(params, texts, labels, sources)
    return build_baseline().fit(texts, labels)


# --- evaluation -----------------------------------------------------------------------------------------

class Meter(Protocol):
    """What `evaluate` times fits and predictions with: devtools' ProcessMeter, or `ProcessClock`."""

    def span(self) -> AbstractContextManager[Any]: ...


@dataclass
class ClockReading:
    wall_s: float = 0.0
    cpu_s_total: float = 0.0


class ProcessClock:
    """Wall and CPU seconds of this process, for training, which runs below the dev tools and so without
    their ProcessMeter; for one process without children both read the same kernel counters."""

    @contextmanager
    def span(self) -> Iterator[ClockReading]:
        reading = ClockReading()
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield reading
        finally:
            reading.wall_s = time.perf_counter() - wall
            reading.cpu_s_total = time.process_time() - cpu


def per_file_auroc(sources: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUROC per corpus file (files with a single label in the rows given are left out, with a warning)."""
    out: dict[str, float] = {}
    for source in sorted(set(sources)):
        idx = sources == source
        if len(np.unique(labels[idx])) < 2:
            log.warning("corpus %s has a single label in this split: no AUROC", source)
            continue
        out[source] = float(roc_auc_score(labels[idx], scores[idx]))
    return out


def text_language(texts: pd.Series, lang: pd.Series) -> np.ndarray:
    """The corpus's `lang`, else "zh" when over a fifth of the characters are Chinese, else "en"."""
    guess = texts.map(lambda t: "zh" if cjk_share(t) > 0.2 else "en")
    return lang.where(lang.notna(), guess).to_numpy(dtype=object)


def length_buckets(texts: pd.Series, edges: list[int]) -> tuple[np.ndarray, list[str]]:
    """Bucket key per text and the keys in order: lt50, 50_199, ge200 for edges [50, 200]."""
    keys = [f"lt{edges[0]}", *(f"{a}_{b - 1}" for a, b in zip(edges, edges[1:], strict=False)), f"ge{edges[-1]}"]
    return np.asarray(keys, dtype=object)[np.searchsorted(edges, texts.str.len().to_numpy(), side="right")], keys


def fpr_tables(corpus: pd.DataFrame, scores: dict[str, np.ndarray], human_share: float,
               edges: list[int]) -> dict[str, Any]:
    """False-positive rate on human texts, by language and by length bucket, per model, at two thresholds:
    the score that flags `human_share` of all human texts, and P(ai) >= 0.5. Also the share of AI texts
    each threshold catches (the price of the threshold)."""
    human = corpus["label"].to_numpy() == 0
    groups = {"lang": text_language(corpus["text"], corpus["lang"])}
    groups["length"], length_keys = length_buckets(corpus["text"], edges)
    out: dict[str, Any] = {"human_share": human_share, "thresholds": {}, "ai_recall": {}, "groups": {}}
    for model, s in scores.items():
        at_share = float(np.quantile(s[human], 1.0 - human_share, method="higher"))
        out["thresholds"][model] = {"human_share": at_share, "p05": 0.5}
        out["ai_recall"][model] = {k: float((s[~human] >= t).mean()) for k, t in out["thresholds"][model].items()}
    for kind, key in groups.items():
        order = length_keys if kind == "length" else sorted(set(key))
        table = out["groups"].setdefault(kind, {})
        for g in order:
            idx = human & (key == g)
            row: dict[str, Any] = {"humans": int(idx.sum())}
            for model, s in scores.items():
                for k, t in out["thresholds"][model].items():
                    row[f"{model}_{k}"] = float((s[idx] >= t).mean()) if idx.any() else float("nan")
            table[g] = row
    return out


def evaluate(corpus: pd.DataFrame, params: TextDetectorConfig, folds: int, seed: int, *,
             meter: Meter | None = None, leave_one_file_out: bool = True) -> dict[str, Any]:
    """Both models on the same stratified K folds (strata = file x label): out-of-fold AUROC per file, fit
    and predict time, FPR tables; then, with 2+ files, each file scored by models trained on the others."""
    meter = meter or ProcessClock()
    texts = corpus["text"].to_numpy(dtype=object)
    labels = corpus["label"].to_numpy()
    sources = corpus["source"].to_numpy(dtype=object)
    strata = corpus["source"].astype(str) + "/" + corpus["label"].astype(str)
    oof = {name: np.zeros(len(corpus)) for name in MODELS}
    seconds = {name: {"fit_wall": 0.0, "predict_wall": 0.0, "predict_cpu": 0.0} for name in MODELS}
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, strata)):
        for name in MODELS:
            with meter.span() as fit:
                fitted = fit_model(name, params, list(texts[tr]), labels[tr], sources[tr])
            with meter.span() as pred:
                oof[name][te] = fitted.predict_proba(list(texts[te]))[:, 1]
            seconds[name]["fit_wall"] += fit.wall_s
            seconds[name]["predict_wall"] += pred.wall_s
            seconds[name]["predict_cpu"] += pred.cpu_s_total
        log.info("text detector evaluation: fold %d/%d done", k + 1, folds)
    files = {src: {"rows": int((sources == src).sum())} for src in sorted(set(sources))}
    for name in MODELS:
        for src, auc in per_file_auroc(sources, labels, oof[name]).items():
            files[src][name] = auc
    result: dict[str, Any] = {
        "folds": folds, "seed": seed, "params": params.model_dump(), "rows": len(corpus), "files": files,
        "throughput_posts_per_s": {n: len(corpus) / max(s["predict_wall"], 1e-9) for n, s in seconds.items()},
        "throughput_posts_per_cpu_s": {n: len(corpus) / max(s["predict_cpu"], 1e-9) for n, s in seconds.items()},
        "fit_seconds_per_fold": {n: s["fit_wall"] / folds for n, s in seconds.items()},
        "mean_chars": float(corpus["text"].str.len().mean()),
        "fpr": fpr_tables(corpus, oof, params.fpr_human_share, params.fpr_length_edges),
        "leave_one_file_out": {},
    }
    if leave_one_file_out and len(files) > 1:
        result["leave_one_file_out"] = leave_one_file_out_auroc(corpus, params)
    return result


def leave_one_file_out_auroc(corpus: pd.DataFrame, params: TextDetectorConfig) -> dict[str, dict[str, float]]:
    """AUROC on each file of models trained on all the other files: how far the detector carries to a
    kind of text it was never shown, against the baseline doing the same."""
    texts = corpus["text"].to_numpy(dtype=object)
    labels = corpus["label"].to_numpy()
    sources = corpus["source"].to_numpy(dtype=object)
    out: dict[str, dict[str, float]] = {}
    for held in sorted(set(sources)):
        te, tr = sources == held, sources != held
        if len(np.unique(labels[te])) < 2 or len(np.unique(labels[tr])) < 2:
            log.warning("leave-one-file-out: %s or the rest has a single label, skipped", held)
            continue
        out[held] = {}
        for name in MODELS:
            fitted = fit_model(name, params, list(texts[tr]), labels[tr], sources[tr])
            out[held][name] = float(roc_auc_score(labels[te], fitted.predict_proba(list(texts[te]))[:, 1]))
        log.info("leave-one-file-out %s: %s", held, {k: round(v, 4) for k, v in out[held].items()})
    return out


def metric_key(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", name)


def evaluation_metrics(result: dict[str, Any]) -> dict[str, float]:
    """`evaluate`'s figures as flat MLflow metric names (cv_auroc_detector_<file>, lofo_auroc_..., fpr_...)."""
    out: dict[str, float] = {}
    for src, row in result["files"].items():
        for name in MODELS:
            if name in row:
                out[f"cv_auroc_{name}_{metric_key(src)}"] = row[name]
        if all(name in row for name in MODELS):
            out[f"cv_auroc_gain_{metric_key(src)}"] = row["detector"] - row["baseline"]
    for src, row in result["leave_one_file_out"].items():
        for name, auc in row.items():
            out[f"lofo_auroc_{name}_{metric_key(src)}"] = auc
    for name in MODELS:
        out[f"predict_posts_per_cpu_s_{name}"] = result["throughput_posts_per_cpu_s"][name]
    fpr = result["fpr"]
    for name in MODELS:
        out[f"threshold_human_share_{name}"] = fpr["thresholds"][name]["human_share"]
        for k, recall in fpr["ai_recall"][name].items():
            out[f"ai_recall_{k}_{name}"] = recall
    for kind, table in fpr["groups"].items():
        for g, row in table.items():
            for col, v in row.items():
                if col != "humans" and not np.isnan(v):
                    model, k = col.split("_", 1)
                    out[f"fpr_{k}_{model}_{kind}_{metric_key(g)}"] = v
    return out


# --- training and registration --------------------------------------------------------------------------

@dataclass
class TextDetectorResult:
    """What `train_text_detector` produced: the run, the registered version and the in-memory model."""

    run_id: str
    model_uri: str                     # runs:/<run_id>/model
    registered_name: str | None
    version: str | None
    alias: str | None
    metrics: dict[str, float]
    pipeline: Pipeline                 # exactly the pipeline inside the logged pyfunc
    n_rows: dict[str, int] = field(default_factory=dict)

    @property
    def registered_uri(self) -> str | None:
        if self.registered_name is None:
            return None
        return f"models:/{self.registered_name}@{self.alias}" if self.alias else \
            f"models:/{self.registered_name}/{self.version}"


def _holdout_fit(corpus: pd.DataFrame, params: TextDetectorConfig) -> tuple[Pipeline, dict[str, float], int, int]:
    """Fit on all but a stratified holdout of every file x label: the model, its metrics, rows fit and held."""
    strata = corpus["source"] + "/" + corpus["label"].astype(str)
    if (small := strata.value_counts()).min() < 2:
        raise CorpusError(f"every corpus file needs >= 2 rows of each label for a holdout: {small.to_dict()}")
    train_idx, test_idx = train_test_split(np.arange(len(corpus)), test_size=params.holdout_fraction,
                                           random_state=params.seed, stratify=strata)
    train, test = corpus.iloc[train_idx], corpus.iloc[test_idx].reset_index(drop=True)
    clock = ProcessClock()
    with clock.span() as fit:
        pipeline = fit_detector(params, train["text"].tolist(), train["label"].to_numpy(), train["source"])
    with clock.span() as pred:
        held_out = predict_p_ai(pipeline, test["text"])
    per_file = per_file_auroc(test["source"].to_numpy(), test["label"].to_numpy(), held_out)
    metrics = {f"heldout_auroc_{metric_key(k)}": v for k, v in per_file.items()}
    metrics["heldout_auroc_all"] = float(roc_auc_score(test["label"], held_out))
    metrics["fit_seconds"] = fit.wall_s
    metrics["predict_posts_per_s"] = len(test) / max(pred.wall_s, 1e-9)
    log.info("text detector holdout AUROC %s", {k: round(v, 4) for k, v in per_file.items()})
    return pipeline, metrics, len(train), len(test)


def train_text_detector(corpus_files: list[Path], cfg: Config, *, register: bool = True,
                        alias: str = CHAMPION, params: TextDetectorConfig | None = None) -> TextDetectorResult:
    """Fit, evaluate (holdout per file; with cv_folds the benchmark's figures too), log to MLflow as a
    pyfunc, register and alias it."""
    params = params or text_detector_config(cfg)
    corpus = read_corpus(list(corpus_files))
    pipeline, metrics, n_train, n_test = _holdout_fit(corpus, params)
    if params.cv_folds:
        evaluation = evaluate(corpus, params, params.cv_folds, params.seed,
                              leave_one_file_out=params.leave_one_file_out)
        metrics.update(evaluation_metrics(evaluation))
    if params.refit_on_all:
        pipeline = fit_detector(params, corpus["text"].tolist(), corpus["label"].to_numpy(), corpus["source"])
    client = tracking.configure(cfg.mlflow)
    signature = ModelSignature(inputs=Schema([ColSpec("string", TEXT_COL, required=False)]),
                               outputs=Schema([ColSpec("double")]))
    example = pd.DataFrame({TEXT_COL: ["今天去了新开的咖啡店，拿铁一般，甜点不错。",
                                       "In conclusion, this product offers excellent value."]})
    counts = corpus.groupby("source").size().to_dict()
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name="text-detector") as run:
        mlflow.set_tag("genuine.model", "text_detector")
        mlflow.log_params({**params.model_dump(), "corpus_files": ",".join(map(str, corpus_files)),
                           "rows_train": n_train, "rows_holdout": n_test,
                           **{f"rows_{metric_key(k)}": v for k, v in counts.items()}})
        mlflow.log_metrics(metrics)
        artifact = Path(tmp) / PIPELINE_FILE
        joblib.dump(pipeline, artifact)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=TextDetectorModel(), artifacts={"pipeline": str(artifact)},
            signature=signature, input_example=example,
            pip_requirements=pip_requirements(TEXT_MODEL_REQUIREMENTS),
            registered_model_name=cfg.mlflow.text_model if register else None,
        )
        run_id = run.info.run_id
    version = str(info.registered_model_version) if register and info.registered_model_version else None
    if register and alias and version:
        client.set_registered_model_alias(cfg.mlflow.text_model, alias, version)
        log.info("registered %s version %s as @%s", cfg.mlflow.text_model, version, alias)
    return TextDetectorResult(run_id=run_id, model_uri=f"runs:/{run_id}/model",
                              registered_name=cfg.mlflow.text_model if register else None,
                              version=version, alias=alias if register else None,
                              metrics=metrics, pipeline=pipeline, n_rows={k: int(v) for k, v in counts.items()})
