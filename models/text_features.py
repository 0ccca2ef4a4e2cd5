"""Text features for the AI-text detector: picklable, dependency-light, identical in training and scoring.

Everything here is a module-level function or a scikit-learn transformer so that the fitted pipeline
pickles into the MLflow artifact and unpickles in a Spark Python worker with nothing but this package.
Texts are never Unicode-normalised: full-width versus half-width punctuation is itself a signal
(ChatGPT's Chinese uses full-width punctuation far more consistently than people do).

Three families beyond n-grams: stylometry (`StyleFeatures`), the text's shape (`shape`: which kind of
character follows which, e.g. ChatGPT's Chinese puts spaces around Latin words and numbers, "在 1963 年",
where people mostly write "在1963年") and its predictability (`PredictabilityFeatures`: GLTR-style word
rarity against a word-frequency table, and compressibility). Shape and predictability describe habits
rather than topics, which is what lets them carry over to texts on subjects the corpus never covered.
"""

from __future__ import annotations

import logging
import math
import re
import zlib
from collections.abc import Iterable, Sequence

import numpy as np
import wordfreq
from sklearn.base import BaseEstimator, TransformerMixin

log = logging.getLogger(__name__)

#: Marks the start and end of a text so that character n-grams see how a text opens and closes
#: (machine text nearly always ends on a full stop; titles and chat lines written by people often do not).
TEXT_START = "\x02"
TEXT_END = "\x03"

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:[.,]\d+)*")
_LATIN_CHAR = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")
_CJK_SPACE_CJK = re.compile(r"[\u4e00-\u9fff] [\u4e00-\u9fff]")
_SENTENCE_END = re.compile(r"[。！？!?]+|(?<![A-Z0-9])\.(?:\s|$)|\n+")
_PUNCT = re.compile(r"[^\w\s]")

#: Punctuation whose rate per character is a feature (full- and half-width kept apart on purpose).
PUNCTUATION = tuple("，。！？；：、“”‘’（）《》…—,.!?;:\"'()-")

#: Discourse markers that instruction-tuned models overuse (zh and en); counted per 100 characters.
CONNECTIVES = (
    "首先", "其次", "然后", "最后", "总之", "总的来说", "综上", "此外", "另外", "因此", "同时", "而且",
    "需要注意", "建议", "可以", "例如", "以及", "并且",
    "in conclusion", "additionally", "furthermore", "moreover", "overall", "however", "therefore",
    "as a result", "it is important", "in addition", "according to", "also",
)


def _jieba():  # imported lazily: jieba builds its dictionary on first use (~1 s), only where needed
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def words(text: str) -> list[str]:
    """Lower-cased word tokens: jieba for Chinese runs, a regex for Latin words and numbers."""
    tokens: list[str] = []
    pos = 0
    for match in _CJK_RUN.finditer(text):
        tokens.extend(w.lower() for w in _LATIN_WORD.findall(text[pos:match.start()]))
        tokens.extend(_jieba().lcut(match.group(), HMM=True))
        pos = match.end()
    tokens.extend(w.lower() for w in _LATIN_WORD.findall(text[pos:]))
    return tokens


def word_ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams with boundary tokens, as the analyzer of a vectorizer."""
    toks = words(text)
    padded = ["<s>", *toks, "</s>"]
    return toks + [f"{a} {b}" for a, b in zip(padded, padded[1:], strict=False)]


def cjk_share(text: str) -> float:
    """Share of a text's characters that are Chinese (0 for an empty text)."""
    return len(_CJK_CHAR.findall(text)) / max(len(text), 1)


def marked(text: str) -> str:
    """Wrap a text in start/end marks for character n-grams (see TEXT_START)."""
    return f"{TEXT_START}{text}{TEXT_END}"


