"""Independent readers and comparisons used across tests (no Spark on the reading side)."""

from __future__ import annotations

import pandas as pd
from deltalake import DeltaTable, QueryBuilder


def read_delta_rs(uri: str, version: int | None = None) -> pd.DataFrame:
    """Read a Delta table with delta-rs alone (QueryBuilder avoids the exit-time abort of to_pyarrow_*)."""
    dt = DeltaTable(uri, version=version) if version is not None else DeltaTable(uri)
    import pyarrow as pa

    return pa.table(QueryBuilder().register("t", dt).execute("select * from t").read_all()).to_pandas()


def sorted_frame(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by).reset_index(drop=True)
