"""One process meter for every benchmark: wall time, CPU seconds and peak resident memory of named processes.

A benchmark names the processes it pays for, e.g. {"driver": <this process>, "jvm": <the JVM's pid>}
(ProcessMeter.for_spark) or just this process (the default), and measures spans of work:

- CPU seconds of a named process are those of its whole tree (user + system of the process and of its
  live descendants, plus what its reaped children used: PySpark's Python workers run under the JVM and
  come and go, pool workers of the simulator are reaped at the end of the pool). A descendant that is
  itself named belongs to its own tree only, so the driver's figure never includes the JVM it started.
  CPU time does not depend on how busy the machine is, unlike wall time.
- A process that ends inside a span is accounted per pid (`_CpuLedger`): what it used before the span
  is not the span's, and when its parent ignores SIGCHLD (PySpark's daemon does: its workers are reaped
  by the kernel, so their time reaches no parent's cutime) its last sampled time is added, since the
  tree no longer holds it. Before this, an idle Python worker killed during a span took its whole past
  CPU out of the span's figure (the daily bench's ingest step read 3 CPU s for 50 s of work).
- Peak RSS of a named process is its own peak in the span: before the span the kernel's high-water mark
  is reset (Linux >= 4.0, /proc/<pid>/clear_refs) and read at the end (VmHWM). Where it cannot be reset
  the figure is the process-lifetime high-water mark (`Reading.peaks_per_span` says which). A JVM rarely
  returns heap pages, so its peak is the larger of the span's own and what earlier spans left resident.
  The meter keeps each process's lifetime mark across its own resets (`lifetime_peak_rss_mib`).
- With `sample_s`, a background thread samples, per named process, the summed RSS of its live
  descendants (e.g. the JVM's Python workers, which no high-water mark covers) plus any `gauges` (e.g.
  the JVM heap in use), and keeps their peaks per span.

Figures come from /proc (Linux); elsewhere CPU falls back to os.times() of this process and memory to
getrusage, and figures of other processes are 0.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

SELF = "self"
_HAS_PROC = Path("/proc/self/stat").exists()


def status_kib(pid: int, key: str) -> int | None:
    """A `VmHWM`/`VmRSS` line of /proc/<pid>/status in KiB (None off Linux or when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark of a process we own (write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 = state, 1 = ppid, 11.. = times)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rfind(")") + 2:].split()
    except OSError:
        return None


_SIGCHLD_BIT = 1 << (17 - 1)     # SIGCHLD is signal 17 on Linux; SigIgn is a mask of bit (signo - 1)


def ignores_sigchld(pid: int) -> bool:
    """Whether a process ignores SIGCHLD, so that its children are reaped without adding to its cutime."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & _SIGCHLD_BIT)
    except (OSError, ValueError, IndexError):
        return False
    return False


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live process (by scanning /proc: no dependency on psutil)."""
    out: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(entry.name)
        try:
            if fields is not None:
                out[int(entry.name)] = int(fields[1])
        except (ValueError, IndexError):
            continue
    return out


