"""AI-generated-text detector: train on labelled JSON Lines, register as an MLflow pyfunc, score every post.

Why a linear model over n-grams and style: it must run on every post of the platform on CPU, so the cost
per post has to stay in the sub-millisecond-to-millisecond range; on the HC3 Plus development split it beats
the character n-gram baseline on every file (docs/text-detector.md has the cross-validated evidence).

Missing text (null, empty or blank) gets P(ai) = NaN from the pyfunc and null from `score_posts`: no text
is no evidence, so a per-account mean must skip it rather than count it as 0.5 (Spark's avg() skips nulls
but not NaN, hence the conversion at the Spark edge).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline

from genuine.core.config import Strict
from genuine.core.errors import CorpusError
from genuine.models.text_features import STYLE_NAMES, StyleFeatures, Truncate, marked, word_ngrams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from genuine.core.config import Config

log = logging.getLogger(__name__)

LABELS = {"human": 0, "ai": 1}
TEXT_COL = "text"
OUTPUT_COL = "p_ai"


class TextDetectorConfig(Strict):
    """Hyper-parameters of the detector (conf: `text_detector:`); defaults are the CV-chosen design."""

    max_chars: int = Field(2000, ge=1, description="texts are cut to this many characters: bounds cost per post")
    char_ngram_max: int = Field(4, ge=1, le=6, description="character n-grams 1..N over the marked text")
    char_min_df: int = Field(2, ge=1, description="an n-gram must occur in this many training texts")
    word_ngrams: bool = Field(True, description="add jieba/regex word unigrams + bigrams")
    word_min_df: int = Field(2, ge=1)
    style: bool = Field(True, description="add stylometric features (punctuation, sentence lengths, connectives)")
    C_text: float = Field(4.0, gt=0, description="inverse L2 strength, logistic regression on tf-idf")
    C_nb: float = Field(4.0, gt=0, description="inverse L2 strength, logistic regression on NB-scaled tf-idf")
    C_style: float = Field(1.0, gt=0, description="inverse L2 strength, logistic regression on style")
    nb_alpha: float = Field(1.0, gt=0, description="smoothing of the naive-Bayes log-count ratios")
    inner_folds: int = Field(3, ge=2, description="inner CV folds that learn the blend weights")
    max_iter: int = Field(3000, ge=100)
    holdout_fraction: float = Field(0.2, gt=0, lt=1, description="share of each file x label held out for metrics")
    refit_on_all: bool = Field(True, description="register a model refit on all rows (metrics stay from the holdout fit)")
    seed: int = 0
    corpus: list[str] = Field(default_factory=list, description=(
        "default corpus files or glob patterns (relative to the working directory) when a command is given "
        "no --corpus; files that are absent are skipped with a warning"))


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


# --- corpus --------------------------------------------------------------------------------------------


def read_corpus(files: list[Path]) -> pd.DataFrame:
    """Read labelled JSON Lines into text, label (1 = ai), lang, source; any bad line raises CorpusError."""
    rows: list[tuple[str, int, str | None, str]] = []
    for path in map(Path, files):
        if not path.is_file():
            raise CorpusError(f"{path}: corpus file not found")
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                row = _parse_line(raw, path, lineno)
                if row is not None:
                    rows.append(row)
        log.info("corpus %s read: %d rows in all so far", path, len(rows))
    frame = pd.DataFrame(rows, columns=["text", "label", "lang", "source"])
    if frame.empty or frame["label"].nunique() < 2:
        raise CorpusError(f"corpus {', '.join(map(str, files))}: needs both 'human' and 'ai' rows, "
                          f"got {frame['label'].map({0: 'human', 1: 'ai'}).value_counts().to_dict()}")
    return frame


def _parse_line(raw: bytes, path: Path, lineno: int) -> tuple[str, int, str | None, str] | None:
    where = f"{path}:{lineno}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not line.strip():
        return None                                  # blank lines (e.g. a trailing newline) carry nothing
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    text, label, lang = obj.get("text"), obj.get("label"), obj.get("lang")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: 'text' must be a non-empty string, got {text!r:.60}")
    if label not in LABELS:
        raise CorpusError(f"{where}: 'label' must be one of {sorted(LABELS)}, got {label!r:.60}")
    if lang is not None and not isinstance(lang, str):
        raise CorpusError(f"{where}: 'lang' must be a string when present, got {lang!r:.60}")
    return text, LABELS[label], lang, path.stem


# --- models ----------------------------------------------------------------------------------------------


#: Style features the blend weights may depend on: how long the text is and how much of it is Chinese.
CONTEXT_FEATURES = ("log_chars", "cjk_share")


class StackedLinear(ClassifierMixin, BaseEstimator):
    """Three linear views of one feature matrix, blended by a logistic regression on out-of-fold logits.

    Why: on the development split a plain L2 logistic regression over tf-idf n-grams is best on short
    Chinese paraphrases (zh_si) while the same model over naive-Bayes-scaled features (NB-LR, Wang & Manning
    2012) is far better on longer Chinese answers (zh_qa); stylometry adds a little everywhere. The blend
    weights are learnt on inner cross-validation folds of the training data only, so nothing is tuned on
    the texts it is evaluated on. Each view's weight may depend on the text's length and script (the
    `context` columns of the style block), which is what lets one model serve short and long, zh and en.
    The last `n_dense` columns of X are the (dense, standardised) style features.
    """

    def __init__(self, n_dense: int = 0, context: tuple[int, ...] = (), C_text: float = 4.0, C_nb: float = 4.0, C_style: float = 1.0,
                 nb_alpha: float = 1.0, inner_folds: int = 3, max_iter: int = 3000, seed: int = 0) -> None:
        self.n_dense = n_dense
        self.context = context
        self.C_text = C_text
        self.C_nb = C_nb
        self.C_style = C_style
        self.nb_alpha = nb_alpha
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.seed = seed

    def _split(self, X: Any) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
        # Everything stays CSR on purpose: scipy's sparse mat-vec sums each row in a fixed order, whereas a
        # dense BLAS product may round a row differently depending on the batch it sits in. Sparse keeps
        # a post's score bit-identical however posts are batched (Spark partitions, audit replays).
        X = sp.csr_matrix(X)
        if not self.n_dense:
            return X, None
        cut = X.shape[1] - self.n_dense
        return X[:, :cut], X[:, cut:].tocsr()

    def _lr(self, C: float) -> LogisticRegression:
        return LogisticRegression(C=C, max_iter=self.max_iter, random_state=self.seed)

    def _nb_ratio(self, Xt: sp.csr_matrix, y: np.ndarray) -> np.ndarray:
        present = (Xt > 0).astype(np.float64)
        p = np.asarray(present[y == 1].sum(axis=0)).ravel() + self.nb_alpha
        q = np.asarray(present[y == 0].sum(axis=0)).ravel() + self.nb_alpha
        return np.log((p / p.sum()) / (q / q.sum()))

    def _fit_views(self, Xt: sp.csr_matrix, Xs: sp.csr_matrix | None, y: np.ndarray) -> list[Any]:
        r = self._nb_ratio(Xt, y)
        views: list[Any] = [self._lr(self.C_text).fit(Xt, y),
                            (r, self._lr(self.C_nb).fit(Xt.multiply(r).tocsr(), y))]
        if Xs is not None:
            views.append(self._lr(self.C_style).fit(Xs, y))
        return views

    def _logits(self, views: list[Any], Xt: sp.csr_matrix, Xs: sp.csr_matrix | None) -> sp.csr_matrix:
        """Meta features: each view's logit, and (with context) logit x context plus the context itself."""
        cols = [views[0].decision_function(Xt), views[1][1].decision_function(Xt.multiply(views[1][0]).tocsr())]
        if Xs is None:
            return sp.csr_matrix(np.column_stack(cols))
        cols.append(views[2].decision_function(Xs))
        logits = np.column_stack(cols)
        ctx = Xs[:, list(self.context)].toarray()
        inter = (logits[:, :, None] * ctx[:, None, :]).reshape(len(logits), -1)
        return sp.csr_matrix(np.hstack([logits, inter, ctx]))

    def fit(self, X: Any, y: Any) -> StackedLinear:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        Xt, Xs = self._split(X)
        rows, parts = [], []
        inner = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed)
        for tr, te in inner.split(np.zeros(len(y)), y):
            views = self._fit_views(Xt[tr], None if Xs is None else Xs[tr], y[tr])
            rows.append(te)
            parts.append(self._logits(views, Xt[te], None if Xs is None else Xs[te]))
        order = np.argsort(np.concatenate(rows))
        oof = sp.vstack(parts).tocsr()[order]
        self.meta_ = LogisticRegression(C=1.0, max_iter=self.max_iter).fit(oof, y)
        self.views_ = self._fit_views(Xt, Xs, y)
        log.debug("stacked blend weights %s", self.meta_.coef_.ravel().round(3).tolist())
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        Xt, Xs = self._split(X)
        return self.meta_.decision_function(self._logits(self.views_, Xt, Xs))

    def predict_proba(self, X: Any) -> np.ndarray:
        Xt, Xs = self._split(X)
        return self.meta_.predict_proba(self._logits(self.views_, Xt, Xs))

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def build_pipeline(params: TextDetectorConfig) -> Pipeline:
    """The detector: char n-grams of the marked text + word n-grams + style, blended linear views."""
    blocks: list[tuple[str, Any]] = [
        ("char", TfidfVectorizer(analyzer="char", preprocessor=marked, ngram_range=(1, params.char_ngram_max),
                                 min_df=params.char_min_df, sublinear_tf=True, dtype=np.float64)),
    ]
    if params.word_ngrams:
        blocks.append(("word", TfidfVectorizer(analyzer=word_ngrams, min_df=params.word_min_df,
                                               sublinear_tf=True, dtype=np.float64)))
    if params.style:
        blocks.append(("style", StyleFeatures()))
    clf = StackedLinear(n_dense=len(STYLE_NAMES) if params.style else 0,
                        context=tuple(STYLE_NAMES.index(c) for c in CONTEXT_FEATURES), C_text=params.C_text,
                        C_nb=params.C_nb, C_style=params.C_style, nb_alpha=params.nb_alpha,
                        inner_folds=params.inner_folds, max_iter=params.max_iter, seed=params.seed)
    return Pipeline([
        ("truncate", Truncate(params.max_chars)),
        ("features", FeatureUnion(blocks)),
        ("clf", clf),
    ])


