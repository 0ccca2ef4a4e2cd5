"""Independent readers and comparisons used across tests (no Spark on the reading side)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from genuine.core.lake.arrow import read_arrow


def read_delta_rs(uri: str, version: int | None = None) -> pd.DataFrame:
    """Read a Delta table with delta-rs alone (no Spark on the reading side)."""
    return read_arrow(uri, version=version).to_pandas()


def sorted_frame(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by).reset_index(drop=True)


def live_files(table: Path) -> set[str]:
    """The data files the latest version references, replayed from the JSON commits of the log."""
    live: set[str] = set()
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live.add(str(table / unquote(action["add"]["path"])))
            elif "remove" in action:
                live.discard(str(table / unquote(action["remove"]["path"])))
    return live


def data_files_on_disk(table: Path) -> set[str]:
    """Parquet data files under the table (hidden and underscore files are not data: VACUUM leaves them)."""
    return {str(p) for p in table.rglob("*.parquet")
            if "_delta_log" not in p.parts and not p.name.startswith((".", "_"))}


def drift_oracle(reference: dict, current: pd.DataFrame, eps: float) -> pd.DataFrame:
    """PSI, KS and null shares of `current`'s columns against a drift reference, recomputed from the
    reference's stored sample with numpy and scipy alone: bins from np.quantile, shares by np.digitize,
    KS by scipy.stats.ks_2samp."""
    import numpy as np
    from scipy.stats import ks_2samp

    rows = []
    for name, ref in reference["features"].items():
        cur = pd.to_numeric(current[name], errors="coerce").to_numpy(dtype="float64")
        ok = cur[~np.isnan(cur)]
        sample = np.asarray(ref["sample"], dtype="float64")
        q = np.unique(np.quantile(sample, np.linspace(0, 1, reference["bins"] + 1)))[1:-1] if len(sample) else []
        if len(ok) and len(sample):
            c = np.maximum(np.bincount(np.digitize(ok, q), minlength=len(q) + 1) / len(ok), eps)
            r = np.maximum(np.bincount(np.digitize(sample, q), minlength=len(q) + 1) / len(sample), eps)
            psi = float(np.sum((c - r) * np.log(c / r)))
        else:
            psi = np.nan
        ks = float(ks_2samp(ok, sample).statistic) if len(ok) and len(sample) else np.nan
        rows.append({"feature": name, "n": len(cur), "null_share": 1 - len(ok) / len(cur),
                     "ref_null_share": ref["null_share"], "psi": psi, "ks": ks})
    return pd.DataFrame(rows)
