"""Schemas of the enforcement tables, their merge keys, and the vocabulary of statuses and outcomes.

All fields nullable (see genuine.schemas: Delta turns non-nullable fields into NOT NULL columns).
The `reasons` struct is the scores table's (models/scoring.py SCORES) so evidence is copied, not re-shaped.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from genuine.core.schemas import nullable_struct as _s

S, L, INT, D, B, T, DT = StringType(), LongType(), IntegerType(), DoubleType(), BooleanType(), TimestampType(), DateType()
STRINGS = ArrayType(S, True)

REASON = _s(("family", S), ("feature", S), ("value", D), ("human_percentile", D), ("human_p999", D), ("text", S))
REASONS = ArrayType(REASON, True)

# The columns of the scores table this package reads (a subset of models/scoring.py SCORES).
SCORE_INPUT = _s(("account_id", S), ("snapshot_date", DT), ("score", D), ("band", S), ("model_name", S),
                 ("model_version", S), ("model_run_id", S), ("feature_table_version", L),
                 ("scoring_run_id", S), ("reasons", REASONS), ("scored_at", T))
CLUSTERS = _s(("account_id", S), ("cluster_id", S))
REACH = _s(("account_id", S), ("reach", L))

# --- vocabulary ------------------------------------------------------------------------------------
# account_status.status
STATUS_NONE = "none"                      # never affected (not stored; what a missing row means)
STATUS_PENDING = "pending_review"
STATUS_ACTIONED = "actioned"              # automatic restrictions in force
STATUS_CONFIRMED = "confirmed"            # a moderator confirmed
STATUS_CLEARED = "cleared"                # a moderator cleared
STATUS_UPHELD = "upheld"                  # an appeal was rejected; restrictions stay
STATUS_RESTORED = "restored"              # an appeal succeeded; restrictions lifted
RESTRICTED_STATUSES = (STATUS_ACTIONED, STATUS_CONFIRMED, STATUS_UPHELD)
HUMAN_CONFIRMED_STATUSES = (STATUS_CONFIRMED, STATUS_UPHELD)
HUMAN_CLEARED_STATUSES = (STATUS_CLEARED, STATUS_RESTORED)

# policy decision outcome
OUTCOME_AUTO = "auto_action"
OUTCOME_REVIEW = "review"
OUTCOME_NO_CHANGE = "no_change"

# decision_source in action_log / account_status
SOURCE_POLICY = "policy"
SOURCE_MODERATOR = "moderator"
SOURCE_APPEAL = "appeal"
DECIDED_BY_AUTO = "auto"

# --- policy decisions (returned by policy.decide; one row per account in the review or auto band) --
POLICY_DECISIONS = _s(
    ("account_id", S), ("snapshot_date", DT), ("scoring_run_id", S), ("score", D), ("band", S),
    ("model_name", S), ("model_version", S), ("model_run_id", S), ("feature_table_version", L),
    ("reasons", REASONS), ("supporting_families", STRINGS), ("n_support_families", INT),
    ("account_known", B), ("verified", B), ("declared_ai_assisted", B),
    ("prior_status", S), ("prior_active_actions", STRINGS),
    ("outcome", S), ("route_reason", S), ("proposed_actions", STRINGS), ("actions", STRINGS),
    ("held_by_breaker", B), ("hold_reason", S),
)

# --- account_status: one row per affected account, kept current by MERGE on ACCOUNT_STATUS_KEYS ------
ACCOUNT_STATUS = _s(
    ("account_id", S), ("status", S), ("active_actions", STRINGS), ("since", T),
    ("last_action", S), ("last_action_id", S), ("last_decision_source", S), ("last_decided_by", S),
    ("last_decision_ref", S), ("scoring_run_id", S), ("updated_by_run", S), ("updated_at", T),
)
ACCOUNT_STATUS_KEYS = ["account_id"]

# --- action_log: append-only; action_id is a hash of content, so a retried write can merge-ignore --
ACTION_LOG = _s(
    ("action_id", S), ("account_id", S), ("action", S), ("decision_source", S), ("decided_by", S),
    ("decision_ref", S), ("route_reason", S), ("reason_codes", STRINGS), ("reasons", REASONS),
    ("supporting_families", STRINGS),
    # the score row this action rests on (scores key: scoring_run_id + account_id + snapshot_date)
    ("scoring_run_id", S), ("snapshot_date", DT), ("score", D), ("band", S),
    ("model_name", S), ("model_version", S), ("model_run_id", S), ("feature_table_version", L),
    ("note", S), ("job_run_id", S), ("decided_at", T), ("logged_at", T),
)
ACTION_LOG_KEYS = ["action_id"]

# --- review_queue: one row per queued account per scoring run ------------------------------------
SAMPLE_POST = _s(("post_id", S), ("created_at", T), ("snippet", S))
REVIEW_QUEUE = _s(
    ("queue_id", S), ("scoring_run_id", S), ("account_id", S), ("snapshot_date", DT),
    ("score", D), ("band", S), ("model_name", S), ("model_version", S), ("model_run_id", S),
    ("feature_table_version", L), ("route_reason", S), ("held_by_breaker", B), ("hold_reason", S), ("verified", B),
    ("declared_ai_assisted", B), ("prior_status", S), ("proposed_actions", STRINGS),
    ("supporting_families", STRINGS), ("n_support_families", INT),
    ("reach", L), ("expected_harm", D), ("uncertainty", D), ("priority", D), ("queue_rank", L),
    ("reason_codes", STRINGS), ("reasons", REASONS), ("sample_posts", ArrayType(SAMPLE_POST, True)),
    ("cluster_id", S), ("cluster_size", L), ("cluster_members", STRINGS), ("cluster_members_truncated", B),
    ("enqueued_run_id", S), ("enqueued_at", T),
)
REVIEW_QUEUE_KEYS = ["queue_id"]

# --- decisions: moderator decisions and appeal outcomes, as imported ------------------------------
DECISIONS = _s(
    ("decision_id", S), ("kind", S), ("account_id", S), ("decision", S), ("moderator_id", S), ("note", S),
    ("decided_at", T), ("applied", B), ("not_applied_reason", S), ("prior_status", S),
    ("source_file", S), ("record_no", L), ("import_run_id", S), ("imported_at", T),
)
DECISIONS_KEYS = ["decision_id"]

# One line of an import file, every field still a string (parse_error set when the line is unreadable).
IMPORT_RAW = _s(("record_no", L), ("raw", S), ("account_id", S), ("decision", S), ("moderator_id", S),
                ("note", S), ("decided_at", S), ("parse_error", S))

# --- statements of reasons, one per statement-bearing action -------------------------------------
STATEMENTS = _s(("action_id", S), ("puid", S), ("account_id", S), ("action", S), ("application_date", DT),
                ("statement", S), ("errors", STRINGS), ("valid", B))
STATEMENTS_KEYS = ["action_id"]
