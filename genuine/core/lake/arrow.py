"""Delta tables read into Arrow by delta-rs alone: no Spark, no JVM (notebooks, dev tools, oracles), and
their logs listed (the part files of each day, whichever engine wrote them: the log is the protocol).

Reads go through delta-rs' own query engine (`QueryBuilder`), never `DeltaTable.to_pyarrow_table` or
`to_pyarrow_dataset`: those scan with pyarrow's dataset threads, and a process that used them aborts at
interpreter exit with "terminate called without an active exception" (status 134) in about two runs of
three here (deltalake 1.6, pyarrow 23; delta-io/delta-rs#2184, apache/arrow#34314). A job that finished its
work must not exit as failed. tests/core/test_lake_arrow.py runs the read in fresh processes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder

__all__ = ["live_files", "plain_type", "query", "read_arrow"]


def plain_type(t: pa.DataType) -> pa.DataType:
    """delta-rs answers with view types (string_view, list_view) that pandas cannot convert yet."""
    if pa.types.is_string_view(t) or pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.list_(plain_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, plain_type(f.type)) for f in t])
    if pa.types.is_map(t):
        return pa.map_(plain_type(t.key_type), plain_type(t.item_type))
    return t


def query(uri: str, sql: str, *, name: str = "t", version: int | None = None) -> pa.Table:
    """`sql` over the table registered as `name` (at `version`, else the latest), with plain Arrow types."""
    dt = DeltaTable(uri, version=version) if version is not None else DeltaTable(uri)
    table = pa.table(QueryBuilder().register(name, dt).execute(sql).read_all())
    return table.cast(pa.schema([pa.field(f.name, plain_type(f.type)) for f in table.schema]))


def read_arrow(uri: str, columns: Sequence[str] | None = None, version: int | None = None) -> pa.Table:
    """The whole table, or only `columns`, every data file of the version read."""
    if columns is not None and not columns:
        raise ValueError("read_arrow: an empty column list; pass None for every column")
    cols = "*" if columns is None else ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    return query(uri, f"select {cols} from t", version=version)


def live_files(uri: str, version: int | None = None) -> list[tuple[str, dict[str, str | None]]]:
    """(identity, partition values as text) of each data file live at `version`, from the table's log alone:
    no data file is opened. The identity (path, size, deletion vector) changes whenever the rows a file
    stands for can: Delta files are immutable, so equal identities mean equal rows."""
    dt = DeltaTable(uri, version=version) if version is not None else DeltaTable(uri)
    actions = pa.table(dt.get_add_actions(flatten=True))
    if not actions.num_rows:
        return []
    parts = [c for c in actions.column_names if c.startswith("partition.")]
    marks = ["path", "size_bytes", *sorted(c for c in actions.column_names if c.startswith("deletionVector"))]
    cols = {c: actions.column(c).cast(pa.string()).to_pylist() for c in {*parts, *marks}}
    return [("\t".join(str(cols[c][i]) for c in marks), {c[len("partition."):]: cols[c][i] for c in parts})
            for i in range(actions.num_rows)]
