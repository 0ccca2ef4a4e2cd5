"""Arrow schemas of what the simulator writes: the platform export (input contract) and the truth file.

Declared once here; the writer casts every table to these, and the tests compare against them.
Timestamps are epoch milliseconds (int64), one of the two forms the input contract accepts.
"""

from __future__ import annotations

import pyarrow as pa

MEDIA_ITEM = pa.struct([pa.field("phash", pa.string()), pa.field("aigc_label", pa.bool_())])

EXPORT_SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema([
        ("account_id", pa.string()), ("created_at", pa.int64()), ("nickname", pa.string()), ("bio", pa.string()),
        ("verified", pa.bool_()), ("declared_ai_assisted", pa.bool_()), ("region", pa.string()),
    ]),
    "posts": pa.schema([
        ("post_id", pa.string()), ("account_id", pa.string()), ("created_at", pa.int64()), ("title", pa.string()),
        ("body", pa.string()), ("client", pa.string()), ("topics", pa.list_(pa.string())),
        ("media", pa.list_(MEDIA_ITEM)), ("declared_ai", pa.bool_()),
    ]),
    "interactions": pa.schema([
        ("event_id", pa.string()), ("actor_id", pa.string()), ("kind", pa.string()),
        ("target_account_id", pa.string()), ("target_post_id", pa.string()), ("created_at", pa.int64()),
        ("body", pa.string()),
    ]),
    "sessions": pa.schema([
        ("session_id", pa.string()), ("account_id", pa.string()), ("device_id", pa.string()), ("ip", pa.string()),
        ("started_at", pa.int64()), ("client", pa.string()),
    ]),
    "reports": pa.schema([
        ("report_id", pa.string()), ("reporter_id", pa.string()), ("reported_account_id", pa.string()),
        ("reason", pa.string()), ("created_at", pa.int64()), ("body", pa.string()),
    ]),
    "labels": pa.schema([
        ("account_id", pa.string()), ("label", pa.string()), ("source", pa.string()), ("decided_at", pa.int64()),
    ]),
}
ENTITIES: tuple[str, ...] = tuple(EXPORT_SCHEMAS)

TRUTH_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("population", pa.string()), ("strategy", pa.string()), ("cluster_id", pa.string()),
])
TRUTH_DIR = "_truth"          # ingest ignores folders starting with "_"
TRUTH_FILE = "accounts.parquet"
