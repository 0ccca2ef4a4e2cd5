"""`genuine console serve` itself: the real command in a process of its own (uvicorn, its own lazily started
Spark session), on a free port over a copy of the console test lake. It answers the login page with the
session cookie's flags, logs a real user in, serves a page that needs its Spark session, and stops cleanly
on SIGTERM (uvicorn's graceful shutdown, said in its log) with nothing of its process group left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genuine.console.config import console_config
from tests.console.conftest import PASSWORD, csrf_of, make_console_lake, open_queue

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 120          # the command imports FastAPI, pyspark and the jobs before uvicorn listens
PAGE_TIMEOUT_S = 600           # the first page that reads the lake starts the server's own JVM
STOP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def server(spark, enforced_copy, tmp_path_factory) -> Iterator[tuple[httpx.Client, subprocess.Popen, object, Path]]:
    lake = make_console_lake(spark, enforced_copy)
    cfg = lake.cfg
    port = _free_port()
    sets = {"lake.root": cfg.lake.root, "lake.engine": cfg.lake.engine, "privacy.key_file": cfg.privacy.key_file,
            "console.secret_key_file": console_config(cfg).secret_key_file, "mlflow.tracking_uri": cfg.mlflow.tracking_uri}
    cmd = [str(Path(sys.executable).with_name("genuine")), "console", "serve", "--port", str(port), "--env", "test",
           *[x for k, v in sets.items() for x in ("--set", f"{k}={v}")]]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"serve did not listen in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)
        with httpx.Client(base_url=base, follow_redirects=False, timeout=PAGE_TIMEOUT_S) as client:
            yield client, proc, lake, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT_S)
        if _group_alive(proc.pid):              # its JVM, should it outlive the command
            os.killpg(proc.pid, signal.SIGKILL)


def test_serve_answers_logs_in_serves_the_queue_and_stops_cleanly(server):
    client, proc, lake, log = server
    page = client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    cookie = page.headers["set-cookie"].lower()
    assert cookie.startswith("genuine_console=") and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie          # console.https_only is false: plain http on 127.0.0.1

    r = client.post("/login", data={"username": "moderator", "password": "wrong password here",
                                    "csrf_token": csrf_of(page.text), "next": "/"})
    assert r.status_code == 401 and "unknown user or wrong password" in r.text
    r = client.post("/login", data={"username": "moderator", "password": PASSWORD,
                                    "csrf_token": csrf_of(client.get("/login").text), "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    assert "httponly" in r.headers["set-cookie"].lower()

    queue = client.get("/queue")
    assert queue.status_code == 200, queue.text[:500]
    shown = [x.split('">')[1].split("<")[0] for x in queue.text.split('class="account" href="')[1:]]
    assert shown == list(open_queue(lake.cfg).account_id)
    assert client.get("/users").status_code == 403       # roles checked by the served app too

    # uvicorn shuts down gracefully on SIGTERM, then re-raises it (uvicorn >= 0.29): the exit is the signal's.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(STOP_TIMEOUT_S) == -signal.SIGTERM
    said = log.read_text()
    assert "Application shutdown complete" in said and f"Finished server process [{proc.pid}]" in said, said[-2000:]
    assert "Traceback" not in said, said[-3000:]
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _group_alive(proc.pid):
        assert time.monotonic() < deadline, "the server's JVM outlived it"
        time.sleep(0.5)
