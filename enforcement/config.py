"""The `enforcement` section of the configuration: policy, circuit breaker, review queue, imports, statements.

Every threshold that decides whether an account is acted on lives here, so that changing policy is a
reviewed config change and never a code change. Validation refuses policies that would break the rules
the platform promises (suspension is never automatic, at least one protected route to a human).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from genuine.core.config import Config, Strict


class PolicyConfig(Strict):
    # Automatic actions per band. Only the `auto` band may act without a human; `review` and `none` must be empty.
    band_actions: dict[str, list[str]]
    # Actions only a moderator may take (config that lists one of these as automatic is refused).
    moderator_only_actions: list[str]
    # Independent signal families; automatic action needs `min_support_families` of them supporting it.
    families: list[str]
    min_support_families: int = Field(ge=1)
    # A reason "supports" the decision when it is at least this extreme among humans, in either tail:
    # max(p, 100 - p) >= support_percentile, p = scores.reasons.human_percentile (0-100 mid-rank,
    # models/scoring.py). Either tail, because the scorer emits reasons only in each feature's bot
    # direction, and for "lower is bot-like" features a bot-like value has a percentile near 0.
    support_percentile: float = Field(gt=50, le=100)
    # Accounts a moderator cleared (or an appeal restored) are not re-queued by later runs unless true.
    requeue_cleared: bool = False

    @model_validator(mode="after")
    def _suspension_needs_a_moderator(self) -> PolicyConfig:
        for band, actions in self.band_actions.items():
            if band != "auto" and actions:
                raise ValueError(f"band_actions.{band}: only the auto band may carry automatic actions")
            forbidden = sorted(set(actions) & set(self.moderator_only_actions))
            if forbidden:
                raise ValueError(f"band_actions.{band}: {forbidden} need a moderator and can never be automatic")
        if self.min_support_families > len(self.families):
            raise ValueError("min_support_families exceeds the number of configured families")
        return self

    @property
    def auto_actions(self) -> list[str]:
        return list(self.band_actions.get("auto", []))


class BreakerConfig(Strict):
    # Hold every automatic action when a run would act on more than
    # max(floor, ratio x statistic(last `lookback_runs` counts)) accounts.
    ratio: float = Field(gt=0)
    lookback_runs: int = Field(ge=1)
    statistic: Literal["median", "mean"] = "median"
    # Runs with fewer than `min_history_runs` past counts use the floor alone.
    min_history_runs: int = Field(ge=1)
    floor: int = Field(ge=0)
    enabled: bool = True


class QueueConfig(Strict):
    # priority = harm_weight * score * ln(1 + reach) / ln(1 + reach_scale) + uncertainty_weight * uncertainty
    harm_weight: float = Field(ge=0)
    uncertainty_weight: float = Field(ge=0)
    reach_scale: int = Field(ge=1)
    # uncertainty = max(0, 1 - |score - auto_threshold| / uncertainty_band)
    uncertainty_band: float = Field(gt=0)
    max_sample_posts: int = Field(ge=0)
    snippet_chars: int = Field(ge=1)
    max_cluster_members: int = Field(ge=0)
    # Exploration: exploration_share of `capacity` (accounts moderators review per run) goes to band-none
    # accounts picked for novelty, so kinds of bot the model was never shown reach a human and become
    # labels; they are spread through the queue, not appended after everything the model flagged.
    capacity: int = Field(ge=0)
    exploration_share: float = Field(ge=0, lt=1)
    exploration_min_novelty: float = Field(ge=0, le=1)

    @property
    def exploration_slots(self) -> int:
        return int(round(self.capacity * self.exploration_share))


class ImportConfig(Strict):
    review_decisions: list[str]     # accepted values of `decision` in `genuine review import`
    appeal_outcomes: list[str]      # accepted values of `outcome` in `genuine appeal import`
    # What each human decision does to the account.
    confirm_actions: list[str]      # restrictions a moderator's `confirm` applies
    # Training label written for each decision (values must be ingest.label_values).
    labels: dict[str, str]
    label_source: dict[str, str]    # review -> moderator, appeal -> appeal

    @model_validator(mode="after")
    def _every_decision_has_a_label(self) -> ImportConfig:
        missing = sorted(set(self.review_decisions + self.appeal_outcomes) - set(self.labels))
        if missing:
            raise ValueError(f"labels: no training label configured for {missing}")
        if set(self.label_source) != {"review", "appeal"}:
            raise ValueError("label_source must map exactly 'review' and 'appeal'")
        return self


class StatementAction(Strict):
    """Which DSA restriction an action is: a visibility restriction or an account decision."""

    decision_visibility: str | None = None
    decision_account: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> StatementAction:
        if (self.decision_visibility is None) == (self.decision_account is None):
            raise ValueError("set exactly one of decision_visibility / decision_account")
        return self


class StatementConfig(Strict):
    actions: dict[str, StatementAction]            # statement-bearing actions (restrictions) only
    incompatible_content_ground: str
    incompatible_content_explanation: str
    decision_ground_reference_url: str | None = None
    category: str
    keywords: list[str]
    coordinated_keywords: list[str]                # added when the coordination family supports the decision
    coordination_family: str
    content_type: list[str]
    territorial_scope: list[str]
    account_type: str | None = None
    source_type: str
    content_language: str | None = None
    max_reasons_in_facts: int = Field(ge=1)


class InputsConfig(Strict):
    """Where the enforce job finds the evidence that is not in the scores table (feature table columns)."""

    # Audience of an account, for the queue's expected harm (a feature column of the scored snapshot).
    reach_feature: str = "follow_in_degree"
    # Coordination cluster id in the feature table, when it carries one; otherwise the job derives the
    # clusters from raw interactions exactly as the network feature does (docs/enforcement.md).
    cluster_id_column: str = "coord_cluster_id"
    # The feature that counts the cluster's accounts: the derived clusters are checked against it.
    cluster_size_feature: str = "coord_cluster_size"


class AuditConfig(Strict):
    # `genuine audit replay`: a replayed score matches when |recorded - replayed| <= score_tolerance
    # (same model, same features: the difference is floating-point noise of batching, if any).
    score_tolerance: float = Field(default=1e-9, ge=0)
    sample_events: int = Field(default=5, ge=0)    # raw posts / interactions shown by `audit explain`
    # Runs of `replayable_jobs` started within this many days must stay replayable: `genuine maintain` refuses
    # a retention (lake.maintenance) that would let VACUUM or log cleanup delete the versions they read.
    replay_window_days: int = Field(default=30, ge=0)
    replayable_jobs: list[str] = Field(default_factory=lambda: ["score", "enforce"])


class EnforcementConfig(Strict):
    policy: PolicyConfig
    breaker: BreakerConfig
    queue: QueueConfig
    imports: ImportConfig
    statements: StatementConfig
    inputs: InputsConfig = InputsConfig()
    audit: AuditConfig = AuditConfig()


def enforcement_config(cfg: Config | EnforcementConfig | dict[str, Any]) -> EnforcementConfig:
    """Accept the whole Config (validated here, errors name the key) or an already validated section."""
    if isinstance(cfg, EnforcementConfig):
        return cfg
    if isinstance(cfg, Config):
        return cfg.section("enforcement", EnforcementConfig)
    return EnforcementConfig.model_validate(cfg)
