"""Arrow schemas of what the simulator writes: the platform export (input contract) and the truth file.

Declared once here; the writer (write_part) builds every table in these, and the tests compare against
them. Timestamps are epoch milliseconds (int64), one of the two forms the input contract accepts.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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


def write_part(out: Path, entity: str, part: int, columns: dict[str, pa.Array]) -> tuple[str, int]:
    """Write one part file of an entity (OUT/<entity>/part-NNNNN.parquet) in its schema: (path, rows)."""
    schema = EXPORT_SCHEMAS[entity]
    table = pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
    folder = out / entity
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{part:05d}.parquet"
    pq.write_table(table, path, compression="zstd")
    return str(path), table.num_rows
