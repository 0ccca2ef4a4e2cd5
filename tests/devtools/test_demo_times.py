"""The demo's per-step times (DemoResult.timed) and their table, which the demo prints on both Delta engines."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from genuine.cli.app import _print_times
from genuine.cli.common import console
from genuine.devtools.bench.meter import ProcessMeter
from genuine.devtools.demo import DemoResult

# Run in a fresh interpreter: the meter counts this process's whole tree, and in the suite that tree holds
# the session's JVM, whose own threads (GC, JIT) showed up as CPU in a step that only sleeps.
_CHILD = """
import json, time
from pathlib import Path
from genuine.devtools.bench.meter import ProcessMeter
from genuine.devtools.demo import DemoResult


def _busy(seconds):
    # burn CPU for about `seconds` of this process's CPU time (/proc counts in 10 ms ticks)
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1
    return n


result = DemoResult(Path("unused"))
meter = ProcessMeter()
slept = result.timed("sleep", meter, lambda: time.sleep(0.3) or "slept")
spins = result.timed("busy", meter, lambda: _busy(0.3))
print(json.dumps({"slept": slept, "spins": spins, "steps": list(result.steps), "times": list(result.times),
                  "busy_result": result.steps["busy"],
                  **{f"{k}_{m}": getattr(t, m) for k, t in result.times.items() for m in ("wall_s", "cpu_s")}}))
"""


def test_timed_keeps_results_in_order_with_their_wall_and_cpu_time() -> None:
    run = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.splitlines()[-1])
    assert got["slept"] == "slept"
    assert got["steps"] == got["times"] == ["sleep", "busy"]
    assert got["busy_result"] == got["spins"]
    assert got["sleep_wall_s"] >= 0.3 and got["sleep_cpu_s"] < 0.1      # waiting costs wall time, not CPU
    assert got["busy_cpu_s"] >= 0.28 and got["busy_wall_s"] >= got["busy_cpu_s"] * 0.9


def test_the_table_names_the_engine_and_every_step_with_a_total() -> None:
    result = DemoResult(Path("unused"), engine="delta-rs")
    result.timed("ingest", ProcessMeter(), lambda: time.sleep(0.05))
    result.timed("score", ProcessMeter(), lambda: time.sleep(0.05))
    with console.capture() as out:
        _print_times(result)
    lines = out.get().splitlines()
    assert "time per step, Delta engine delta-rs" in lines[0]
    rows = {line.split("│")[1].strip(): line for line in lines if line.count("│") == 4}
    assert list(rows) == ["ingest", "score", "all"]
    total = sum(t.wall_s for t in result.times.values())
    assert f"{total:.1f}" in rows["all"]
