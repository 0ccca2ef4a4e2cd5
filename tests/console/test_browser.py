"""The console end to end in a real headless browser: Playwright driving Debian's Chromium (/usr/bin/chromium,
installed by .ci/run with apt; nothing downloaded) against the app served by uvicorn on 127.0.0.1.

log in -> queue -> account -> confirm with a note -> the status changed in Delta and the decision landed
once -> an appeals officer restores it -> an auditor sees the chain and cannot decide. Screenshots of the
queue and the account page are saved under test-artifacts/console/ (git-ignored; GENUINE_TEST_ARTIFACTS
moves it).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from genuine.console.app import create_app
from genuine.jobs import appeal
from tests.console.conftest import PASSWORD, make_console_lake
from tests.oracles import read_delta_rs

# A decision is a real import (several Spark jobs and Delta commits): seconds on an idle machine, minutes on a
# loaded one; the browser waits for the page as long as that.
DECISION_TIMEOUT_MS = 600_000
CHROMIUM = Path(os.environ.get("GENUINE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("GENUINE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(spark, enforced_copy) -> Iterator[tuple[str, object]]:
    """(base url, console lake): the app on a real server in this process (it shares the test session)."""
    lake = make_console_lake(spark, enforced_copy)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(lake.cfg, spark), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", lake
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


def _login(browser, base: str, user: str):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(DECISION_TIMEOUT_MS)
    page = ctx.new_page()
    page.goto(f"{base}/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    return page


def test_moderator_confirms_appeals_officer_restores_auditor_sees_the_chain(served, browser):
    base, lake = served
    cfg = lake.cfg
    shots = ARTIFACTS / "console"
    shots.mkdir(parents=True, exist_ok=True)

    # 1-2. log in, land on the queue
    page = _login(browser, base, "moderator")
    page.wait_for_url(f"{base}/queue")
    assert page.locator("h1").inner_text() == "Review queue"
    first = page.locator("a.account").first
    account = first.inner_text()
    page.screenshot(path=str(shots / "queue.png"), full_page=False)

    # 3. open the account
    first.click()
    page.wait_for_url(f"{base}/accounts/{account}")
    assert page.locator("h1").inner_text() == f"Account {account}"
    assert page.locator(".chart svg").count() == 2
    page.screenshot(path=str(shots / "account.png"), full_page=True)

    # 4. confirm with a note
    page.fill("textarea[name=note]", "posts on the minute, same template as its cluster")
    page.click("button.decision-confirm")
    assert "confirm recorded and applied" in page.locator(".message").inner_text()
    page.screenshot(path=str(shots / "decided.png"), full_page=False)

    # 5. the status changed in Delta and the decision landed once (read with delta-rs alone)
    status = read_delta_rs(cfg.table("account_status")).set_index("account_id").loc[account]
    assert (status.status, status.last_decided_by) == ("confirmed", "moderator")
    dec = read_delta_rs(cfg.table("decisions"))
    assert dec[dec.account_id == account][["kind", "decision", "applied"]].values.tolist() == [
        ["review", "confirm", True]]
    assert page.locator("button.decision-confirm").count() == 0     # it left the queue: nothing to decide
    page.context.close()

    # 6. the account holder appeals; an appeals officer restores
    appeal.file_appeal(lake.lake, account, "I write my posts myself", datetime.now(UTC), source="browser-test")
    page = _login(browser, base, "appeals_officer")
    page.wait_for_url(f"{base}/appeals")
    box = page.locator("section.appeal", has_text=account)
    box.locator("textarea[name=note]").fill("posting times match a shift worker")
    box.locator("button.outcome-restore").click()
    assert "restore recorded and applied" in page.locator(".message").inner_text()
    status = read_delta_rs(cfg.table("account_status")).set_index("account_id").loc[account]
    assert (status.status, list(status.active_actions)) == ("restored", [])
    page.context.close()

    # 7. an auditor sees the chain and cannot decide
    page = _login(browser, base, "auditor")
    page.wait_for_url(f"{base}/audit")
    page.fill("input[name=account_id]", account)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/audit/{account}")
    human = page.locator("ul.human").inner_text()
    assert "review confirm by moderator" in human and "appeal restore by appeals_officer" in human
    page.screenshot(path=str(shots / "audit.png"), full_page=False)
    page.goto(f"{base}/accounts/{account}")
    assert page.locator("button.decision-confirm").count() == 0
    r = page.request.post(f"{base}/accounts/{account}/decision",
                          form={"decision": "clear", "note": "n", "state": "none"})
    assert r.status == 403
    dec = read_delta_rs(cfg.table("decisions"))
    assert len(dec[dec.account_id == account]) == 2
    page.context.close()
