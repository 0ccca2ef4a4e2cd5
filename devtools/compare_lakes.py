"""Two lakes built from the same export by the same jobs (a standalone cluster and `local[2]`, in
`make cluster-demo`) hold the same feature and score tables, row for row.

Read with delta-rs alone (no Spark, so neither run's engine judges itself). What may differ between two
runs is left out and named: run ids, the MLflow run of the model, the scoring time. Doubles are compared
with a relative tolerance (`RTOL`): Spark sums in the order shuffle blocks arrive, which differs between
any two runs, so the last bits of a floating sum can; everything else must be equal exactly.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genuine.core.config import load_config
from genuine.core.lake.arrow import read_arrow
from genuine.core.logs import setup_logging

log = logging.getLogger(__name__)

RTOL = 1e-9
RUN_SPECIFIC: dict[str, tuple[str, ...]] = {
    "features": ("run_id",),
    "scores": ("scoring_run_id", "model_run_id", "scored_at"),
}
"""Per table: the columns that name the run that wrote a row (never equal between two runs)."""
ROW_KEY: dict[str, tuple[str, ...]] = {
    "features": ("account_id", "snapshot_date"),
    "scores": ("account_id", "snapshot_date"),
}


@dataclass(frozen=True)
class TableDiff:
    table: str
    rows: tuple[int, int]                    # rows in lake a, lake b
    columns_compared: int
    exact_columns: int                       # columns equal bit for bit
    problems: tuple[str, ...]                # empty: equal

    @property
    def equal(self) -> bool:
        return not self.problems


def read_table(uri: str) -> pd.DataFrame:
    return read_arrow(uri).to_pandas()


def _comparable(values: pd.Series) -> pd.Series:
    """Nested values (arrays, maps, structs) as canonical JSON text; scalars as they are."""
    if values.dtype == object and values.map(lambda v: isinstance(v, list | dict | np.ndarray | tuple)).any():
        return values.map(lambda v: json.dumps(_plain(v), sort_keys=True, default=str))
    return values


def _plain(v: object) -> object:
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def compare_frames(table: str, a: pd.DataFrame, b: pd.DataFrame) -> TableDiff:
    drop = [c for c in RUN_SPECIFIC[table] if c in a.columns]
    key = list(ROW_KEY[table])
    problems: list[str] = []
    if sorted(a.columns) != sorted(b.columns):
        problems.append(f"columns differ: only in a {sorted(set(a.columns) - set(b.columns))}, "
                        f"only in b {sorted(set(b.columns) - set(a.columns))}")
        return TableDiff(table, (len(a), len(b)), 0, 0, tuple(problems))
    a = a.drop(columns=drop).sort_values(key).reset_index(drop=True)
    b = b.drop(columns=drop)[a.columns].sort_values(key).reset_index(drop=True)
    if len(a) != len(b):
        problems.append(f"{len(a)} rows against {len(b)}")
    elif not a[key].equals(b[key]):
        problems.append("the row keys differ")
    exact = 0
    if not problems:
        for col in a.columns:
            x, y = _comparable(a[col]), _comparable(b[col])
            if x.equals(y):
                exact += 1
            elif pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
                close = np.isclose(x.to_numpy(), y.to_numpy(), rtol=RTOL, atol=0.0, equal_nan=True)
                if not close.all():
                    problems.append(f"{col}: {(~close).sum()} rows differ beyond rtol {RTOL}")
            else:
                differ = ~((x == y) | (x.isna() & y.isna()))
                problems.append(f"{col}: {int(differ.sum())} rows differ")
    return TableDiff(table, (len(a), len(b)), len(a.columns), exact, tuple(problems))


def compare_lakes(root_a: str, root_b: str, env: str | None = None) -> list[TableDiff]:
    cfg_a = load_config(env, [f"lake.root={root_a}"])
    cfg_b = load_config(env, [f"lake.root={root_b}"])
    return [compare_frames(t, read_table(cfg_a.table(t)), read_table(cfg_b.table(t))) for t in RUN_SPECIFIC]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("lake_a")
    p.add_argument("lake_b")
    p.add_argument("--env", default=None)
    args = p.parse_args(argv)
    setup_logging()
    diffs = compare_lakes(args.lake_a, args.lake_b, args.env)
    for d in diffs:
        log.info("%s: %d rows in a, %d in b; %d columns compared (run ids left out), %d bit for bit%s",
                 d.table, *d.rows, d.columns_compared, d.exact_columns,
                 "" if d.equal else "; DIFFER: " + "; ".join(d.problems))
    return 0 if all(d.equal for d in diffs) else 1


if __name__ == "__main__":
    sys.exit(main())
