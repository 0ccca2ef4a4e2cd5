"""One small simulated export shared by the simulator tests (no Spark needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from views import UTC_OFFSET_H

from genuine.devtools.simulator import STRATEGIES, simulate

# Boosted bot and unusual-human shares so that about a thousand accounts hold every strategy, 40 accounts
# each (a farm, a ring, a cell, a fan club... of realistic size per chunk); two chunks so that cross-chunk
# references are exercised.
SMALL_SHARES = {s: (0.5 if s == "ordinary" else 0.5 / (len(STRATEGIES) - 1)) for s in STRATEGIES}
SMALL = {"n_accounts": 1280, "days": 14, "seed": 12, "chunk_accounts": 640}


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


@pytest.fixture(scope="session")
def strategy_of(export) -> pd.Series:
    return export.truth.set_index("account_id").strategy


@pytest.fixture(scope="session")
def actions(export, strategy_of) -> pd.DataFrame:
    """Every self-initiated action (posts and interactions) with its account's strategy and local hour."""
    posts = export["posts"][["account_id", "created_at"]].assign(kind="post")
    inter = export["interactions"][["actor_id", "created_at", "kind"]].rename(columns={"actor_id": "account_id"})
    acts = pd.concat([posts, inter], ignore_index=True)
    acts["strategy"] = acts.account_id.map(strategy_of)
    offset = export["accounts"].set_index("account_id").region.map(UTC_OFFSET_H)
    acts["local_hour"] = (acts.created_at // 3_600_000 + acts.account_id.map(offset)) % 24
    return acts.sort_values(["account_id", "created_at"], kind="stable")
