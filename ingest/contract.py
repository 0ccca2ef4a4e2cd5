"""The platform export contract, field by field (docs/input-contract.md is its prose twin).

Each field has a kind that decides its declared type, how it is parsed and which reason code a bad
value earns. Enum kinds name a list in the `ingest` config section, so new client types are a config
change; the report reason is an open vocabulary mapped to a configured category.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "account_ref", "post_ref", "text", "timestamp", "bool", "enum", "category",
               "string_array", "media", "ip", "device"]

# Kinds declared as a JSON string (a JSON number is taken as its text: numeric ids, epoch milliseconds);
# an object, a list or a boolean there is `wrong_type`.
STRING_KINDS = frozenset({"id", "account_ref", "post_ref", "text", "timestamp", "enum", "category", "ip", "device"})
# Kinds whose values are personal identifiers: never stored in clear, not even in the quarantine.
PII_KINDS = frozenset({"ip", "device"})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    required: bool = False
    enum: str | None = None          # name of the list in IngestConfig for kind == "enum"
    target: str | None = None        # output column name when it differs (hashed fields)
    prefix_target: str | None = None  # ip fields: column of the HMAC of the network prefix (ingest/ip.py)
    category_target: str | None = None  # category fields: column of the configured category


F = FieldSpec

CONTRACT: dict[str, list[FieldSpec]] = {
    "accounts": [
        F("account_id", "id", True), F("created_at", "timestamp", True), F("nickname", "text"),
        F("bio", "text"), F("verified", "bool"), F("declared_ai_assisted", "bool"), F("region", "text"),
    ],
    "posts": [
        F("post_id", "id", True), F("account_id", "account_ref", True), F("created_at", "timestamp", True),
        F("title", "text"), F("body", "text"), F("client", "enum", True, enum="post_clients"),
        F("topics", "string_array"), F("media", "media"), F("declared_ai", "bool"),
    ],
    "interactions": [
        F("event_id", "id", True), F("actor_id", "account_ref", True),
        F("kind", "enum", True, enum="interaction_kinds"), F("target_account_id", "account_ref", True),
        F("target_post_id", "post_ref"), F("created_at", "timestamp", True), F("body", "text"),
    ],
    "sessions": [
        F("session_id", "id", True), F("account_id", "account_ref", True),
        F("device_id", "device", True, target="device_hash"), F("ip", "ip", False, target="ip_hash",
                                                                    prefix_target="ip_prefix_hash"),
        F("started_at", "timestamp", True), F("client", "enum", True, enum="session_clients"),
    ],
    "reports": [
        F("report_id", "id", True), F("reporter_id", "account_ref", True),
        F("reported_account_id", "account_ref", True), F("reason", "category", True,
                                                               category_target="reason_category"),
        F("created_at", "timestamp", True), F("body", "text"),
    ],
    "labels": [
        F("account_id", "account_ref", True), F("label", "enum", True, enum="label_values"),
        F("source", "text", True), F("decided_at", "timestamp", True),
    ],
}

# Reason codes, in the order they are checked (a record earns the first that applies).
REASONS: dict[str, str] = {
    "unreadable_file": "the file could not be opened or has an unsupported format",
    "truncated_file": "the file ends early (cut gzip stream, Parquet without footer)",
    "invalid_utf8": "the record holds bytes that are not valid UTF-8",
    "malformed_json": "the line is not valid JSON",
    "not_an_object": "the line is JSON but not an object",
    "wrong_type": "a field holds another type than declared (a string \"true\" for a boolean, an object for a "
                  "string, a list with elements of another type, one object for a list); the detail names the field",
    "missing_key": "the record's key field is missing or empty",
    "missing_field": "a required field is missing or empty",
    "oversize_id": "an id or reference is longer than ingest.max_id_chars",
    "oversize_field": "a text field is longer than ingest.max_text_chars",
    "unparseable_timestamp": "a timestamp is neither ISO-8601 with an offset nor epoch milliseconds",
    "impossible_timestamp": "a timestamp is before ingest.min_timestamp or in the future",
    "unknown_enum": "an enumerated field (client, kind, label) has a value outside the configured list",
    "invalid_phash": "a media perceptual hash is not 16 hex characters",
    "invalid_ip": "the ip field is not a well-formed IPv4 or IPv6 address (no zone id)",
    "missing_target_post": "a like/collect/comment/share names no target_post_id",
    "orphan_account": "a referenced account is not in the export or the raw accounts table",
    "orphan_post": "the referenced post is not in the export or the raw posts table",
    "target_mismatch": "target_account_id is not the author of target_post_id (and the event is not a reply)",
    "before_target": "the event happens before the post or account it refers to was created",
    "duplicate_key_conflict": "the export holds the same key more than once with different content",
    "duplicate_record": "an exact copy of a record already accepted from this export",
    "conflicts_with_existing": "the key is already in the raw table with different content",
}


def pii_fields() -> list[str]:
    """Names of the fields that are personal identifiers, across every entity."""
    return sorted({s.name for specs in CONTRACT.values() for s in specs if s.kind in PII_KINDS})