def build_baseline() -> Pipeline:
    """The README's baseline: character n-gram TF-IDF + logistic regression (char_wb 1-3 reproduces its AUROCs)."""
    return Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True)),
        ("clf", LogisticRegression(max_iter=2000)),
    ])


def predict_p_ai(pipeline: Pipeline, texts: pd.Series | list[Any]) -> np.ndarray:
    """P(ai) per text as float64; NaN where the text is null, empty or blank (no evidence)."""
    series = pd.Series(texts, dtype=object).reset_index(drop=True)
    valid = series.map(lambda t: isinstance(t, str) and bool(t.strip())).to_numpy(dtype=bool)
    out = np.full(len(series), np.nan, dtype=np.float64)
    if valid.any():
        out[valid] = pipeline.predict_proba(series[valid].tolist())[:, 1]
    return out


class TextDetectorModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: DataFrame with a `text` column in, P(ai) (float64, NaN for missing text) out.

    Pickled by reference (this module must be importable where it is loaded, as with env_manager="local");
    the fitted pipeline itself travels as the `pipeline` artifact.
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.pipeline = joblib.load(context.artifacts["pipeline"])

    def predict(self, context, model_input, params=None):  # untyped on purpose: MLflow would infer a schema
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if TEXT_COL not in frame.columns:
            raise KeyError(f"text detector input needs a '{TEXT_COL}' column, got {list(frame.columns)}")
        return pd.Series(predict_p_ai(self.pipeline, frame[TEXT_COL]), index=frame.index,
                         name=OUTPUT_COL, dtype=np.float64)