STYLE_NAMES: tuple[str, ...] = (
    "log_chars", "cjk_share", "latin_share", "digit_share", "space_share", "cjk_space_cjk_rate",
    *(f"punct_{i}" for i in range(len(PUNCTUATION))),
    "newline_rate", "log_sentences", "log_mean_sentence_chars", "sentence_chars_cv",
    "ends_with_terminal", "punct_share",
    *(f"conn_{i}" for i in range(len(CONNECTIVES))),
    "latin_type_token_ratio", "latin_mean_word_len", "upper_share",
)


def style_vector(text: str) -> list[float]:
    """Stylometric description of one text, length-normalised so short and long posts compare."""
    n = max(len(text), 1)
    per100 = n / 100.0
    lower = text.lower()
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    lens = np.array([len(s) for s in sentences], dtype=float) if sentences else np.zeros(1)
    latin_words = _LATIN_WORD.findall(lower)
    stripped = text.rstrip()
    out = [
        math.log1p(len(text)),
        len(_CJK_CHAR.findall(text)) / n,
        len(_LATIN_CHAR.findall(text)) / n,
        len(_DIGIT.findall(text)) / n,
        text.count(" ") / n,
        len(_CJK_SPACE_CJK.findall(text)) / n,
        *(text.count(p) / n for p in PUNCTUATION),
        text.count("\n") / n,
        math.log1p(len(sentences)),
        math.log1p(float(lens.mean())),
        float(lens.std() / (lens.mean() + 1.0)),
        1.0 if stripped and stripped[-1] in "。.！!？?" else 0.0,
        len(_PUNCT.findall(text)) / n,
        *(lower.count(c) / per100 for c in CONNECTIVES),
        len(set(latin_words)) / (len(latin_words) + 1.0),
        float(np.mean([len(w) for w in latin_words])) if latin_words else 0.0,
        sum(1 for c in text if c.isupper()) / n,
    ]
    return out


class StyleFeatures(TransformerMixin, BaseEstimator):
    """Stylometric features, standardised on the training texts and clipped so outliers cannot dominate."""

    def __init__(self, clip: float = 5.0) -> None:
        self.clip = clip

    def _raw(self, texts: Iterable[str]) -> np.ndarray:
        return np.asarray([style_vector(t) for t in texts], dtype=np.float64).reshape(-1, len(STYLE_NAMES))

    def fit(self, texts: Sequence[str], y: object = None) -> StyleFeatures:
        raw = self._raw(texts)
        self.mean_ = raw.mean(axis=0)
        std = raw.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        z = (self._raw(texts) - self.mean_) / self.scale_
        return np.clip(z, -self.clip, self.clip)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"style__{n}" for n in STYLE_NAMES], dtype=object)


class Truncate(TransformerMixin, BaseEstimator):
    """Cut texts to `max_chars`: bounds the cost of a pathological post without touching ordinary ones."""

    def __init__(self, max_chars: int = 2000) -> None:
        self.max_chars = max_chars

    def fit(self, texts: Sequence[str], y: object = None) -> Truncate:
        return self

    def transform(self, texts: Sequence[str]) -> list[str]:
        return [t[: self.max_chars] for t in texts]


# --- shape: the sequence of character kinds ------------------------------------------------------------

