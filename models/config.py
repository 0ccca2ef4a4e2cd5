"""The models stage's configuration: `model:` (the account model) and `text_detector:` of conf/base.yml.

Both are strict (an unknown key is an error naming it) and validated where a command or job starts, so a
typo fails before any data are read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from genuine.core.config import Config, Strict

CandidateKind = Literal["hgb", "logreg"]


# --- the account model (conf: `model:`) --------------------------------------------------------------

class PrecisionTargets(Strict):
    auto: float = Field(default=0.995, gt=0, le=1)
    review: float = Field(default=0.90, gt=0, le=1)
    # the review cut also flags at most this share of the validation humans (null: no cap). Labelled
    # humans are mostly accounts someone found suspicious, so their share overstates the platform's.
    review_max_human_fpr: float | None = Field(default=None, gt=0, lt=1)
    # ...but it always allows this many validation humans, so a mislabelled bot cannot close the band
    review_cap_min_humans: int = Field(default=2, ge=0)


class HgbParams(Strict):
    learning_rate: float = Field(default=0.1, gt=0)
    max_iter: int = Field(default=200, ge=1)
    max_leaf_nodes: int = Field(default=31, ge=2)
    min_samples_leaf: int = Field(default=20, ge=1)
    l2_regularization: float = Field(default=1.0, ge=0)
    max_features: float = Field(default=1.0, gt=0, le=1)
    early_stopping: bool = False


class LogRegParams(Strict):
    C: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=2000, ge=1)


class LosoConfig(Strict):
    enabled: bool = True
    min_accounts: int = Field(default=10, ge=1)    # a strategy with fewer labelled accounts is not held out


class NoveltyConfig(Strict):
    """models/novelty.py: an isolation forest beside the supervised model."""

    enabled: bool = True             # fit it, store it with the model version, score `novelty` per account
    as_feature: bool = True          # also feed its score to the supervised model as one more input
    n_estimators: int = Field(default=200, ge=10)
    max_samples: int = Field(default=256, ge=16)


class ReasonConfig(Strict):
    top_k: int = Field(default=3, ge=1)
    reference_quantiles: int = Field(default=1001, ge=11)
    # a feature is a reason only when fewer than (100 - this) % of humans are as extreme
    min_tail_percentile: float = Field(default=95.0, ge=50, le=100)
    weight_by_importance: bool = True      # ties in extremeness broken by permutation importance


class GatesConfig(Strict):
    min_pr_auc: float = Field(default=0.80, ge=0, le=1)           # absolute gate (also for the first model)
    pr_auc_tolerance: float = Field(default=0.01, ge=0, le=1)     # challenger may trail the champion by this
    protected_fpr_limit: dict[Literal["auto", "review"], float] = {"auto": 0.01, "review": 0.10}
    min_group_size: int = Field(default=30, ge=1)  # protected groups smaller than this are reported, not gated


class MonitoringConfig(Strict):
    """models/monitoring.py, `genuine monitor`: the drift reference stored with each model version
    (training) and the thresholds past which the monitor job exits with EXIT_DRIFT."""

    reference_bins: int = Field(default=10, ge=2)          # quantile bins of the reference (PSI)
    reference_sample: int = Field(default=2000, ge=50)     # accounts sampled into the reference (KS, bins)
    psi_epsilon: float = Field(default=1e-4, gt=0, lt=1)   # floor of a bin share: an empty bin has finite PSI
    psi_threshold: float = Field(default=0.25, gt=0)       # PSI above this: the feature moved
    ks_threshold: float = Field(default=0.20, gt=0, le=1)  # KS statistic above this: the feature moved
    null_share_threshold: float = Field(default=0.10, gt=0, le=1)  # |null share - reference| above this
    score_runs: int = Field(default=7, ge=1)               # the latest scoring run against the N before it
    score_bins: int = Field(default=10, ge=2)              # equal-width bins of the score over [0, 1]
    score_psi_threshold: float = Field(default=0.25, gt=0)
    band_volume_ratio: float = Field(default=3.0, gt=1)    # a band's volume over (or under 1/x) the mean of the N
    min_history_runs: int = Field(default=3, ge=1)         # fewer earlier runs: scores reported, not judged
    precision_runs: int = Field(default=30, ge=1)          # scoring runs whose reviewed accounts give precision


class RetrainConfig(Strict):
    """`genuine retrain` (jobs/retrain.py, docs/decisions.md "Retraining"): the shared recent holdout and
    which human decision wins when two were taken at the same instant."""

    holdout_days: int = Field(default=14, ge=1)            # accounts first labelled in the N days up to the newest label
    min_holdout_per_label: int = Field(default=10, ge=1)   # fewer of either label: no challenger is trained
    source_precedence: list[str] = ["appeal", "moderator"]  # same-instant labels: the first listed source wins


class ModelConfig(Strict):
    positive_label: str = "ai_managed"
    negative_label: str = "human"
    seed: int = 20261001
    holdout_fraction: float = Field(default=0.25, gt=0, lt=1)
    validation_fraction: float = Field(default=0.30, gt=0, lt=1)   # share of the non-holdout part
    candidates: list[CandidateKind] = Field(default=["hgb", "logreg"], min_length=1)
    class_weight: Literal["balanced"] | None = "balanced"
    # sigmoid by default: isotonic on a few hundred labels maps the top of the ranking onto one plateau
    # at 1.0, and a single human inside that plateau makes a 0.995-precision threshold unreachable.
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"
    calibration_folds: int = Field(default=3, ge=2)
    # the chosen candidate, calibrated, soft-voted with one expert per feature family (models/ensemble.py):
    # off, mean, or full_or_mean (the larger of the full model and the mean; docs/model.md, section 12)
    family_vote: Literal["off", "mean", "full_or_mean"] = "off"   # conf/base.yml turns it on
    precision_targets: PrecisionTargets = PrecisionTargets()
    # where the band thresholds are chosen: on the validation split's scores, or on out-of-fold scores
    # of every non-holdout account (`threshold_folds` refits of the chosen recipe): a human share of
    # 0.5 % cannot be read off the ~250 humans of a small validation split (docs/model.md, section 12)
    thresholds_from: Literal["validation", "out_of_fold"] = "validation"   # conf/base.yml: out_of_fold
    threshold_folds: int = Field(default=3, ge=2)
    min_flagged: int = Field(default=10, ge=1)     # a threshold must flag at least this many accounts it is chosen on
    hgb: HgbParams = HgbParams()
    logreg: LogRegParams = LogRegParams()
    permutation_repeats: int = Field(default=5, ge=1)
    # OpenMP threads for tree fitting; null = the library default (all cores). On a shared or busy
    # machine the default oversubscribes and a 1 s fit takes 10 s; labelled data are small anyway.
    threads: int | None = Field(default=1, ge=1)
    protected_strategies: list[str] = ["prolific_creator", "brand", "night_shift", "fan_community", "smm_manager",
                                       "ai_assisted_creator", "shift_worker"]
    protect_verified: bool = True
    loso: LosoConfig = LosoConfig()
    novelty: NoveltyConfig = NoveltyConfig()
    reasons: ReasonConfig = ReasonConfig()
    gates: GatesConfig = GatesConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    retrain: RetrainConfig = RetrainConfig()

    @field_validator("family_vote", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML reads an unquoted `off` (in a file or in `--set model.family_vote=off`) as false
        return "off" if value is False else value

    @model_validator(mode="after")
    def _targets_ordered(self) -> ModelConfig:
        if self.precision_targets.auto < self.precision_targets.review:
            raise ValueError("precision_targets.auto must be >= precision_targets.review")
        return self


# --- the AI-text detector (conf: `text_detector:`) ----------------------------------------------------

class TextDetectorConfig(Strict):
    """Hyper-parameters of the detector; defaults are the design docs/text-detector.md argues for."""

    max_chars: int = Field(2000, ge=1, description="texts are cut to this many characters: bounds cost per post")
    char_ngram_max: int = Field(4, ge=1, le=6, description="character n-grams 1..N over the marked text")
    char_min_df: int = Field(2, ge=1, description="an n-gram must occur in this many training texts")
    word_ngrams: bool = Field(True, description="add jieba/regex word unigrams + bigrams")
    word_min_df: int = Field(2, ge=1)
    shape_ngram_max: int = Field(5, ge=0, le=8, description="n-grams 1..N of the text's character kinds (0 = none)")
    style: bool = Field(True, description="add stylometric features (punctuation, sentence lengths, connectives)")
    predictability: bool = Field(True, description="add word rarity (wordfreq ranks) and compressibility")
    frequency_top_n: int = Field(30000, ge=100, description="words of each language's frequency list kept")
    dense_model: Literal["hgb", "logreg"] = Field("hgb", description="model of the dense (style) view")
    C_text: float = Field(4.0, gt=0, description="inverse L2 strength, logistic regression on tf-idf")
    C_nb: float = Field(4.0, gt=0, description="inverse L2 strength, logistic regression on NB-scaled tf-idf")
    C_style: float = Field(1.0, gt=0, description="inverse L2 strength of the dense view when it is logreg")
    nb_alpha: float = Field(1.0, gt=0, description="smoothing of the naive-Bayes log-count ratios")
    hgb_max_iter: int = Field(200, ge=1, description="boosting rounds of the dense view when it is hgb")
    hgb_learning_rate: float = Field(0.05, gt=0)
    hgb_max_leaf_nodes: int = Field(15, ge=2)
    hgb_min_samples_leaf: int = Field(20, ge=1)
    inner_folds: int = Field(3, ge=2, description="inner CV folds that learn the blend weights")
    max_iter: int = Field(3000, ge=100)
    balance_sources: bool = Field(False, description="weigh every corpus file equally in training")
    holdout_fraction: float = Field(0.2, gt=0, lt=1, description="share of each file x label held out for metrics")
    refit_on_all: bool = Field(True, description="register a model refit on all rows (metrics stay from the holdout fit)")
    cv_folds: int = Field(5, ge=0, description="training also logs K-fold AUROC, FPR tables and speed (0 = skip)")
    leave_one_file_out: bool = Field(True, description="training also logs AUROC on each file when trained on the others")
    fpr_human_share: float = Field(0.05, gt=0, lt=1, description="FPR tables at the threshold flagging this share of humans")
    fpr_length_edges: list[int] = Field(default_factory=lambda: [50, 200], min_length=1,
                                        description="text-length bucket edges (characters) of the FPR tables")
    seed: int = 0
    corpus: list[str] = Field(default_factory=list, description=(
        "default corpus files or glob patterns (relative to the working directory) when a command is given "
        "no --corpus; files that are absent are skipped with a warning"))

    @model_validator(mode="after")
    def _edges_increase(self) -> TextDetectorConfig:
        if any(b <= a for a, b in zip(self.fpr_length_edges, self.fpr_length_edges[1:], strict=False)) \
                or self.fpr_length_edges[0] <= 0:
            raise ValueError("fpr_length_edges must be positive and increasing")
        return self


def text_detector_config(cfg: Config) -> TextDetectorConfig:
    """The validated `text_detector` block of the config (defaults for keys it does not set)."""
    return cfg.section("text_detector", TextDetectorConfig)
