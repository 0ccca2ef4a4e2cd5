"""The process meter's CPU figure when processes end inside a span (PySpark's workers do)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from genuine.devtools.bench.meter import _HAS_PROC, ProcessMeter, ignores_sigchld

pytestmark = pytest.mark.skipif(not _HAS_PROC, reason="the meter reads other processes' CPU from /proc (Linux)")

BURN_S = 0.6     # CPU seconds a worker uses before the span, and again inside it

# A worker: burns BURN_S, says so, waits for "go", burns BURN_S again, idles (as a pooled worker does before
# its pool kills it), then ends. With `--ignore`, it runs under a parent that ignores SIGCHLD, as PySpark's
# daemon does, so the kernel reaps it and its time reaches nobody's cutime.
WORKER = r"""
import os, signal, sys, time
from pathlib import Path

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def wait_for(path):
    while not path.exists():
        time.sleep(0.01)

def say(path, text):    # atomically: the test polls for the file and reads it at once
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

run, burn_s, ignore = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "ignore"
if ignore:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    if os.fork() != 0:              # the daemon: outlives its worker, never waits for it
        say(run / "daemon", str(os.getpid()))
        wait_for(run / "exit")
        sys.exit(0)
burn(burn_s)
say(run / "ready", str(os.getpid()))
wait_for(run / "go")
burn(burn_s)
time.sleep(0.5)
(run / "done").write_text("")
"""


def _wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.01)


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("ignore", [True, False], ids=["auto-reaped", "reaped-by-parent"])
def test_a_worker_ending_inside_a_span_counts_only_its_span_cpu(tmp_path: Path, ignore: bool) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(BURN_S),
                             "ignore" if ignore else "wait"])
    try:
        _wait_for(tmp_path / "ready")
        worker = int((tmp_path / "ready").read_text())
        if ignore:
            _wait_for(tmp_path / "daemon")
            assert ignores_sigchld(int((tmp_path / "daemon").read_text()))
        meter = ProcessMeter(cpu_sample_s=0.05)
        with meter.span() as reading:
            (tmp_path / "go").write_text("")
            _wait_for(tmp_path / "done")
            deadline = time.monotonic() + 10
            while not _gone(worker) and time.monotonic() < deadline:
                if not ignore:
                    proc.poll()            # reap it, as a parent that waits does
                time.sleep(0.01)
            assert _gone(worker)
    finally:
        (tmp_path / "exit").write_text("")
        proc.wait(timeout=30)
    # The worker's second burn, not minus its first (the old figure was about -BURN_S when auto-reaped);
    # the upper bound leaves room for this test's own polling and the sampler.
    assert BURN_S * 0.8 <= reading.cpu_s["self"] <= BURN_S + 0.5, reading.cpu_s


def test_cpu_of_a_process_alive_throughout_is_its_difference() -> None:
    meter = ProcessMeter(cpu_sample_s=0.05)
    with meter.span() as reading:
        end = time.process_time() + BURN_S
        while time.process_time() < end:
            pass
    assert BURN_S - 0.02 <= reading.cpu_s["self"] <= BURN_S + 0.3, reading.cpu_s     # clock ticks: 0.01 s
