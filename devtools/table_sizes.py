"""What each table of a lake holds on disk: rows, live files, bytes, and per partition (day) the same, read
from the Delta log with delta-rs (sizes and row counts are the add actions' own). Used for the table sizes
at 1M accounts in docs/maintenance.md: `python -m genuine.devtools.table_sizes LAKE_ROOT`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

import pyarrow as pa
from deltalake import DeltaTable

from genuine.core import catalog
from genuine.core.config import load_config
from genuine.core.logs import setup_logging

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableSize:
    table: str
    rows: int
    files: int
    bytes: int
    partitions: int                  # distinct partition values (0: unpartitioned)
    bytes_per_row: float
    max_partition_files: int         # files in the partition that has most
    partition_bytes: dict[str, int]  # bytes per partition value (joined with "/")
    partition_rows: dict[str, int]


def table_size(name: str, uri: str) -> TableSize:
    dt = DeltaTable(uri)
    actions = pa.table(dt.get_add_actions(flatten=True))
    rows = sum(n or 0 for n in actions.column("num_records").to_pylist()) if actions.num_rows else 0
    size = sum(actions.column("size_bytes").to_pylist()) if actions.num_rows else 0
    parts = dt.metadata().partition_columns
    files: dict[str, int] = {}
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}
    if parts and actions.num_rows:
        values = zip(*[actions.column(f"partition.{c}").cast(pa.string()).to_pylist() for c in parts], strict=True)
        for v, b, n in zip(values, actions.column("size_bytes").to_pylist(),
                           actions.column("num_records").to_pylist(), strict=True):
            key = "/".join(str(x) for x in v)
            files[key] = files.get(key, 0) + 1
            sizes[key] = sizes.get(key, 0) + b
            counts[key] = counts.get(key, 0) + (n or 0)
    return TableSize(name, rows, actions.num_rows, size, len(files), size / rows if rows else 0.0,
                     max(files.values(), default=actions.num_rows), sizes, counts)


def lake_sizes(root: str, env: str | None = None) -> list[TableSize]:
    cfg = load_config(env, [f"lake.root={root}"])
    return [table_size(name, cfg.table(name)) for name in sorted(catalog.TABLES)
            if DeltaTable.is_deltatable(cfg.table(name))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("lake_root")
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    setup_logging()
    for s in lake_sizes(args.lake_root, args.env):
        log.info("%-18s rows %11d  files %6d  bytes %13d  partitions %4d  bytes/row %7.1f  max files/partition %d",
                 s.table, s.rows, s.files, s.bytes, s.partitions, s.bytes_per_row, s.max_partition_files)
        for part, size in sorted(s.partition_bytes.items()):
            log.info("%-18s   %s: rows %d, bytes %d", s.table, part, s.partition_rows[part], size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