# --- training ----------------------------------------------------------------------------------------------


def _per_file_auroc(frame: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for source, idx in frame.groupby("source").indices.items():
        labels = frame["label"].to_numpy()[idx]
        if len(np.unique(labels)) < 2:
            log.warning("corpus %s has a single label in this split: no AUROC", source)
            continue
        out[source] = float(roc_auc_score(labels, scores[idx]))
    return out


def _metric_key(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", name)


def train_text_detector(corpus_files: list[Path], cfg: Config, *, register: bool = True,
                        alias: str = "champion", params: TextDetectorConfig | None = None) -> TextDetectorResult:
    """Fit, evaluate on a stratified holdout per file, log to MLflow as a pyfunc, register and alias it."""
    from mlflow.models import ModelSignature
    from mlflow.tracking import MlflowClient
    from mlflow.types import ColSpec, Schema

    params = params or text_detector_config(cfg)
    corpus = read_corpus(list(corpus_files))
    strata = corpus["source"] + "/" + corpus["label"].astype(str)
    if (small := strata.value_counts()).min() < 2:
        raise CorpusError(f"every corpus file needs >= 2 rows of each label for a holdout: {small.to_dict()}")
    train_idx, test_idx = train_test_split(np.arange(len(corpus)), test_size=params.holdout_fraction,
                                           random_state=params.seed, stratify=strata)
    train, test = corpus.iloc[train_idx], corpus.iloc[test_idx].reset_index(drop=True)

    started = time.perf_counter()
    pipeline = build_pipeline(params).fit(train["text"].tolist(), train["label"].to_numpy())
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    held_out = predict_p_ai(pipeline, test["text"])
    predict_s = time.perf_counter() - started
    per_file = _per_file_auroc(test, held_out)
    metrics = {f"heldout_auroc_{_metric_key(k)}": v for k, v in per_file.items()}
    metrics["heldout_auroc_all"] = float(roc_auc_score(test["label"], held_out))
    metrics["fit_seconds"] = fit_s
    metrics["predict_posts_per_s"] = len(test) / max(predict_s, 1e-9)
    log.info("text detector holdout AUROC %s", {k: round(v, 4) for k, v in per_file.items()})
    if params.refit_on_all:
        pipeline = build_pipeline(params).fit(corpus["text"].tolist(), corpus["label"].to_numpy())

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    if cfg.mlflow.registry_uri:
        mlflow.set_registry_uri(cfg.mlflow.registry_uri)
    mlflow.set_experiment(cfg.mlflow.experiment)
    signature = ModelSignature(inputs=Schema([ColSpec("string", TEXT_COL, required=False)]),
                               outputs=Schema([ColSpec("double")]))
    example = pd.DataFrame({TEXT_COL: ["今天去了新开的咖啡店，拿铁一般，甜点不错。",
                                       "In conclusion, this product offers excellent value."]})
    counts = corpus.groupby("source").size().to_dict()
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name="text-detector") as run:
        mlflow.set_tag("genuine.model", "text_detector")
        mlflow.log_params({**params.model_dump(), "corpus_files": ",".join(map(str, corpus_files)),
                           "rows_train": len(train), "rows_holdout": len(test),
                           **{f"rows_{_metric_key(k)}": v for k, v in counts.items()}})
        mlflow.log_metrics(metrics)
        artifact = Path(tmp) / "pipeline.joblib"
        joblib.dump(pipeline, artifact)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=TextDetectorModel(), artifacts={"pipeline": str(artifact)},
            signature=signature, input_example=example,
            pip_requirements=_requirements(),
            registered_model_name=cfg.mlflow.text_model if register else None,
        )
        run_id = run.info.run_id
    version = str(info.registered_model_version) if register and info.registered_model_version else None
    if register and alias and version:
        MlflowClient().set_registered_model_alias(cfg.mlflow.text_model, alias, version)
        log.info("registered %s version %s as @%s", cfg.mlflow.text_model, version, alias)
    return TextDetectorResult(run_id=run_id, model_uri=f"runs:/{run_id}/model",
                              registered_name=cfg.mlflow.text_model if register else None,
                              version=version, alias=alias if register else None,
                              metrics=metrics, pipeline=pipeline, n_rows={k: int(v) for k, v in counts.items()})


