"""`genuine bench score`: throughput and peak memory of scoring the whole account base.

In a throw-away lake and MLflow store: a synthetic snapshot of N accounts is generated in Spark and
written to the features table, a champion is trained on labels for a small sample of them (the real
train job: point-in-time join, candidates, calibration, gates), then the real score job scores all N
accounts (spark_udf + reason codes) and commits them to the scores table. Only that last step is the
figure; generation and training are reported beside it.

Memory is read from /proc (Linux): peak RSS (VmHWM) of the driver process and of the JVM, and the
sampled peak of the summed RSS of the Python workers the JVM forks, per phase.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from genuine.core.config import Config

log = logging.getLogger(__name__)

SNAPSHOT = dt.date(2026, 10, 31)


def _status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _children(root: int) -> list[int]:
    """All descendants of `root` (by scanning /proc: no dependency on psutil)."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
            parent[int(name)] = int(stat[stat.rfind(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    out, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        frontier += kids
    return out


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, own + reaped children) of `root` and its live descendants: the JVM
    and the Python workers it forked. A load-independent measure of the work, unlike wall time."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [root, *_children(root)]:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
            fields = stat[stat.rfind(")") + 2:].split()
            total += sum(int(x) for x in fields[11:15])     # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


def local_cores(spark: Any) -> int:
    """Cores Spark may use: N of local[N] (all for local[*]), else the default parallelism."""
    import re

    master = spark.sparkContext.master
    m = re.fullmatch(r"local\[(\d+|\*)(?:,\d+)?\]", master)
    if m:
        return (os.cpu_count() or 1) if m.group(1) == "*" else int(m.group(1))
    if master == "local":
        return 1
    return int(spark.sparkContext.defaultParallelism)


class MemorySampler:
    """Background thread: per phase, the peak summed RSS of the JVM's descendant processes (the Python
    workers) and the peak JVM heap in use."""

    def __init__(self, jvm_pid: int, runtime: Any, interval: float = 0.5) -> None:
        self.jvm_pid = jvm_pid
        self.runtime = runtime
        self.interval = interval
        self.phase = "start"
        self.peaks: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            workers = sum((_status_kb(p, "VmRSS") or 0) for p in _children(self.jvm_pid)) / 1024
            jvm_rss = (_status_kb(self.jvm_pid, "VmRSS") or 0) / 1024
            try:
                heap = (self.runtime.totalMemory() - self.runtime.freeMemory()) / 2**20
            except Exception:       # the gateway is closing
                heap = 0.0
            p = self.peaks.setdefault(self.phase, {"workers_rss_mb": 0.0, "jvm_rss_mb": 0.0, "jvm_heap_mb": 0.0})
            p["workers_rss_mb"] = max(p["workers_rss_mb"], workers)
            p["jvm_rss_mb"] = max(p["jvm_rss_mb"], jvm_rss)
            p["jvm_heap_mb"] = max(p["jvm_heap_mb"], heap)
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _isolated(cfg: Config, root: Path) -> Config:
    """The same configuration pointed at a throw-away lake and MLflow store."""
    return cfg.model_copy(update={
        "lake": cfg.lake.model_copy(update={"root": str(root / "lake")}),
        "mlflow": cfg.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
                                                "registry_uri": None}),
    })


def bench_score(cfg: Config, accounts: int, *, train_accounts: int = 20_000, label_fraction: float = 0.5,
                partitions: int | None = None, seed: int = 7, keep: Path | None = None) -> dict[str, Any]:
    """Figures of one scoring run over `accounts` synthetic accounts (see the module docstring)."""
    from genuine.core.lake import Lake
    from genuine.core.schemas import RAW_LABELS
    from genuine.core.session import get_spark
    from genuine.devtools.synthetic import synthetic_accounts, synthetic_features, synthetic_labels
    from genuine.features.catalog import FEATURE_TABLE
    from genuine.jobs import score, train

    if accounts < 1 or train_accounts < 1:
        raise ValueError("accounts and train_accounts must be positive")
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="genuine-bench-score-"))
    root.mkdir(parents=True, exist_ok=True)
    bcfg = _isolated(cfg, root)
    load_before = os.getloadavg()
    spark = get_spark(bcfg)
    cores = local_cores(spark)
    jvm: Any = spark.sparkContext._jvm
    jvm_pid = int(jvm.java.lang.ProcessHandle.current().pid())
    parts = partitions or max(cores, -(-accounts // 100_000))
    lake = Lake(spark, bcfg)
    try:
        with MemorySampler(jvm_pid, jvm.java.lang.Runtime.getRuntime()) as mem:
            mem.phase = "generate"
            t0 = time.perf_counter()
            acc = synthetic_accounts(spark, accounts, seed=seed, partitions=parts)
            lake.append("features", synthetic_features(acc, SNAPSHOT, seed=seed), schema=FEATURE_TABLE)
            sample = acc.where(acc["_i"] < train_accounts)
            lake.append("raw_labels", synthetic_labels(sample, SNAPSHOT, fraction=label_fraction, seed=seed),
                        schema=RAW_LABELS)
            t_gen = time.perf_counter() - t0
            labelled = lake.read("raw_labels").select("account_id").distinct().count()

            mem.phase = "train"
            t0 = time.perf_counter()
            trained = train.run(bcfg, spark=spark)
            t_train = time.perf_counter() - t0
            if trained.decision.champion_after is None:
                raise RuntimeError("the bench model did not pass the promotion gates: "
                                   + "; ".join(trained.decision.reasons))

            mem.phase = "score"
            cpu0, tree0 = os.times(), tree_cpu_seconds(jvm_pid)
            t0 = time.perf_counter()
            scored = score.run(bcfg, spark=spark)
            wall = time.perf_counter() - t0
            cpu1, tree1 = os.times(), tree_cpu_seconds(jvm_pid)
        load_after = os.getloadavg()
        rows = scored.rows
        s = mem.peaks.get("score", {})
        return {
            "accounts": accounts, "scored_rows": rows, "cores": cores, "partitions": parts,
            "score_wall_s": wall, "accounts_per_s": rows / wall, "accounts_per_s_per_core": rows / wall / cores,
            "score_cpu_s_jvm_and_workers": tree1 - tree0,
            "accounts_per_cpu_s": rows / max(tree1 - tree0, 1e-9),
            "driver_cpu_s_during_score": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "generate_and_write_s": t_gen, "train_s": t_train,
            "labelled_accounts": labelled,
            "model": f"{scored.model_name} v{scored.model_version} ({trained.train.chosen})",
            "driver_peak_rss_mb": (_status_kb(os.getpid(), "VmHWM") or 0) / 1024,
            "jvm_peak_rss_mb": (_status_kb(jvm_pid, "VmHWM") or 0) / 1024,
            "score_peak_jvm_rss_mb": s.get("jvm_rss_mb", 0.0),
            "score_peak_jvm_heap_mb": s.get("jvm_heap_mb", 0.0),
            "score_peak_python_workers_rss_mb": s.get("workers_rss_mb", 0.0),
            "driver_memory_setting": bcfg.spark.driver_memory or "default",
            "load_avg_1m_before": load_before[0], "load_avg_1m_after": load_after[0],
            "machine_cpus": os.cpu_count() or 0,
            "lake": str(root) if keep else "(deleted)",
        }
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


__all__ = ["MemorySampler", "bench_score"]