def _trees(roots: Mapping[str, int], parents: Mapping[int, int] | None = None) -> dict[str, list[int]]:
    """The pids of each named root's tree; a named descendant starts its own tree."""
    kids: dict[int, list[int]] = {}
    for pid, ppid in (_parents() if parents is None else parents).items():
        kids.setdefault(ppid, []).append(pid)
    named = set(roots.values())
    out: dict[str, list[int]] = {}
    for name, root in roots.items():
        tree, todo = [], [root]
        while todo:
            p = todo.pop()
            tree.append(p)
            todo.extend(k for k in kids.get(p, []) if k not in named)
        out[name] = tree
    return out


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime + cutime + cstime of one process (own and reaped children's CPU); None when gone."""
    fields = _stat_fields(pid)
    try:
        return None if fields is None else sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (ValueError, IndexError):
        return None


@dataclass
class _Seen:
    tree: str            # the named tree the pid was last seen in
    cpu_s: float         # its utime + stime + cutime + cstime then
    auto_reaped: bool    # its parent ignores SIGCHLD: nobody's cutime will hold its time


class _CpuLedger:
    """CPU of named trees over a span, per pid, so that processes ending inside it count right.

    A live pid contributes (now - at start); a pid gone by the end contributes (last seen - at start) when
    it was auto-reaped, and minus its start value when a parent reaped it (the parent's cutime now holds its
    whole life, the part before the span included). Its CPU between the last sample and its end is lost:
    bounded by the sampling interval times its rate, nothing for an idle worker killed by its pool.
    """

    def __init__(self, roots: Mapping[str, int]) -> None:
        self.roots = dict(roots)
        self.start: dict[int, float] = {}
        self.seen: dict[int, _Seen] = {}     # written by the sampler thread between begin() and end() only

    def observe(self) -> dict[int, _Seen]:
        """Read every pid of the named trees now, and remember each as last seen."""
        now: dict[int, _Seen] = {}
        parents = _parents()
        ignoring: dict[int, bool] = {}
        for name, tree in _trees(self.roots, parents).items():
            for pid in tree:
                cpu = _cpu_seconds(pid)
                if cpu is None:
                    continue
                ppid = parents.get(pid, 0)
                if ppid not in ignoring:
                    ignoring[ppid] = ignores_sigchld(ppid)
                now[pid] = _Seen(name, cpu, ignoring[ppid])
        self.seen.update(now)
        return now

    def begin(self) -> None:
        self.start = {pid: s.cpu_s for pid, s in self.observe().items()}

    def end(self) -> dict[str, float]:
        alive = self.observe()
        out = dict.fromkeys(self.roots, 0.0)
        for pid, last in self.seen.items():
            before = self.start.get(pid, 0.0)
            # a parent that reaped it holds its whole life in cutime: only the part before the span comes off
            out[last.tree] += (last.cpu_s if pid in alive or last.auto_reaped else 0.0) - before
        return out


def _own_fallback_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _rusage_mib(who: int) -> float:
    """ru_maxrss in MiB (KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def largest_reaped_child_rss_mib() -> float:
    """Peak RSS of the largest finished child of this process (one pool worker, not their sum)."""
    return _rusage_mib(resource.RUSAGE_CHILDREN)


def spark_cores(spark: Any) -> int:
    """Task slots of a session: N of local[N] (all cores for local[*]), else the default parallelism."""
    master = spark.sparkContext.master
    if master.startswith("local"):
        inner = master[master.find("[") + 1:master.find("]")] if "[" in master else "1"
        n = inner.split(",")[0]
        return (os.cpu_count() or 1) if n == "*" else int(n)
    return int(spark.sparkContext.defaultParallelism)


def jit_seconds(spark: Any) -> float:
    """Seconds the JVM's JIT compilers have spent so far (CompilationMXBean: elapsed time summed over
    compilations, so over compiler threads; on an idle machine about their CPU). A fresh JVM spends about
    a minute compiling the hot code of a Spark job whatever the rows: the part of a short run's CPU that
    does not grow with the input."""
    bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getCompilationMXBean()
    return float(bean.getTotalCompilationTime()) / 1000.0


@dataclass
class Reading:
    """Figures of one measured span; filled in when the span ends."""

    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)          # per named process tree
    peak_rss_mib: dict[str, float] = field(default_factory=dict)   # per named process, its own
    peaks_per_span: bool = False                                   # False: process-lifetime marks
    sampled_peaks: dict[str, float] = field(default_factory=dict)  # "<name>_children_rss_mib", gauges

    @property
    def cpu_s_total(self) -> float:
        return sum(self.cpu_s.values())


class _Sampler:
    """Background thread: the peak, over the span, of each gauge (and `tick` called at each sample)."""

    def __init__(self, gauges: Mapping[str, Callable[[], float]], interval: float,
                 tick: Callable[[], object] | None = None) -> None:
        self.gauges = gauges
        self.interval = interval
        self.tick = tick
        self.peaks: dict[str, float] = dict.fromkeys(gauges, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            if self.tick is not None:
                self.tick()
            for name, gauge in self.gauges.items():
                try:
                    self.peaks[name] = max(self.peaks[name], gauge())
                except Exception:       # e.g. the JVM gateway is closing: the peak so far stands
                    continue
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return self.peaks


class ProcessMeter:
    """Measures spans of work on the named processes (see the module docstring)."""

    def __init__(self, processes: Mapping[str, int] | None = None, *, before: Callable[[], None] | None = None,
                 sample_s: float | None = None, gauges: Mapping[str, Callable[[], float]] | None = None,
                 cpu_sample_s: float = 0.5) -> None:
        self.processes = dict(processes or {SELF: os.getpid()})
        self.before = before
        self.sample_s = sample_s
        self.cpu_sample_s = cpu_sample_s      # how often processes that may end inside a span are read
        self.gauges = dict(gauges or {})
        self._lifetime_kib: dict[str, int] = {}
        self.max_heap_mib: float | None = None

    @classmethod
    def for_spark(cls, spark: Any, *, sample_s: float | None = None) -> ProcessMeter:
        """The Python driver and the JVM (with its Python workers); the JVM collects garbage before each
        span, and with `sample_s` the JVM heap in use is a gauge (`jvm_heap_mib`)."""
        jvm = spark.sparkContext._jvm
        runtime = jvm.java.lang.Runtime.getRuntime()
        meter = cls({"driver": os.getpid(), "jvm": int(jvm.java.lang.ProcessHandle.current().pid())},
                    before=jvm.java.lang.System.gc, sample_s=sample_s,
                    gauges={"jvm_heap_mib": lambda: (runtime.totalMemory() - runtime.freeMemory()) / 2**20})
        meter.max_heap_mib = runtime.maxMemory() / 2**20
        return meter

    def pid(self, name: str) -> int:
        return self.processes[name]

    def _fallback_cpu(self) -> dict[str, float]:
        return {name: _own_fallback_cpu() if pid == os.getpid() else 0.0 for name, pid in self.processes.items()}

    def _hwm_kib(self, name: str) -> int | None:
        return status_kib(self.processes[name], "VmHWM")

    def _note_lifetime(self, name: str, kib: int | None) -> None:
        if kib is not None:
            self._lifetime_kib[name] = max(self._lifetime_kib.get(name, 0), kib)

    def lifetime_peak_rss_mib(self, name: str) -> float:
        """High-water mark of a named process since it started, across the meter's own resets."""
        self._note_lifetime(name, self._hwm_kib(name))
        kib = self._lifetime_kib.get(name)
        if kib is None:
            return _rusage_mib(resource.RUSAGE_SELF) if self.processes[name] == os.getpid() else 0.0
        return kib / 1024

    def _children_rss_mib(self, name: str) -> float:
        tree = _trees(self.processes)[name]
        return sum(status_kib(p, "VmRSS") or 0 for p in tree[1:]) / 1024

    @contextmanager
    def span(self) -> Iterator[Reading]:
        """Measure the body of a `with` block; the Reading is complete after the block."""
        reading = Reading()
        if self.before is not None:
            self.before()
        for name in self.processes:
            self._note_lifetime(name, self._hwm_kib(name))
        reading.peaks_per_span = all([reset_peak(pid) for pid in self.processes.values()])
        gauges: dict[str, Callable[[], float]] = {}
        if self.sample_s:
            gauges = {f"{n}_children_rss_mib": partial(self._children_rss_mib, n) for n in self.processes} | self.gauges
        ledger = _CpuLedger(self.processes) if _HAS_PROC else None
        sampler = _Sampler(gauges, min(self.sample_s or self.cpu_sample_s, self.cpu_sample_s),
                           ledger.observe if ledger else None)
        cpu0 = self._fallback_cpu() if ledger is None else {}    # the ledger has its own start
        if ledger is not None:
            ledger.begin()
        sampler.start()
        began = time.perf_counter()
        try:
            yield reading
        finally:
            reading.wall_s = time.perf_counter() - began
            peaks = sampler.stop()
            if self.sample_s:
                reading.sampled_peaks = peaks
            if ledger is not None:
                reading.cpu_s = ledger.end()
            else:
                cpu1 = self._fallback_cpu()
                reading.cpu_s = {name: cpu1[name] - cpu0[name] for name in self.processes}
            for name, pid in self.processes.items():
                kib = self._hwm_kib(name)
                self._note_lifetime(name, kib)
                if kib is None:
                    reading.peak_rss_mib[name] = _rusage_mib(resource.RUSAGE_SELF) if pid == os.getpid() else 0.0
                else:
                    reading.peak_rss_mib[name] = kib / 1024

    def measure(self, step: Callable[[], Any]) -> Reading:
        """Run `step` in a span and return its figures."""
        with self.span() as reading:
            step()
        return reading


__all__ = ["ProcessMeter", "Reading", "largest_reaped_child_rss_mib", "reset_peak", "spark_cores", "status_kib"]
