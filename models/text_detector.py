"""AI-generated-text detector: the model, its MLflow pyfunc, and scoring every post with it in Spark.

Why linear models over n-grams plus a small tree model over dense features: it must run on every post of
the platform on CPU, so the cost per post has to stay well under a millisecond (>= 1,000 posts per second
per core). On the HC3 Plus development split it beats the character n-gram baseline on every file
(docs/text-detector.md has the cross-validated evidence, and the leave-one-file-out check, where it does
not always).

Missing text (null, empty or blank) gets P(ai) = NaN from the pyfunc and null from `score_posts`: no text
is no evidence, so a per-account mean must skip it rather than count it as 0.5 (Spark's avg() skips nulls
but not NaN, hence the conversion at the Spark edge).

The classes here (StackedBlend, and StackedLinear of earlier versions, in the pickled pipeline;
TextDetectorModel as the pyfunc) are pickled by reference into every registered version, so this module's
path is part of the model format. Corpus: text_corpus.py; training, registration and evaluation:
text_training.py; the benchmark: devtools/bench/text_detector.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import joblib
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import ThreadpoolController

from genuine.models.config import TextDetectorConfig
from genuine.models.pyfunc import ensure_loadable, load_pyfunc
from genuine.models.text_features import (
    PREDICTABILITY_NAMES,
    STYLE_NAMES,
    PredictabilityFeatures,
    StyleFeatures,
    Truncate,
    marked,
    shape,
    word_ngrams,
)

log = logging.getLogger(__name__)

TEXT_COL = "text"
OUTPUT_COL = "p_ai"
CHAMPION = "champion"


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

    def _nb_ratio(self, Xt: sp.csr_matrix, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        present = (Xt > 0).astype(np.float64).tocsc()
        p = present.T @ (w * (y == 1)) + self.nb_alpha
        q = present.T @ (w * (y == 0)) + self.nb_alpha
        return np.log((p / p.sum()) / (q / q.sum()))

    def _dense_logit(self, model: Any, Xs: sp.csr_matrix) -> np.ndarray:
        return model.decision_function(Xs)

    def _fit_views(self, Xt: sp.csr_matrix, Xs: sp.csr_matrix | None, y: np.ndarray,
                   w: np.ndarray | None = None) -> list[Any]:
        w = np.ones(len(y)) if w is None else w
        r = self._nb_ratio(Xt, y, w)
        views: list[Any] = [self._lr(self.C_text).fit(Xt, y, sample_weight=w),
                            (r, self._lr(self.C_nb).fit(Xt.multiply(r).tocsr(), y, sample_weight=w))]
        if Xs is not None:
            views.append(self._fit_dense(Xs, y, w))
        return views

    def _fit_dense(self, Xs: sp.csr_matrix, y: np.ndarray, w: np.ndarray) -> Any:
        return self._lr(self.C_style).fit(Xs, y, sample_weight=w)

    def _logits(self, views: list[Any], Xt: sp.csr_matrix, Xs: sp.csr_matrix | None) -> sp.csr_matrix:
        """Meta features: each view's logit, and (with context) logit x context plus the context itself."""
        cols = [views[0].decision_function(Xt), views[1][1].decision_function(Xt.multiply(views[1][0]).tocsr())]
        if Xs is None:
            return sp.csr_matrix(np.column_stack(cols))
        cols.append(self._dense_logit(views[2], Xs))
        logits = np.column_stack(cols)
        ctx = Xs[:, list(self.context)].toarray()
        inter = (logits[:, :, None] * ctx[:, None, :]).reshape(len(logits), -1)
        return sp.csr_matrix(np.hstack([logits, inter, ctx]))

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> StackedLinear:
        """`sample_weight` (optional) weighs every fit: the views, the naive-Bayes ratios and the blend."""
        y = np.asarray(y)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.classes_ = np.unique(y)
        Xt, Xs = self._split(X)
        rows, parts = [], []
        inner = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed)
        for tr, te in inner.split(np.zeros(len(y)), y):
            views = self._fit_views(Xt[tr], None if Xs is None else Xs[tr], y[tr], w[tr])
            rows.append(te)
            parts.append(self._logits(views, Xt[te], None if Xs is None else Xs[te]))
        order = np.argsort(np.concatenate(rows))
        oof = sp.vstack(parts).tocsr()[order]
        self.meta_ = LogisticRegression(C=1.0, max_iter=self.max_iter).fit(oof, y, sample_weight=w)
        self.views_ = self._fit_views(Xt, Xs, y, w)
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


@cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()      # scanning the loaded libraries costs ~1 ms: once per process


@contextmanager
def _one_thread() -> Iterator[None]:
    """One OpenMP thread for the trees: Spark already runs one task per core, and OpenMP threads on top of
    that only oversubscribe (and spin, which a per-core CPU budget pays for). Fits too: the dense block is
    small, and on a shared machine two spinning threads made a 0.3 s fit take 4 s."""
    with _threadpools().limit(limits=1, user_api="openmp"):
        yield


