"""The enforcement stage's frame shapes that are not tables, and the vocabulary of statuses and outcomes.

The enforcement tables themselves (account_status, action_log, review_queue, decisions, statements) are
declared with every other table in genuine.core.schemas, their keys in genuine.core.catalog.
All fields nullable (see genuine.core.schemas: Delta turns non-nullable fields into NOT NULL columns).
"""

from __future__ import annotations

from pyspark.sql.types import (
                 BooleanType,
                 DateType,
                 DoubleType,
                 IntegerType,
                 LongType,
                 StringType,
                 TimestampType,
)

from genuine.core.schemas import REASONS, STRINGS
from genuine.core.schemas import nullable_struct as _s

S, L, INT, D, B, T, DT = StringType(), LongType(), IntegerType(), DoubleType(), BooleanType(), TimestampType(), DateType()

# The columns of the scores table this package reads (a subset of genuine.core.schemas SCORES).
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

# One line of an import file, every field still a string (parse_error set when the line is unreadable).
IMPORT_RAW = _s(("record_no", L), ("raw", S), ("account_id", S), ("decision", S), ("moderator_id", S),
                ("note", S), ("decided_at", S), ("parse_error", S))
