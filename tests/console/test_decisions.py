"""Decisions and appeal outcomes made in the console land exactly as `genuine review import` / `genuine
appeal import` would land them (same tables, ids, status, labels, statements), once; what the console must
refuse (double submit, stale form, no CSRF token, bad input) is refused with a message and writes nothing.
Every table is read back with delta-rs alone (tests.oracles), not through the console's reader."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape

from genuine.enforcement.config import enforcement_config
from genuine.jobs import appeal, review
from genuine.jobs import audit as audit_job
from tests.console.conftest import csrf_of, open_queue, table

WRITTEN = ("decisions", "action_log", "statements", "raw_labels", "quarantine", "account_status")


def versions(cfg, names=WRITTEN) -> dict[str, int]:
    from deltalake import DeltaTable

    return {n: DeltaTable(cfg.table(n)).version() for n in names}


@pytest.fixture(scope="module")
def lake(console_lake):
    return console_lake


@pytest.fixture(scope="module")
def moderator(lake):
    return lake.client("moderator")


def decide(client, account: str, decision: str, note: str, state: str | None = None, token: bool = True):
    page = client.get(f"/accounts/{account}")
    form = {"decision": decision, "note": note,
            "state": state if state is not None else page.text.split('name="state" value="')[1].split('"')[0]}
    if token:
        form["csrf_token"] = csrf_of(page.text)
    return client.post(f"/accounts/{account}/decision", data=form)


def test_the_queue_page_lists_the_open_queue_in_rank_order(lake, moderator):
    q = open_queue(lake.cfg)
    html = moderator.get("/queue").text
    shown = [line.split('">')[1].split("<")[0] for line in html.split('class="account" href="')[1:]]
    assert shown == list(q.account_id)
    fam = sorted({r["family"] for rs in q.reasons for r in rs})[0]
    html = moderator.get(f"/queue?family={fam}").text
    shown = [line.split('">')[1].split("<")[0] for line in html.split('class="account" href="')[1:]]
    assert shown == [a for a, rs in zip(q.account_id, q.reasons, strict=True) if fam in {r["family"] for r in rs}]


def test_confirm_lands_once_through_the_import_path_and_a_double_submit_is_refused(lake, moderator):
    cfg = lake.cfg
    acc = open_queue(cfg).account_id.iloc[0]
    prior = table(cfg, "account_status").set_index("account_id")
    prior_actions = list(prior.loc[acc, "active_actions"]) if acc in prior.index else []
    labels_before = len(table(cfg, "raw_labels")) if Path(cfg.table("raw_labels")).exists() else 0

    page = moderator.get(f"/accounts/{acc}")
    r = decide(moderator, acc, "confirm", "posts on the minute, same template as its cluster")
    assert r.status_code == 200 and "confirm recorded and applied" in r.text

    dec = table(cfg, "decisions")
    mine = dec[dec.account_id == acc]
    assert len(mine) == 1
    d = mine.iloc[0]
    assert (d.kind, d.decision, d.moderator_id, d.note, bool(d.applied)) == (
        "review", "confirm", "moderator", "posts on the minute, same template as its cluster", True)
    assert d.source_file.startswith(str(Path(cfg.lake.root) / "console" / "decisions" / "review"))
    status = table(cfg, "account_status").set_index("account_id").loc[acc]
    confirm = enforcement_config(cfg).imports.confirm_actions
    assert (status.status, sorted(status.active_actions), status.last_decided_by) == (
        "confirmed", sorted(set(confirm) | set(prior_actions)), "moderator")
    labels = table(cfg, "raw_labels")
    assert len(labels) == labels_before + 1
    assert labels[labels.account_id == acc][["label", "source"]].values.tolist() == [["ai_managed", "moderator"]]
    log = table(cfg, "action_log")
    human = log[(log.account_id == acc) & (log.decision_source == "moderator")]
    assert sorted(human.action) == sorted(set(confirm) - set(prior_actions))
    assert set(human.decision_ref) == {d.decision_id}

    # The same page submitted again: refused before anything is imported.
    before = versions(cfg)
    again = {"decision": "confirm", "note": "again", "csrf_token": csrf_of(page.text),
             "state": page.text.split('name="state" value="')[1].split('"')[0]}
    r = moderator.post(f"/accounts/{acc}/decision", data=again)
    assert r.status_code == 409 and "not in the open review queue" in r.text
    assert versions(cfg) == before
    assert acc not in set(open_queue(cfg).account_id)
    assert f'href="/accounts/{acc}"' not in moderator.get("/queue").text

    # The console's file IS a review-import file: importing it with `genuine review import` adds nothing.
    run = review.run(cfg, d.source_file, "review", spark=lake.spark)
    assert (run.applied, run.not_applied) == (0, {"already_imported": 1})
    assert versions(cfg, ("action_log", "account_status", "raw_labels")) == {
        k: v for k, v in before.items() if k in ("action_log", "account_status", "raw_labels")}

    access = table(cfg, "console_access")
    mine = access[access.account_id == acc]
    assert {("moderator", "view_account"), ("moderator", "decision")} <= set(zip(mine.username, mine.action,
                                                                                   strict=True))
    assert (mine[mine.action == "decision"].detail.str.startswith("confirm run=")).sum() == 1
    # Append-only: no commit of the access log ever removed (rewrote) a file of it.
    commits = sorted((Path(cfg.table("console_access")) / "_delta_log").glob("*.json"))
    assert len(commits) >= 3
    for c in commits:
        actions = [json.loads(line) for line in c.read_text().splitlines() if line.strip()]
        assert not any("remove" in a for a in actions), c.name


def test_refusals_write_nothing(lake, moderator):
    cfg = lake.cfg
    acc = open_queue(cfg).account_id.iloc[0]
    before = versions(cfg)
    cases = [
        (decide(moderator, acc, "confirm", "n", token=False), 403, "security token"),
        (decide(moderator, acc, "confirm", "n", state="something-else"), 409, "changed since this page was opened"),
        (decide(moderator, acc, "confirm", "x" * 2001), 400, "the note has 2001 characters; at most 2000"),
        (decide(moderator, acc, "confirm", "   "), 400, "a note is required"),
        (decide(moderator, acc, "escalate", "n"), 400, "decision must be one of confirm, clear"),
        (moderator.post(f"/accounts/{acc}/decision", data={"note": "n", "state": "none",
                                                          "csrf_token": csrf_of(moderator.get("/queue").text)}),
         400, "missing or invalid field(s): decision"),
        (decide(moderator, "ghost-account", "confirm", "n", state="none"), 409, "not in the open review queue"),
    ]
    for r, status, text in cases:
        assert r.status_code == status, (text, r.text[:400])
        assert text in r.text
        assert "Traceback" not in r.text
    assert versions(cfg) == before


def test_unknown_or_malformed_account_ids_get_a_page_not_a_stack_trace(lake, moderator):
    r = moderator.get("/accounts/ghost-account")
    assert r.status_code == 404 and "no account &#39;ghost-account&#39; is known" in r.text
    r = moderator.get("/accounts/" + "a" * 200)
    assert r.status_code == 400 and "not an account id" in r.text
    assert lake.client("auditor").get("/audit/ghost-account").status_code == 404


def test_a_crash_shows_a_reference_and_no_stack_trace(lake):
    client = lake.client("auditor")
    state = client.app.state.console

    def boom(now):
        raise RuntimeError("secret internals")

    state.reader.overview = boom
    r = client.get("/overview")
    assert r.status_code == 500
    assert "reference" in r.text and "secret internals" not in r.text and "Traceback" not in r.text


def test_appeal_restored_by_the_appeals_officer_then_audited(lake, moderator):
    cfg = lake.cfg
    acc = open_queue(cfg).account_id.iloc[0]
    assert decide(moderator, acc, "confirm", "bot").status_code == 200
    appeal.file_appeal(lake.lake, acc, "I write my posts myself", datetime.now(UTC), source="test")

    officer = lake.client("appeals_officer")
    page = officer.get("/appeals")
    assert page.status_code == 200 and acc in page.text and "I write my posts myself" in page.text
    box = page.text.split(f'<section class="appeal">\n<h2><a href="/accounts/{acc}">')[1].split("</section>")[0]
    log = table(cfg, "action_log")
    mine = log[log.account_id == acc]
    assert len(mine) > 0 and all(len(a.reasons) > 0 for _, a in mine.iterrows())
    for _, a in mine.iterrows():     # the original decision and its evidence
        assert f"<td>{a.action}</td><td>{a.decided_by}</td><td>{a.score:.3g}</td><td>{a.band}</td>" in box
        for r in a.reasons:
            assert str(escape(r["text"])) in box
    assert "<td>bot</td>" in box
    state = page.text.split('name="state" value="')[1].split('"')[0]
    form = {"outcome": "restore", "note": "posting times match a shift worker", "state": state,
            "csrf_token": csrf_of(page.text)}
    r = officer.post(f"/appeals/{acc}/outcome", data=form)
    assert r.status_code == 200 and "restore recorded and applied" in r.text
    status = table(cfg, "account_status").set_index("account_id").loc[acc]
    assert (status.status, list(status.active_actions), status.last_decided_by) == ("restored", [], "appeals_officer")
    labels = table(cfg, "raw_labels")
    assert ("human", "appeal") in set(zip(labels[labels.account_id == acc].label,
                                          labels[labels.account_id == acc].source, strict=True))
    assert acc not in officer.get("/appeals").text
    r = officer.post(f"/appeals/{acc}/outcome", data=form)      # double submit
    assert r.status_code == 409 and "no open appeal" in r.text
    dec = table(cfg, "decisions")
    assert len(dec[(dec.account_id == acc) & (dec.kind == "appeal")]) == 1

    auditor = lake.client("auditor")
    html = auditor.get(f"/audit/{acc}").text
    assert "review <strong>confirm</strong> by moderator" in html
    assert "appeal <strong>restore</strong> by appeals_officer" in html
    assert "Score row" in html and "Feature snapshot" in html
    trail = audit_job.explain(cfg, acc, spark=lake.spark)
    assert trail.model and trail.features and trail.feature_values
    assert f"{trail.model['name']} version {trail.model['version']}" in html
    assert f"{trail.features['table']} version {trail.features['version']}" in html
    for name in trail.feature_values:
        assert f"<tr><td>{name}</td>" in html
    for p in trail.posts:
        assert f"post {p['post_id']} " in html
    assert decide(auditor, acc, "clear", "n", state="none").status_code == 403
    access = table(cfg, "console_access")
    seen = set(zip(access.username, access.action, access.account_id, strict=True))
    assert {("appeals_officer", "view_appeal", acc), ("appeals_officer", "appeal_outcome", acc),
            ("auditor", "view_audit", acc)} <= seen


def test_export_of_statements_for_a_date_range(lake):
    cfg = lake.cfg
    auditor = lake.client("auditor")
    token = csrf_of(auditor.get("/export").text)
    today = datetime.now(UTC).date()
    r = auditor.post("/export/statements", data={"since": str(today - timedelta(days=1)), "until": str(today),
                                                 "csrf_token": token})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    got = sorted(json.loads(line)["puid"] for line in r.text.splitlines())
    st = table(cfg, "statements")
    log = table(cfg, "action_log").set_index("action_id")
    day = pd.to_datetime(log.loc[st.action_id, "decided_at"]).dt.date.values
    expected = sorted(st[(day >= today - timedelta(days=1)) & (day <= today)].puid)
    assert got == expected and got
    r = auditor.post("/export/statements", data={"since": str(today), "until": str(today - timedelta(days=2)),
                                                 "csrf_token": token})
    assert r.status_code == 400 and "before it starts" in r.text


def test_overview_counts(lake):
    html = lake.client("admin").get("/overview").text
    assert f"{len(open_queue(lake.cfg))} open item(s)" in html