class StackedBlend(StackedLinear):
    """StackedLinear whose dense view is gradient-boosted trees instead of a logistic regression.

    Why: style and predictability features act on P(ai) in ways a linear model cannot
    follow (a share of rare words means one thing in a 20-character paraphrase and another in a 300-character
    answer); on the development split the trees over the dense block alone beat the baseline's n-grams on
    English. Trees score each row on its own, so a post's score still does not depend on its batch.
    """

    def __init__(self, n_dense: int = 0, context: tuple[int, ...] = (), C_text: float = 4.0, C_nb: float = 4.0,
                 nb_alpha: float = 1.0, hgb_max_iter: int = 200, hgb_learning_rate: float = 0.05,
                 hgb_max_leaf_nodes: int = 15, hgb_min_samples_leaf: int = 20, inner_folds: int = 3,
                 max_iter: int = 3000, seed: int = 0) -> None:
        self.n_dense = n_dense
        self.context = context
        self.C_text = C_text
        self.C_nb = C_nb
        self.nb_alpha = nb_alpha
        self.hgb_max_iter = hgb_max_iter
        self.hgb_learning_rate = hgb_learning_rate
        self.hgb_max_leaf_nodes = hgb_max_leaf_nodes
        self.hgb_min_samples_leaf = hgb_min_samples_leaf
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.seed = seed

    def _fit_dense(self, Xs: sp.csr_matrix, y: np.ndarray, w: np.ndarray) -> HistGradientBoostingClassifier:
        model = HistGradientBoostingClassifier(
            max_iter=self.hgb_max_iter, learning_rate=self.hgb_learning_rate,
            max_leaf_nodes=self.hgb_max_leaf_nodes, min_samples_leaf=self.hgb_min_samples_leaf,
            l2_regularization=1.0, early_stopping=False, random_state=self.seed)
        with _one_thread():
            return model.fit(Xs.toarray(), y, sample_weight=w)

    def _dense_logit(self, model: Any, Xs: sp.csr_matrix) -> np.ndarray:
        with _one_thread():
            return model.decision_function(Xs.toarray())


def build_pipeline(params: TextDetectorConfig) -> Pipeline:
    """The detector: n-grams of the characters, words and shape of a text (sparse, linear views) and its
    style and predictability (dense, one tree view), blended by length and script."""
    blocks: list[tuple[str, Any]] = [
        ("char", TfidfVectorizer(analyzer="char", preprocessor=marked, ngram_range=(1, params.char_ngram_max),
                                 min_df=params.char_min_df, sublinear_tf=True, dtype=np.float64)),
    ]
    if params.word_ngrams:
        blocks.append(("word", TfidfVectorizer(analyzer=word_ngrams, min_df=params.word_min_df,
                                               sublinear_tf=True, dtype=np.float64)))
    if params.shape_ngram_max:
        blocks.append(("shape", TfidfVectorizer(analyzer="char", preprocessor=shape,
                                                ngram_range=(1, params.shape_ngram_max), min_df=params.char_min_df,
                                                sublinear_tf=True, dtype=np.float64)))
    n_dense = 0
    if params.style:
        blocks.append(("style", StyleFeatures()))
        n_dense += len(STYLE_NAMES)
    if params.predictability:
        blocks.append(("predictability", PredictabilityFeatures(top_n=params.frequency_top_n)))
        n_dense += len(PREDICTABILITY_NAMES)
    # the blend's context columns (length, Chinese share) come from the style block, first of the dense ones
    context = tuple(STYLE_NAMES.index(c) for c in CONTEXT_FEATURES) if params.style else ()
    common = {"n_dense": n_dense, "context": context, "C_text": params.C_text, "C_nb": params.C_nb,
              "nb_alpha": params.nb_alpha, "inner_folds": params.inner_folds, "max_iter": params.max_iter,
              "seed": params.seed}
    clf: StackedLinear
    if params.dense_model == "hgb":
        clf = StackedBlend(**common, hgb_max_iter=params.hgb_max_iter, hgb_learning_rate=params.hgb_learning_rate,
                           hgb_max_leaf_nodes=params.hgb_max_leaf_nodes,
                           hgb_min_samples_leaf=params.hgb_min_samples_leaf)
    else:
        clf = StackedLinear(**common, C_style=params.C_style)
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


def score_posts(posts: DataFrame, model_uri: str, text_col: str = TEXT_COL) -> DataFrame:
    """Input columns + `p_ai` (double, null where the text is missing), computed on the executors."""
    if text_col not in posts.columns:
        raise KeyError(f"score_posts: no column {text_col!r} in {posts.columns}")
    if OUTPUT_COL in posts.columns:
        raise ValueError(f"score_posts: input already has a {OUTPUT_COL!r} column")
    ensure_loadable(model_uri)          # the executors unpickle it: fail here, in one line, if they cannot
    udf = mlflow.pyfunc.spark_udf(posts.sparkSession, model_uri, env_manager="local", result_type="double")
    p = udf(F.struct(F.col(text_col).cast("string").alias(TEXT_COL)))
    return posts.withColumn(OUTPUT_COL, p).withColumn(
        OUTPUT_COL, F.when(~F.isnan(F.col(OUTPUT_COL)), F.col(OUTPUT_COL)))


def load_detector(model_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """Load a registered detector for in-process use (notebooks, audits)."""
    return load_pyfunc(model_uri)
