"""What the console's pages cost (docs/console.md, "What it costs"): each page requested a few times over the
console test lake, wall and CPU seconds (this process and the Spark JVM) per request. Not collected by
`pytest tests/console` (no test_ prefix): run it by name, alone on the machine if you can,

    .venv/bin/python -m pytest -q -p no:cacheprovider -s tests/console/bench_pages.py
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from tests.console.conftest import csrf_of, open_queue

REPEAT = 3


def _jvm_cpu(spark) -> float:
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(spark) -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime + _jvm_cpu(spark)


def test_page_costs(console_lake):
    spark = console_lake.spark
    q = open_queue(console_lake.cfg)
    first, second = q.account_id.iloc[0], q.account_id.iloc[1]
    moderator = console_lake.client("moderator")
    pages = {"/queue": moderator, f"/accounts/{first}": moderator, "/overview": moderator}
    load = os.getloadavg()
    rows = []
    for path, client in pages.items():
        client.get(path)                                  # the first request starts what is lazy
        wall, cpu = [], []
        for _ in range(REPEAT):
            c0, t0 = _cpu(spark), time.perf_counter()
            assert client.get(path).status_code == 200
            wall.append(time.perf_counter() - t0)
            cpu.append(_cpu(spark) - c0)
        rows.append((path.split("/")[1], min(wall), sum(wall) / REPEAT, sum(cpu) / REPEAT))
    # A decision, then the pages it changes: the first request after a write.
    page = moderator.get(f"/accounts/{first}")
    state = page.text.split('name="state" value="')[1].split('"')[0]
    c0, t0 = _cpu(spark), time.perf_counter()
    r = moderator.post(f"/accounts/{first}/decision", data={"decision": "confirm", "note": "bench", "state": state,
                                                           "csrf_token": csrf_of(page.text)})
    assert r.status_code == 200, r.text[:300]
    rows.append(("decision", time.perf_counter() - t0, time.perf_counter() - t0, _cpu(spark) - c0))
    for path in ("/queue", f"/accounts/{second}"):
        c0, t0 = _cpu(spark), time.perf_counter()
        assert moderator.get(path).status_code == 200
        rows.append((path.split("/")[1] + " after", time.perf_counter() - t0, time.perf_counter() - t0,
                     _cpu(spark) - c0))
    print(f"\nload average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page':<16}{'min wall s':>12}{'mean wall s':>12}{'mean cpu s':>12}")
    for name, lo, mean, cpu in rows:
        print(f"{name:<16}{lo:>12.2f}{mean:>12.2f}{cpu:>12.2f}")
