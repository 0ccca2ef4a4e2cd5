"""One small simulated export shared by the simulator tests (no Spark needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from genuine.devtools.simulator import STRATEGIES, simulate

# Boosted bot and unusual-human shares so that a few hundred accounts hold every strategy (and a farm
# and a ring of realistic size); two chunks so that cross-chunk references are exercised.
SMALL_SHARES = {s: (0.5 if s == "ordinary" else 0.5 / (len(STRATEGIES) - 1)) for s in STRATEGIES}
SMALL = {"n_accounts": 640, "days": 14, "seed": 11, "chunk_accounts": 320}


@dataclass
class Export:
    path: Path
    summary: object
    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame

    def __getitem__(self, entity: str) -> pd.DataFrame:
        return self.tables[entity]


def read_export(path: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    tables = {e: ds.dataset(path / e, format="parquet").to_table().to_pandas()
              for e in ("accounts", "posts", "interactions", "sessions", "reports", "labels")}
    return tables, pq.read_table(path / "_truth" / "accounts.parquet").to_pandas()


@pytest.fixture(scope="session")
def small_shares() -> dict[str, float]:
    return dict(SMALL_SHARES)


@pytest.fixture(name="read_export", scope="session")
def read_export_fixture():
    return read_export


@pytest.fixture(scope="session")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    out = tmp_path_factory.mktemp("sim") / "export"
    summary = simulate(SMALL["n_accounts"], SMALL["days"], SMALL["seed"], out, shares=SMALL_SHARES,
                       chunk_accounts=SMALL["chunk_accounts"], workers=1)
    tables, truth = read_export(out)
    return Export(out, summary, tables, truth)