def _requirements() -> list[str]:
    """Pinned from the running environment: inference by MLflow would start a subprocess for nothing."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "scikit-learn", "numpy", "pandas", "scipy",
                                                   "joblib", "jieba")]


def text_detector_config(cfg: Config) -> TextDetectorConfig:
    """The validated `text_detector` block of the config (defaults for keys it does not set)."""
    return cfg.section("text_detector", TextDetectorConfig)


def resolve_corpus(patterns: list[str] | list[Path]) -> list[Path]:
    """Expand files, folders (their *.jsonl) and glob patterns; the corpus is optional, so none is no error."""
    import glob

    found: list[Path] = []
    for pattern in map(str, patterns):
        path = Path(pattern)
        if path.is_dir():
            hits = sorted(path.glob("*.jsonl"))
        else:
            hits = [Path(h) for h in sorted(glob.glob(pattern))]
        if not hits:
            log.warning("text-detector corpus %s: nothing there", pattern)
        found.extend(h for h in hits if h not in found)
    return found


# --- scoring ----------------------------------------------------------------------------------------------


def score_posts(posts: DataFrame, model_uri: str, text_col: str = TEXT_COL) -> DataFrame:
    """Input columns + `p_ai` (double, null where the text is missing), computed on the executors."""
    from pyspark.sql import functions as F

    if text_col not in posts.columns:
        raise KeyError(f"score_posts: no column {text_col!r} in {posts.columns}")
    if OUTPUT_COL in posts.columns:
        raise ValueError(f"score_posts: input already has a {OUTPUT_COL!r} column")
    udf = mlflow.pyfunc.spark_udf(posts.sparkSession, model_uri, env_manager="local", result_type="double")
    p = udf(F.struct(F.col(text_col).cast("string").alias(TEXT_COL)))
    return posts.withColumn(OUTPUT_COL, p).withColumn(
        OUTPUT_COL, F.when(~F.isnan(F.col(OUTPUT_COL)), F.col(OUTPUT_COL)))


# --- benchmark ----------------------------------------------------------------------------------------------


def bench_text_detector(corpus: Path | list[Path], folds: int = 5, seed: int = 0,
                        params: TextDetectorConfig | None = None) -> dict[str, Any]:
    """AUROC per corpus file on stratified K-fold held-out predictions, ours vs baseline, and posts/s.

    `corpus` is a folder (its *.jsonl files) or a list of files.
    """
    params = params or TextDetectorConfig()
    files = resolve_corpus([corpus] if isinstance(corpus, Path) else corpus)
    if not files:
        raise CorpusError(f"{corpus}: no *.jsonl corpus files")
    corpus = read_corpus(files)
    texts = corpus["text"].to_numpy(dtype=object)
    labels = corpus["label"].to_numpy()
    strata = (corpus["source"] + "/" + corpus["label"].astype(str)).to_numpy()
    models = {"detector": lambda: build_pipeline(params), "baseline": build_baseline}
    oof = {name: np.zeros(len(corpus)) for name in models}
    # fit wall, predict wall, predict CPU (process time: what a core pays, whatever else the machine runs)
    seconds = {name: [0.0, 0.0, 0.0] for name in models}
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, strata)):
        for name, make in models.items():
            t0 = time.perf_counter()
            fitted = make().fit(list(texts[tr]), labels[tr])
            t1, c1 = time.perf_counter(), time.process_time()
            oof[name][te] = fitted.predict_proba(list(texts[te]))[:, 1]
            seconds[name][0] += t1 - t0
            seconds[name][1] += time.perf_counter() - t1
            seconds[name][2] += time.process_time() - c1
        log.info("bench fold %d/%d done", k + 1, folds)
    result: dict[str, Any] = {"folds": folds, "seed": seed, "params": params.model_dump(), "files": {}}
    for source, idx in corpus.groupby("source").indices.items():
        result["files"][source] = {"rows": int(len(idx)),
                                   **{name: float(roc_auc_score(labels[idx], oof[name][idx])) for name in models}}
    result["throughput_posts_per_s"] = {name: len(corpus) / s[1] for name, s in seconds.items()}
    result["throughput_posts_per_cpu_s"] = {name: len(corpus) / s[2] for name, s in seconds.items()}
    result["mean_chars"] = float(corpus["text"].str.len().mean())
    result["fit_seconds_per_fold"] = {name: s[0] / folds for name, s in seconds.items()}
    return result


def load_detector(model_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """Load a registered detector for in-process use (notebooks, audits)."""
    return mlflow.pyfunc.load_model(model_uri)
