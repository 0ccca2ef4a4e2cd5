"""delta-rs reads without Spark: every row and column of the version asked, and a clean process exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from genuine.core.lake.arrow import read_arrow

# A fresh interpreter that reads a table and exits: `to_pyarrow_table` made 8 of 12 such runs abort with
# status 134 here; the reader must exit 0 every time.
_READ_AND_EXIT = """
import sys
from genuine.core.lake.arrow import read_arrow
t = read_arrow(sys.argv[1], columns=["account_id", "band"])
print(t.num_rows)
"""


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uri = tmp_path_factory.mktemp("arrow") / "scores"
    first = pa.table({"account_id": ["a1", "a2", "a3"], "band": ["none", "review", "auto"],
                      "score": [0.1, 0.6, 0.99], "tags": [["x"], [], ["y", "z"]]})
    write_deltalake(str(uri), first, partition_by=["band"])
    write_deltalake(str(uri), pa.table({"account_id": ["a4"], "band": ["none"], "score": [0.2],
                                        "tags": pa.array([["w"]])}), mode="append")
    return uri


def test_read_arrow_returns_every_row_of_the_version_asked_with_plain_types(table: Path) -> None:
    got = read_arrow(str(table)).to_pandas().sort_values("account_id").reset_index(drop=True)
    want = pd.DataFrame({"account_id": ["a1", "a2", "a3", "a4"], "score": [0.1, 0.6, 0.99, 0.2],
                         "tags": [["x"], [], ["y", "z"], ["w"]], "band": ["none", "review", "auto", "none"]})
    pd.testing.assert_frame_equal(got[list(want.columns)].assign(tags=got.tags.map(list)), want)
    assert all(not pa.types.is_string_view(f.type) for f in read_arrow(str(table)).schema)
    assert sorted(read_arrow(str(table), version=0).column("account_id").to_pylist()) == ["a1", "a2", "a3"]
    assert read_arrow(str(table), columns=["score"]).column_names == ["score"]
    with pytest.raises(ValueError, match="empty column list"):
        read_arrow(str(table), columns=[])


def test_a_process_that_read_a_table_exits_cleanly(table: Path) -> None:
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", _READ_AND_EXIT, str(table)], capture_output=True, text=True,
                              timeout=120)
        assert (done.returncode, done.stdout.strip()) == (0, "4"), done.stderr[-500:]
