"""DuckDB's SQL twin of the behaviour partials (devtools/bench/reference.py) equals Spark's
behaviour_day_partials row for row: on a simulated export, and on the edge cases of the partials tests
(UTC midnights, ties, single-event days) written as an export. Two engines, one answer: each is the
other's oracle. Then the bench itself, on the simulated export."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genuine.devtools.bench.reference import bench_reference, duckdb_partials, export_events
from genuine.devtools.simulator import simulate
from genuine.features.behaviour import BehaviourConfig
from genuine.features.behaviour_partials import PARTIALS_SCHEMA, behaviour_day_partials
from tests.features.test_behaviour_partials import SMALL, _edge_data

COLUMNS = PARTIALS_SCHEMA.fieldNames()


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference-export")
    simulate(n_accounts=120, days=3, seed=4, out_dir=out, chunk_accounts=60, workers=1)
    return out


def _ms(ts: datetime | None) -> int | None:
    return None if ts is None else int(ts.replace(tzinfo=ts.tzinfo or UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def edge_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The partials tests' edge cases as an export (created_at in epoch milliseconds)."""
    out = tmp_path_factory.mktemp("reference-edges")
    _, posts, inter = _edge_data()
    for entity, rows, cols in (("posts", posts, ["post_id", "account_id", "created_at", "client"]),
                               ("interactions", inter, ["event_id", "actor_id", "kind", "created_at",
                                                        "target_post_id", "target_account_id"])):
        table = pa.table({c: [_ms(r.get(c)) if c == "created_at" else r.get(c) for r in rows] for c in cols})
        (out / entity).mkdir()
        pq.write_table(table.cast(pa.schema([pa.field(c, pa.int64() if c == "created_at" else pa.string())
                                             for c in cols])), out / entity / "part-00000.parquet")
    return out


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Both engines' frames in one form: lists for arrays, Decimal for the exact sums, sorted rows."""
    out = df[COLUMNS].copy()
    for c in ("gap_bins", "quarters"):
        out[c] = out[c].map(lambda v: [int(x) for x in v])
    out["gap_sumsq_us"] = out["gap_sumsq_us"].map(Decimal)
    for c in out.columns:
        if c not in ("account_id", "event_date", "gap_bins", "quarters", "gap_sumsq_us"):
            out[c] = out[c].astype("Int64")
    return out.sort_values(["account_id", "event_date"]).reset_index(drop=True)


@pytest.mark.parametrize("which", ["simulated", "edges"])
@pytest.mark.parametrize("settings", ["default", "small"])
def test_duckdb_and_spark_compute_the_same_partials(spark, export, edge_export, which, settings):
    folder = export if which == "simulated" else edge_export
    cfg = BehaviourConfig() if settings == "default" else BehaviourConfig.model_validate(SMALL)
    want = _plain(behaviour_day_partials(*export_events(spark, folder), cfg).toPandas())
    got = _plain(duckdb_partials(folder, cfg).to_pandas())
    assert len(want) > 40
    pd.testing.assert_frame_equal(got, want)


def test_the_bench_times_both_engines_on_the_same_events(spark, export):
    f = bench_reference(spark, export, BehaviourConfig())
    files = [pq.read_table(p) for e in ("posts", "interactions") for p in (export / e).glob("*.parquet")]
    assert f["events"] == sum(t.num_rows for t in files)
    assert f["spark"]["wall_s"] > 0 and f["duckdb"]["wall_s"] > 0
    assert f["spark_over_duckdb_wall"] == pytest.approx(f["spark"]["wall_s"] / f["duckdb"]["wall_s"])
