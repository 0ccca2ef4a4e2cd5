"""`genuine bench ingest` on a tiny platform: each export must be read whole. Its JSON Lines parts were once
named `.txt` by Spark's text writer, so ingest quarantined every file and the bench timed 0 rows."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from genuine.devtools.bench.ingest import bench_ingest
from genuine.ingest.reader import discover


@pytest.fixture(scope="module")
def bench(spark, cfg_factory, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-ingest")
    cfg = cfg_factory("lake.engine=delta-spark")
    return out, bench_ingest(cfg, accounts=40, days=2, out=out, seed=3, broken_share=0.05,
                             exports=["jsonl", "broken"], workers=1)


def test_every_json_lines_file_is_read_and_every_record_accepted(bench):
    out, f = bench
    records = sum(pq.read_metadata(p).num_rows for p in (out / "export-parquet").glob("*/*.parquet")
                  if not p.parent.name.startswith("_"))      # not the simulator's ground truth
    formats = {e.fmt for name in ("export-jsonl", "export-broken") for e in discover(out / name)}
    assert formats == {"json"}
    assert (f["jsonl"]["rows"], f["jsonl"]["accepted"], f["jsonl"]["quarantined"]) == (records, records, 0)
    assert f["jsonl"]["balanced"] and f["broken"]["balanced"]


def test_the_broken_export_reads_every_line_it_was_written_with(bench):
    out, f = bench
    lines = sum(sum(1 for _ in p.open(encoding="utf-8")) for p in (out / "export-broken").glob("*/*.jsonl"))
    written = json.loads((out / "export-broken" / "_written.json").read_text())
    assert f["broken"]["written"] == written
    assert f["broken"]["rows"] == lines
    assert f["broken"]["quarantined"] > 0 and f["broken"]["accepted"] + f["broken"]["quarantined"] == lines


def test_the_jit_time_is_part_of_the_cpu_time(bench):
    _, f = bench
    for name in ("jsonl", "broken"):
        m = f[name]
        cpu = m["cpu_s_driver"] + m["cpu_s_jvm"]
        assert m["jit_s"] > 0     # a fresh lake's ingest compiles code: a meter reading 0 reads nothing
        if m["jit_s"] < cpu:       # compile time is elapsed time: on a loaded machine it can pass the CPU
            assert m["rows_per_cpu_s_without_jit"] == pytest.approx(m["rows"] / (cpu - m["jit_s"]))
