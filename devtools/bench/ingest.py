"""`genuine bench ingest`: rows/s, wall and CPU seconds of the real ingest job on three exports of one
simulated platform: clean Parquet (the simulator's own), clean JSON Lines (the same records), and JSON
Lines with a share of broken records (every broken record must land in quarantine, and read = accepted
+ quarantined must hold).

Each export is ingested into a fresh lake, in one Spark session; CPU seconds are those of the driver and
of the JVM (local mode: driver and executors in one process, with its Python workers), from
devtools/bench/meter.py.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.session import get_spark
from genuine.devtools.bench.meter import ProcessMeter, jit_seconds, spark_cores
from genuine.devtools.bench.scratch import scratch_config
from genuine.devtools.simulate import run as simulate
from genuine.jobs import ingest

log = logging.getLogger(__name__)

EXPORTS = ("parquet", "jsonl", "broken")
# How a chosen line is broken (chosen by a hash of the line; one kind per line), and the reason it earns.
BREAKS = ("malformed_json", "wrong_type", "unparseable_timestamp", "missing_key", "not_an_object")


def bench_ingest(cfg: Config, accounts: int, days: int, out: Path, seed: int = 7, broken_share: float = 0.01,
                 exports: list[str] | None = None, workers: int | None = None) -> dict[str, Any]:
    """Simulate (before the JVM starts, reused when OUT already holds the same platform), write the JSON
    Lines exports, then time the ingest job on each wanted export in a fresh lake. `workers`: simulator
    processes (1 when a JVM is already up: no fork beside it)."""
    wanted = exports or list(EXPORTS)
    unknown = sorted(set(wanted) - set(EXPORTS))
    if unknown:
        raise ValueError(f"unknown export(s) {unknown}; known: {list(EXPORTS)}")
    out.mkdir(parents=True, exist_ok=True)
    parquet = out / "export-parquet"
    marker, spec = out / "bench-input.json", {"accounts": accounts, "days": days, "seed": seed,
                                             "broken_share": broken_share}
    reused = marker.is_file() and json.loads(marker.read_text()) == spec
    if not reused:
        marker.unlink(missing_ok=True)
        shutil.rmtree(parquet, ignore_errors=True)
        simulate(cfg, accounts, days, seed, parquet, workers=workers)   # forks workers: no JVM yet
    spark = get_spark(cfg)
    if not reused:
        write_json_exports(spark, parquet, out / "export-jsonl", out / "export-broken", broken_share)
        marker.write_text(json.dumps(spec))
    figures: dict[str, Any] = {"accounts": accounts, "days": days, "cores": spark_cores(spark),
                               "reused_exports": reused, "load_avg_start": os.getloadavg()}
    meter = ProcessMeter.for_spark(spark)
    for name in wanted:
        run_cfg = scratch_config(cfg, out / f"run-{name}")
        shutil.rmtree(out / f"run-{name}", ignore_errors=True)
        export = out / f"export-{name}" if name != "parquet" else parquet
        jit_before = jit_seconds(spark)
        with meter.span() as reading:
            report = ingest.run(run_cfg, export, spark=spark)
        jit = jit_seconds(spark) - jit_before
        read = sum(c.read for c in report.entities.values())
        cpu = reading.cpu_s["driver"] + reading.cpu_s["jvm"]
        figures[name] = {
            "rows": read,
            "accepted": sum(c.accepted for c in report.entities.values()),
            "quarantined": sum(c.quarantined for c in report.entities.values()),
            "balanced": all(c.balanced for c in report.entities.values()),
            "reasons": report.reasons,
            "wall_s": reading.wall_s, "cpu_s_driver": reading.cpu_s["driver"], "cpu_s_jvm": reading.cpu_s["jvm"],
            "rows_per_s": read / reading.wall_s if reading.wall_s else None,
            "rows_per_cpu_s": read / cpu if cpu else None,
            "jit_s": jit,
            "rows_per_cpu_s_without_jit": read / (cpu - jit) if cpu > jit else None,
            "peak_rss_mib_jvm": reading.peak_rss_mib["jvm"],
        }
        if name == "broken":
            figures[name]["written"] = json.loads((out / "export-broken" / "_written.json").read_text())
        log.info("bench ingest %s: %s", name, figures[name])
    figures["load_avg_end"] = os.getloadavg()
    return figures


def write_json_exports(spark: SparkSession, parquet: Path, clean: Path, broken: Path, share: float) -> None:
    """The Parquet export as JSON Lines (same records), and a copy with `share` of its lines broken (one
    kind per line, from BREAKS) plus exact duplicates of another `share / 10` (`duplicate_record`). The
    broken copy's line counts go to `_written.json` (a name ingest skips)."""
    counts: dict[str, dict[str, int]] = {}
    for entity_dir in sorted(p for p in parquet.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        entity = entity_dir.name
        lines = spark.read.parquet(str(entity_dir)).select(F.to_json(F.struct("*")).alias("value"))
        lines.write.mode("overwrite").text(str(clean / entity))
        text = spark.read.text(str(clean / entity))
        broken_lines(text, share).write.mode("overwrite").text(str(broken / entity))
        counts[entity] = _kind_counts(text, share)
        for folder in (clean / entity, broken / entity):
            as_jsonl(folder)
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "_written.json").write_text(json.dumps(counts))


def as_jsonl(folder: Path) -> None:
    """Name Spark's text parts `.jsonl`: the input contract reads JSON Lines by their suffix, and a `.txt`
    part is quarantined whole as `unreadable_file` (the bench then measured an export of 0 rows)."""
    for part in folder.glob("part-*.txt"):
        part.rename(part.with_suffix(".jsonl"))
        (folder / f".{part.name}.crc").unlink(missing_ok=True)    # Hadoop's checksum of the old name


def _pick(value: Column) -> Column:
    """A stable pseudo-random number in [0, 1) per line (from its hash)."""
    return (F.abs(F.xxhash64(value)) % 1_000_000) / 1_000_000


def _kind_counts(text: DataFrame, share: float) -> dict[str, int]:
    """Lines of the clean export, lines broken per kind, lines written twice."""
    u = _pick(F.col("value"))
    k = F.abs(F.xxhash64(F.col("value"), F.lit(1))) % len(BREAKS)
    row = text.agg(F.count(F.lit(1)).alias("lines"),
                   *[F.count(F.when((u < share) & (k == i), 1)).alias(b) for i, b in enumerate(BREAKS)],
                   F.count(F.when((u >= share) & (u < share * 1.1), 1)).alias("duplicate_record")).first()
    return row.asDict()


def broken_lines(text: DataFrame, share: float) -> DataFrame:
    """Lines of one entity with `share` of them broken and `share / 10` of the others written twice."""
    v = F.col("value")
    u = _pick(v)
    k = F.abs(F.xxhash64(v, F.lit(1))) % len(BREAKS)
    ts = r'"(created_at|started_at|decided_at)":(-?\d+)'
    broken = (F.when(k == 0, F.substring(v, 1, F.greatest(F.lit(1), F.floor(F.length(v) / 2)).cast("int")))
              .when(k == 1, F.regexp_replace(v, ts, '"$1":{"ms":$2}'))
              .when(k == 2, F.regexp_replace(v, ts, '"$1":"yesterday"'))
              .when(k == 3, F.regexp_replace(v, r'^\{"([a-z_]+)":"[^"]*"', '{"$1":""'))
              .otherwise(F.concat(F.lit("["), v, F.lit("]"))))
    lines = text.select(F.when(u < share, broken).otherwise(v).alias("value"))
    twice = text.where((u >= share) & (u < share * 1.1))
    return lines.unionByName(twice)