def _shape_table() -> dict[int, str]:
    table = {cp: "C" for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)) for cp in range(lo, hi + 1)}
    table.update({ord(c): "A" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
    table.update({ord(c): "a" for c in "abcdefghijklmnopqrstuvwxyz"})
    table.update({ord(c): "0" for c in "0123456789"})
    table.update({ord(" "): "_", ord("\t"): "_", ord("\n"): "¶", ord("\r"): "¶"})
    return table


_SHAPE = _shape_table()
_OTHER_LETTER = re.compile(r"[^\W\d_CAa]")       # letters of other scripts (kana, accented Latin, ...)
_SHAPE_RUN = re.compile(r"([CAa0_¶x])\1+")


def shape(text: str) -> str:
    """The text as character kinds, runs collapsed, in start/end marks: C = Chinese, A/a = upper/lower Latin,
    0 = digit, _ = space, ¶ = line break, x = another script; punctuation and symbols stay as they are.

    "在 1963 年成立，Windows 中。" -> "\\x02C_0_C，Aa_C。\\x03". Character n-grams of the shape see formatting
    habits (spacing around Latin and digits, punctuation after which kind of character) whatever the topic.
    """
    kinds = _SHAPE_RUN.sub(r"\1", _OTHER_LETTER.sub("x", text.translate(_SHAPE)))
    return f"{TEXT_START}{kinds}{TEXT_END}"


# --- predictability: word rarity and compressibility ---------------------------------------------------

_LATIN_LOWER_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

#: Rank buckets of a word in its language's frequency list (GLTR, Gehrmann et al. 2019, uses the ranks a
#: language model gives; a unigram table is the CPU-cheap stand-in: generated text favours common words).
RANK_BUCKETS = (10, 100, 1000, 10000)

PREDICTABILITY_NAMES: tuple[str, ...] = (
    *(f"rank_lt_{b}" for b in RANK_BUCKETS), "unlisted_share", "log_rank_mean", "log_rank_std",
    "log_rank_median", "token_type_ratio", "log_tokens", "zlib_ratio", "utf8_bytes_per_char",
)


def frequency_ranks(languages: Sequence[str], top_n: int) -> dict[str, int]:
    """word -> rank (0 = most frequent) over the `top_n` most frequent words of each language (wordfreq's
    tables ship inside its package: nothing is downloaded); a word listed in several keeps its best rank."""
    ranks: dict[str, int] = {}
    for lang in languages:
        for i, word in enumerate(wordfreq.top_n_list(lang, top_n, wordlist="large")):
            if i < ranks.get(word, top_n):
                ranks[word] = i
    return ranks


def rarity_tokens(text: str) -> list[str]:
    """Chinese characters one by one and lower-cased Latin words: no segmenter, so it costs little and
    cannot disagree with the table's own segmentation."""
    return _CJK_CHAR.findall(text) + _LATIN_LOWER_WORD.findall(text.lower())


def predictability_vector(text: str, ranks: dict[str, int], top_n: int) -> list[float]:
    """Rank-bucket shares, log-rank statistics and lexical variety of the tokens; zlib compressibility."""
    raw = text.encode("utf-8")
    tail = [len(zlib.compress(raw, 9)) / (len(raw) + 1.0), len(raw) / (len(text) + 1.0)]
    tokens = rarity_tokens(text)
    if not tokens:
        return [0.0] * (len(PREDICTABILITY_NAMES) - 2) + tail
    rank = np.fromiter((ranks.get(t, top_n) for t in tokens), dtype=np.float64, count=len(tokens))
    log_rank = np.log10(rank + 1.0)
    return [*(float((rank < b).mean()) for b in RANK_BUCKETS), float((rank >= top_n).mean()),
            float(log_rank.mean()), float(log_rank.std()), float(np.median(log_rank)),
            len(set(tokens)) / len(tokens), math.log1p(len(tokens)), *tail]


class PredictabilityFeatures(TransformerMixin, BaseEstimator):
    """How predictable a text is: word rarity against wordfreq's tables, and how well it compresses.

    `fit` copies the ranks of the `top_n` most frequent words of each language into the estimator, so a
    fitted model scores the same whatever wordfreq version is installed where it is loaded.
    Raw values (not standardised): the tree model that reads them does not need it.
    """

    def __init__(self, languages: tuple[str, ...] = ("en", "zh"), top_n: int = 30000) -> None:
        self.languages = languages
        self.top_n = top_n

    def fit(self, texts: Sequence[str], y: object = None) -> PredictabilityFeatures:
        self.ranks_ = frequency_ranks(self.languages, self.top_n)
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        rows = [predictability_vector(t, self.ranks_, self.top_n) for t in texts]
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(PREDICTABILITY_NAMES))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"predictability__{n}" for n in PREDICTABILITY_NAMES], dtype=object)
