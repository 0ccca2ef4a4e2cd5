"""`genuine bench score`: throughput and peak memory of scoring the whole account base.

In a throw-away lake and MLflow store: a synthetic snapshot of N accounts is generated in Spark and
written to the features table, a champion is trained on labels for a small sample of them (the real
train job: point-in-time join, candidates, calibration, gates), then the real score job scores all N
accounts (spark_udf + reason codes) and commits them to the scores table. Only that last step is the
figure; generation and training are reported beside it.

Time, CPU and memory come from the one process meter (devtools/bench/meter.py): per phase, the peak
RSS of the JVM, the sampled peaks of the JVM heap in use and of the summed RSS of the Python workers
the JVM forks; over the whole run, the peak RSS (VmHWM) of the driver process and of the JVM.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from genuine.core import catalog
from genuine.core.config import Config
from genuine.core.lake import Lake
from genuine.core.schemas import RAW_LABELS
from genuine.core.session import get_spark
from genuine.devtools.bench.meter import ProcessMeter, spark_cores
from genuine.devtools.bench.scratch import scratch_config
from genuine.devtools.synthetic import synthetic_accounts, synthetic_features, synthetic_labels
from genuine.features.catalog import FEATURE_TABLE
from genuine.jobs import score, train

log = logging.getLogger(__name__)

SNAPSHOT = dt.date(2026, 10, 31)
SAMPLE_S = 0.5      # how often the meter samples the workers' RSS and the JVM heap


def bench_score(cfg: Config, accounts: int, *, train_accounts: int = 20_000, label_fraction: float = 0.5,
                partitions: int | None = None, seed: int = 7, keep: Path | None = None) -> dict[str, Any]:
    """Figures of one scoring run over `accounts` synthetic accounts (see the module docstring)."""
    if accounts < 1 or train_accounts < 1:
        raise ValueError("accounts and train_accounts must be positive")
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="genuine-bench-score-"))
    root.mkdir(parents=True, exist_ok=True)
    bcfg = scratch_config(cfg, root)
    load_before = os.getloadavg()
    spark = get_spark(bcfg)
    cores = spark_cores(spark)
    meter = ProcessMeter.for_spark(spark, sample_s=SAMPLE_S)
    parts = partitions or max(cores, -(-accounts // 100_000))
    lake = Lake(spark, bcfg)
    try:
        with meter.span() as gen:
            acc = synthetic_accounts(spark, accounts, seed=seed, partitions=parts)
            lake.append("features", synthetic_features(acc, SNAPSHOT, seed=seed), schema=FEATURE_TABLE,
                        partition_by=catalog.table("features").partition_by)
            sample = acc.where(acc["_i"] < train_accounts)
            lake.append("raw_labels", synthetic_labels(sample, SNAPSHOT, fraction=label_fraction, seed=seed),
                        schema=RAW_LABELS)
        labelled = lake.read("raw_labels").select("account_id").distinct().count()

        with meter.span() as tr:
            trained = train.run(bcfg, spark=spark)
        if trained.decision.champion_after is None:
            raise RuntimeError("the bench model did not pass the promotion gates: "
                               + "; ".join(trained.decision.reasons))

        with meter.span() as sc:
            scored = score.run(bcfg, spark=spark)
        load_after = os.getloadavg()
        rows, wall, jvm_cpu = scored.rows, sc.wall_s, sc.cpu_s["jvm"]
        return {
            "accounts": accounts, "scored_rows": rows, "cores": cores, "partitions": parts,
            "score_wall_s": wall, "accounts_per_s": rows / wall, "accounts_per_s_per_core": rows / wall / cores,
            "score_cpu_s_jvm_and_workers": jvm_cpu,
            "accounts_per_cpu_s": rows / max(jvm_cpu, 1e-9),
            "driver_cpu_s_during_score": sc.cpu_s["driver"],
            "generate_and_write_s": gen.wall_s, "train_s": tr.wall_s,
            "labelled_accounts": labelled,
            "model": f"{scored.model_name} v{scored.model_version} ({trained.train.chosen})",
            "driver_peak_rss_mb": meter.lifetime_peak_rss_mib("driver"),
            "jvm_peak_rss_mb": meter.lifetime_peak_rss_mib("jvm"),
            "score_peak_jvm_rss_mb": sc.peak_rss_mib["jvm"],
            "score_peak_jvm_heap_mb": sc.sampled_peaks.get("jvm_heap_mib", 0.0),
            "score_peak_python_workers_rss_mb": sc.sampled_peaks.get("jvm_children_rss_mib", 0.0),
            "driver_memory_setting": bcfg.spark.driver_memory or "default",
            "load_avg_1m_before": load_before[0], "load_avg_1m_after": load_after[0],
            "machine_cpus": os.cpu_count() or 0,
            "lake": str(root) if keep else "(deleted)",
        }
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


__all__ = ["bench_score"]
