"""The demo's per-step times (DemoResult.timed) and their table, which the demo prints on both Delta engines."""

from __future__ import annotations

import time
from pathlib import Path

from genuine.cli.app import _print_times
from genuine.cli.common import console
from genuine.devtools.bench.meter import ProcessMeter
from genuine.devtools.demo import DemoResult


def _busy(seconds: float) -> int:
    """Burn CPU for about `seconds` of this process's CPU time (/proc counts in 10 ms ticks)."""
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1
    return n


def test_timed_keeps_results_in_order_with_their_wall_and_cpu_time() -> None:
    result = DemoResult(Path("unused"))
    meter = ProcessMeter()
    assert result.timed("sleep", meter, lambda: time.sleep(0.3) or "slept") == "slept"
    spins = result.timed("busy", meter, lambda: _busy(0.3))

    assert list(result.steps) == list(result.times) == ["sleep", "busy"]
    assert result.steps["busy"] == spins
    sleep, busy = result.times["sleep"], result.times["busy"]
    assert sleep.wall_s >= 0.3 and sleep.cpu_s < 0.1          # waiting costs wall time, not CPU
    assert busy.cpu_s >= 0.28 and busy.wall_s >= busy.cpu_s * 0.9


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
