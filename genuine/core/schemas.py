"""Every table schema, declared once.

Two families:
- CONTRACT_*: what the platform export holds (docs/input-contract.md). Timestamps arrive as strings
  (ISO-8601 with offset) or epoch milliseconds, so they are read as strings and parsed by ingest.
- RAW_* and the other tables: what genuine writes to Delta. Every field is nullable on purpose: Delta
  turns Spark's non-nullable fields into NOT NULL columns and later appends with a null would fail;
  required-ness is enforced by validation instead (see genuine.ingest).

Each table's keys, path and partitioning are in the table catalog (genuine.core.catalog).
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def nullable_struct(*fields: tuple[str, DataType]) -> StructType:
    """A StructType whose fields are all nullable (the only kind genuine writes to Delta)."""
    return StructType([StructField(name, dtype, True) for name, dtype in fields])


_s = nullable_struct


S, L, INT, D, B, T, DT = StringType(), LongType(), IntegerType(), DoubleType(), BooleanType(), TimestampType(), DateType()
STRINGS = ArrayType(S, True)
MEDIA = ArrayType(_s(("phash", S), ("aigc_label", B)), True)

# --- input contract: the entities of a platform export -------------------------------------------
ENTITY_KEYS: dict[str, list[str]] = {
    "accounts": ["account_id"],
    "posts": ["post_id"],
    "interactions": ["event_id"],
    "sessions": ["session_id"],
    "reports": ["report_id"],
    "labels": ["account_id", "source", "decided_at"],
}
REQUIRED_ENTITIES = ("accounts", "posts", "interactions", "sessions", "reports")
OPTIONAL_ENTITIES = ("labels",)

# --- raw layer: validated, typed, UTC, privacy-safe ------------------------------------------------
LINEAGE = (("ingest_run_id", S), ("source_file", S))

RAW_ACCOUNTS = _s(("account_id", S), ("created_at", T), ("nickname", S), ("bio", S), ("verified", B),
                  ("declared_ai_assisted", B), ("region", S), *LINEAGE)
RAW_POSTS = _s(("post_id", S), ("account_id", S), ("created_at", T), ("title", S), ("body", S),
               ("client", S), ("topics", ArrayType(S, True)), ("media", MEDIA), ("declared_ai", B), *LINEAGE)
RAW_INTERACTIONS = _s(("event_id", S), ("actor_id", S), ("kind", S), ("target_account_id", S),
                      ("target_post_id", S), ("created_at", T), ("body", S), *LINEAGE)
# ip and device_id never land in clear: keyed HMAC-SHA256, hex; ip_prefix_hash is the HMAC of the ip's
# /24 (IPv4) or /48 (IPv6) network prefix (genuine.ingest.ip), NULL without an ip.
RAW_SESSIONS = _s(("session_id", S), ("account_id", S), ("device_hash", S), ("ip_hash", S),
                  ("ip_prefix_hash", S), ("started_at", T), ("client", S), *LINEAGE)
# reason: as the platform sent it (an open vocabulary); reason_category: its configured category
# (ingest.report_reason_categories, `other` for any wording not listed).
RAW_REPORTS = _s(("report_id", S), ("reporter_id", S), ("reported_account_id", S), ("reason", S),
                 ("reason_category", S), ("created_at", T), ("body", S), *LINEAGE)
RAW_LABELS = _s(("account_id", S), ("label", S), ("source", S), ("decided_at", T), *LINEAGE)

RAW_SCHEMAS: dict[str, StructType] = {
    "accounts": RAW_ACCOUNTS,
    "posts": RAW_POSTS,
    "interactions": RAW_INTERACTIONS,
    "sessions": RAW_SESSIONS,
    "reports": RAW_REPORTS,
    "labels": RAW_LABELS,
}
RAW_TABLE = {entity: f"raw_{entity}" for entity in RAW_SCHEMAS}

QUARANTINE = _s(("quarantine_id", S), ("entity", S), ("source_file", S), ("record_no", L), ("raw", S),
                ("reason", S), ("detail", S), ("run_id", S), ("quarantined_at", T))

# --- features stage: AI-text scores of posts, cached per text detector version ---------------------
# (the feature table's schema is generated from the feature registry: genuine.features.catalog)
POST_SCORES = _s(("post_id", S), ("account_id", S), ("p_ai", D), ("model_version", S))

# --- models stage: one row per account x snapshot x scoring run --------------------------------------
REASON = _s(("family", S), ("feature", S), ("value", D), ("human_percentile", D), ("human_p999", D), ("text", S))
REASONS = ArrayType(REASON, True)
SCORES = _s(("account_id", S), ("snapshot_date", DT), ("score", D), ("novelty", D), ("band", S), ("model_name", S),
            ("model_version", S), ("model_run_id", S), ("feature_table_version", L), ("scoring_run_id", S),
            ("reasons", REASONS), ("scored_at", T))

# --- enforcement stage (vocabulary of statuses and outcomes: genuine.enforcement.schemas) -------------
# account_status: one row per affected account, kept current by a merge on account_id.
ACCOUNT_STATUS = _s(
    ("account_id", S), ("status", S), ("active_actions", STRINGS), ("since", T),
    ("last_action", S), ("last_action_id", S), ("last_decision_source", S), ("last_decided_by", S),
    ("last_decision_ref", S), ("scoring_run_id", S), ("updated_by_run", S), ("updated_at", T),
)

# action_log: append-only; action_id is a hash of content, so a retried write can merge-ignore.
ACTION_LOG = _s(
    ("action_id", S), ("account_id", S), ("action", S), ("decision_source", S), ("decided_by", S),
    ("decision_ref", S), ("route_reason", S), ("reason_codes", STRINGS), ("reasons", REASONS),
    ("supporting_families", STRINGS),
    # the score row this action rests on (scores key: scoring_run_id + account_id + snapshot_date)
    ("scoring_run_id", S), ("snapshot_date", DT), ("score", D), ("band", S),
    ("model_name", S), ("model_version", S), ("model_run_id", S), ("feature_table_version", L),
    ("note", S), ("job_run_id", S), ("decided_at", T), ("logged_at", T),
)

# review_queue: one row per queued account per scoring run.
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

# decisions: moderator decisions and appeal outcomes, as imported.
DECISIONS = _s(
    ("decision_id", S), ("kind", S), ("account_id", S), ("decision", S), ("moderator_id", S), ("note", S),
    ("decided_at", T), ("applied", B), ("not_applied_reason", S), ("prior_status", S),
    ("source_file", S), ("record_no", L), ("import_run_id", S), ("imported_at", T),
)

# statements of reasons, one per statement-bearing action.
STATEMENTS = _s(("action_id", S), ("puid", S), ("account_id", S), ("action", S), ("application_date", DT),
                ("statement", S), ("errors", STRINGS), ("valid", B))

# appeals: one row per appeal an account holder filed against a restriction (the platform's intake writes
# it; the demo files one). Open while no appeal outcome was decided for the account after filed_at.
APPEALS = _s(("appeal_id", S), ("account_id", S), ("filed_at", T), ("statement", S), ("appealed_action_id", S),
             ("source", S), ("recorded_at", T))

# --- moderator console (genuine.console) -------------------------------------------------------------
# console_users: one row per console user, kept current by a merge on username; password_hash is an
# argon2id hash (never a password). role: moderator | appeals_officer | auditor | admin.
CONSOLE_USERS = _s(("username", S), ("role", S), ("password_hash", S), ("active", B), ("created_at", T),
                   ("created_by", S), ("updated_at", T))
# console_access: append-only; who saw which account's evidence and who decided, when.
CONSOLE_ACCESS = _s(("access_id", S), ("username", S), ("role", S), ("action", S), ("account_id", S),
                    ("detail", S), ("at", T))

# --- monitoring (genuine monitor): one row per monitored figure, long format -------------------------
# kind: feature (subject = feature; metric psi / ks / null_share), score (subject "score"; psi, mean),
# band (subject = band; volume), precision (subject = band; reviewed / confirmed / precision / delay_hours).
# `reference`: what it is compared with; `breached`: past `threshold` (null when not judged).
MONITORING = _s(("scoring_run_id", S), ("snapshot_date", DT), ("model_name", S), ("model_version", S),
                ("kind", S), ("subject", S), ("metric", S), ("value", D), ("reference", D), ("threshold", D),
                ("breached", B), ("monitor_run_id", S), ("computed_at", T))

# --- operations: the run ledger (genuine.core.ledger) ---------------------------------------------
RUNS = _s(("run_id", S), ("job", S), ("status", S), ("started_at", T), ("ended_at", T),
          ("config_hash", S), ("code_version", S), ("params", S),
          ("inputs", MapType(S, L, True)), ("outputs", MapType(S, L, True)),
          ("row_counts", MapType(S, L, True)), ("error", S))


def to_arrow(schema: StructType) -> pa.Schema:
    """Arrow twin of a Spark schema, with UTC microsecond timestamps as Delta stores them."""
    return pa.schema([pa.field(f.name, _arrow_type(f.dataType), nullable=True) for f in schema.fields])


def _arrow_type(dtype: DataType) -> pa.DataType:
    simple: dict[type, pa.DataType] = {
        StringType: pa.string(), LongType: pa.int64(), IntegerType: pa.int32(), DoubleType: pa.float64(),
        BooleanType: pa.bool_(), TimestampType: pa.timestamp("us", tz="UTC"), DateType: pa.date32(),
    }
    if type(dtype) in simple:
        return simple[type(dtype)]
    if isinstance(dtype, DecimalType):
        return pa.decimal128(dtype.precision, dtype.scale)
    if isinstance(dtype, ArrayType):
        return pa.list_(_arrow_type(dtype.elementType))
    if isinstance(dtype, MapType):
        return pa.map_(_arrow_type(dtype.keyType), _arrow_type(dtype.valueType))
    if isinstance(dtype, StructType):
        return pa.struct([pa.field(f.name, _arrow_type(f.dataType)) for f in dtype.fields])
    raise TypeError(f"no Arrow mapping for {dtype}")
