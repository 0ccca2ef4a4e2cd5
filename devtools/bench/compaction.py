"""What compaction does to a day-partitioned raw table: files, bytes and rows before and after, on either engine.

The interactions of a simulated export are appended as one delta-rs write per export file (as that many
write tasks of a daily ingest would leave them), partitioned by `event_date` like `raw_interactions`; then the
engine's own `compact` runs (delta-rs `optimize.compact`, delta-spark `OPTIMIZE`: what `genuine maintain`
calls). The table sizes in docs/maintenance.md come from here:

    python -m genuine.devtools.bench.compaction EXPORT_DIR OUT_DIR [--engine delta-rs|delta-spark]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake
from pyspark.sql import SparkSession

from genuine.core import catalog
from genuine.core.config import load_config
from genuine.core.lake import make_engine
from genuine.core.logs import setup_logging
from genuine.core.session import get_spark
from genuine.devtools.bench.meter import ProcessMeter

log = logging.getLogger(__name__)

PARTITION = catalog.EVENT_DATE      # as raw_interactions is partitioned


@dataclass(frozen=True)
class Layout:
    files: int
    bytes: int
    rows: int
    files_per_day: dict[str, int]
    bytes_per_day: dict[str, int]


@dataclass(frozen=True)
class CompactionFigures:
    engine: str
    before: Layout
    after: Layout
    wall_s: float
    cpu_s: dict[str, float]          # this process and the JVM (with its Python workers)
    jvm_peak_rss_mib: float


def layout(uri: str) -> Layout:
    """Live files of the table from its Delta log (the add actions' own sizes and row counts)."""
    acts = pa.table(DeltaTable(uri).get_add_actions(flatten=True))
    days = acts.column(f"partition.{PARTITION}").cast(pa.string()).to_pylist()
    sizes = acts.column("size_bytes").to_pylist()
    files: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    for day, size in zip(days, sizes, strict=True):
        files[day] = files.get(day, 0) + 1
        nbytes[day] = nbytes.get(day, 0) + size
    return Layout(acts.num_rows, sum(sizes), sum(acts.column("num_records").to_pylist()), files, nbytes)


def append_per_file(export_dir: Path, uri: str) -> Layout:
    """The export's interactions, one append per export file, with the raw table's UTC-day partition."""
    shutil.rmtree(uri, ignore_errors=True)
    for path in ds.dataset(export_dir / "interactions", format="parquet").files:
        t = pq.read_table(path)
        # Export timestamps are epoch milliseconds (docs/input-contract.md); the raw table's are UTC micros.
        ts = pc.cast(pc.multiply(t.column("created_at"), 1000), pa.timestamp("us", tz="UTC"))
        t = t.set_column(t.column_names.index("created_at"), "created_at", ts)
        write_deltalake(uri, t.append_column(PARTITION, pc.cast(ts, pa.date32())), mode="append",
                        partition_by=[PARTITION])
    return layout(uri)


def bench_compaction(spark: SparkSession, engine_name: str, export_dir: Path, out: Path) -> CompactionFigures:
    uri = str(out / f"interactions-{engine_name}")
    before = append_per_file(export_dir, uri)
    engine = make_engine(spark, engine_name)
    with ProcessMeter.for_spark(spark).span() as reading:
        engine.compact(uri)
    after = layout(uri)
    if after.rows != before.rows:
        raise AssertionError(f"compaction changed the row count: {before.rows} -> {after.rows}")
    return CompactionFigures(engine.name, before, after, reading.wall_s, reading.cpu_s,
                             reading.peak_rss_mib.get("jvm", 0.0))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export_dir", type=Path, help="a simulated export (genuine simulate)")
    p.add_argument("out", type=Path, help="scratch folder for the table (wiped first)")
    p.add_argument("--engine", choices=("delta-rs", "delta-spark"), default="delta-spark")
    p.add_argument("--env", default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args(argv)
    setup_logging()
    spark = get_spark(load_config(args.env, args.overrides))
    figures = bench_compaction(spark, args.engine, args.export_dir, args.out)
    log.info("compaction on %s: %s", figures.engine, json.dumps(asdict(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
