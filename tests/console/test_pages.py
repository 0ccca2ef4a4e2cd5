"""What the pages show, against oracles read with delta-rs and pandas alone: the queue's filters and the
content of each row (reasons in words with human percentiles, reach, verified / declared AI-assisted), the
account page's evidence (reasons, sample posts, cluster members as links, history) and activity against the
human profile, and the overview (queue size and age, decisions per moderator per day, share confirmed per
band, the circuit breaker's holds). Also that the pages follow the lake: a decision, an import outside the
console or a user change shows at the next request (genuine.console.data.Reader keeps tables per version)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from markupsafe import escape

from genuine.console.users import Users
from genuine.core.lake import Lake
from genuine.enforcement.config import enforcement_config
from genuine.jobs import enforce, review
from tests.console.conftest import PASSWORD, ConsoleLake, csrf_of, login, open_queue, table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moderator(console_lake):
    return console_lake.client("moderator")


def _shown(html: str) -> list[str]:
    return [x.split('">')[1].split("<")[0] for x in html.split('class="account" href="')[1:]]


def _row(html: str, account: str) -> str:
    start = html.index(f'href="/accounts/{quote(account, safe="")}"')
    return html[start:html.index("</tr>", start)]


def _words(flag, yes: str, no: str, unknown: str) -> str:
    return unknown if flag is None or flag != flag else (yes if flag else no)


def _reasons_in(html: str, reasons) -> None:
    for r in reasons:
        assert str(escape(r["text"])) in html, r["text"]
        if r["human_percentile"] is not None:
            assert f"(human percentile {r['human_percentile']:.4g})" in html


def test_queue_filters_and_rows(console_lake, moderator):
    q = open_queue(console_lake.cfg)
    assert len(q) > 3 and q.cluster_id.notna().any() and q.band.nunique() >= 1
    for band in sorted(q.band.unique()):
        assert _shown(moderator.get(f"/queue?band={band}").text) == list(q[q.band == band].account_id)
    for cluster in sorted(q.cluster_id.dropna().unique()):
        got = _shown(moderator.get(f"/queue?cluster={quote(cluster)}").text)
        assert got == list(q[q.cluster_id == cluster].account_id)
    band, cluster = q.band.iloc[0], q.cluster_id.dropna().iloc[0]
    both = q[(q.band == band) & (q.cluster_id == cluster)]
    assert _shown(moderator.get(f"/queue?band={band}&cluster={quote(cluster)}").text) == list(both.account_id)
    assert "Nothing open matches these filters" in moderator.get("/queue?band=no-such-band").text

    html = moderator.get("/queue").text
    assert sum(r["human_percentile"] is not None for rs in q.reasons for r in rs) > len(q)
    for _, item in q.iterrows():
        row = _row(html, item.account_id)
        _reasons_in(row, item.reasons)
        if len(item.reasons) == 0:                      # e.g. queued as account_unknown: no score reasons
            assert "no reasons recorded" in row
        assert f"<td>{int(item.reach) if pd.notna(item.reach) else 'unknown'}</td>" in row     # a bigint
        assert _words(item.verified, "verified", "not verified", "verified unknown") + "<br>" in row
        assert _words(item.declared_ai_assisted, "declared AI-assisted", "no AI declaration",
                      "AI declaration unknown") in row


def test_account_page_evidence_history_and_nothing_personal(console_lake, moderator):
    cfg = console_lake.cfg
    q = open_queue(cfg)
    item = q[q.cluster_id.notna() & (q.cluster_members.map(len) > 0)].iloc[0]
    html = moderator.get(f"/accounts/{item.account_id}").text
    _reasons_in(html, item.reasons)
    assert len(item.sample_posts) > 0
    for p in item.sample_posts:
        assert str(escape(p["snippet"])) in html
    for m in item.cluster_members:
        assert f'<a href="/accounts/{quote(m, safe="")}">{m}</a>' in html
    assert html.count('<svg') == 2
    assert 'src="http' not in html and 'href="http' not in html and "<script" not in html    # no CDN, no script
    scores = table(cfg, "scores")
    history = html.split("<h3>Scores</h3>")[1].split("</table>")[0]
    assert history.count("<tr><td>") == (scores.account_id == item.account_id).sum()
    acc = table(cfg, "raw_accounts").set_index("account_id").loc[item.account_id]
    for personal in (acc.nickname, acc.bio, acc.region):
        if isinstance(personal, str) and len(personal) > 3:
            assert str(escape(personal)) not in html


def _events(cfg) -> pd.DataFrame:
    posts = table(cfg, "raw_posts")[["account_id", "created_at"]]
    inter = table(cfg, "raw_interactions").rename(columns={"actor_id": "account_id"})[["account_id", "created_at"]]
    ev = pd.concat([posts, inter]).dropna(subset=["created_at"])
    ev["created_at"] = pd.to_datetime(ev.created_at, utc=True)
    return ev


def _oracle_profile(ev: pd.DataFrame, accounts: int):
    hours = Counter(ev.created_at.dt.hour)
    days = Counter(ev.created_at.dt.date)
    return [hours[h] / len(ev) for h in range(24)], [(d, days[d] / accounts) for d in sorted(days)]


def test_activity_against_the_human_profile(console_lake):
    cfg = console_lake.cfg
    reader = console_lake.client(None).app.state.console.reader
    ev = _events(cfg)
    account = open_queue(cfg).account_id.iloc[0]
    got = reader.activity(account)
    by_hour, by_day = _oracle_profile(ev[ev.account_id == account], 1)
    assert got["account"].by_hour == pytest.approx(by_hour)
    assert got["account"].by_day == [(d, pytest.approx(n)) for d, n in by_day]

    # The human population: accounts whose latest label is the negative one (a negative label wins a tie);
    # without labels (this lake: no decision yet), the accounts the latest scoring run left in band none.
    mcfg = reader.model_cfg
    if Path(cfg.table("raw_labels")).exists():
        lab = table(cfg, "raw_labels").assign(pos=lambda d: d.label == mcfg.positive_label)
        latest = lab.sort_values(["decided_at", "pos"], ascending=[False, True]).drop_duplicates("account_id")
        humans, who = set(latest[latest.label == mcfg.negative_label].account_id), "accounts labelled"
    else:
        sc = table(cfg, "scores")
        last = sc.sort_values("scored_at").scoring_run_id.iloc[-1]
        humans, who = set(sc[(sc.scoring_run_id == last) & (sc.band == "none")].account_id), "accounts the latest"
    assert len(humans) > 10
    by_hour, by_day = _oracle_profile(ev[ev.account_id.isin(humans)], len(humans))
    prof = got["humans"]
    assert prof.population.startswith(f"{len(humans)} {who}")
    assert prof.by_hour == pytest.approx(by_hour)
    assert prof.by_day == [(d, pytest.approx(n)) for d, n in by_day]


def _decide(client, account: str, decision: str, note: str):
    page = client.get(f"/accounts/{account}")
    state = page.text.split('name="state" value="')[1].split('"')[0]
    return client.post(f"/accounts/{account}/decision", data={"decision": decision, "note": note, "state": state,
                                                             "csrf_token": csrf_of(page.text)})


def test_pages_follow_the_lake_after_decisions_imports_and_user_changes(console_lake, moderator, tmp_path):
    """Every table the console keeps is read again once its version moved: nothing stale after a decision
    in the console, a decision imported by `genuine review import`, or a user disabled elsewhere."""
    cfg = console_lake.cfg
    first, second, third = open_queue(cfg).account_id.iloc[:3]
    assert first in _shown(moderator.get("/queue").text)                   # the tables are now cached
    assert _decide(moderator, first, "confirm", "bot").status_code == 200
    assert first not in _shown(moderator.get("/queue").text)
    page = moderator.get(f"/accounts/{first}").text
    assert '<strong class="status">confirmed</strong>' in page and "Not in the open review queue" in page
    # Its history: the decision and the actions it took, as the tables hold them.
    dec = table(cfg, "decisions")
    d = dec[dec.account_id == first].iloc[0]
    assert "<td>review</td><td>confirm</td><td>moderator</td><td>bot</td><td>applied</td>" in page
    log = table(cfg, "action_log")
    acts = page.split('<table class="actions">')[1].split("</table>")[0]
    mine = log[log.account_id == first]
    assert acts.count("<tr><td>") == len(mine) > 0
    for a in mine.itertuples():
        assert f"<td>{a.action}</td><td>{a.decided_by}</td><td>{a.decision_source}</td><td>{a.route_reason}</td>" in acts
    assert d.decision_id in set(mine.decision_ref)

    # An import outside the console (another process writing the same tables).
    f = tmp_path / "review.jsonl"
    f.write_text(f'{{"account_id": "{second}", "decision": "clear", "moderator_id": "cli-mod", "note": "human",'
                 f' "decided_at": "{datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}"}}\n')
    assert review.run(cfg, f, "review", spark=console_lake.spark).applied == 1
    assert _shown(moderator.get("/queue").text) == list(open_queue(cfg).account_id)
    assert second not in _shown(moderator.get("/queue").text)
    r = _decide(moderator, third, "clear", "looks human")
    assert r.status_code == 200
    assert third not in _shown(moderator.get("/queue").text)

    # A user disabled by another console process: this one logs them out at the next request.
    other = console_lake.client("admin")
    token = csrf_of(other.get("/users").text)
    assert other.post("/users/moderator/active", data={"active": "false", "csrf_token": token}).status_code == 303
    assert moderator.get("/queue").status_code == 303
    assert other.post("/users/moderator/active", data={"active": "true", "csrf_token": token}).status_code == 303
    assert login(moderator, "moderator", PASSWORD).headers["location"] == "/queue"


def test_overview_counts_against_the_tables(console_lake):
    """After the decisions above: queue size and age, decisions per moderator per day, share confirmed per band."""
    cfg = console_lake.cfg
    html = console_lake.client("auditor").get("/overview").text
    q = open_queue(cfg)
    assert f"{len(q)} open item(s)" in html
    oldest = pd.to_datetime(q.enqueued_at, utc=True).min()
    assert f"the oldest enqueued {oldest:%Y-%m-%d %H:%M:%S} UTC" in html

    dec = table(cfg, "decisions")
    assert len(dec) >= 3
    dec["day"] = pd.to_datetime(dec.decided_at, utc=True).dt.date
    per = dec.groupby(["day", "moderator_id", "kind"]).agg(n=("decision_id", "size"), applied=("applied", "sum"))
    section = html.split("Decisions per moderator per day")[1].split("</table>")[0]
    rows = [(str(d), m, k, int(r.n), int(r.applied)) for (d, m, k), r in per.iterrows()]
    got = [tuple(c.split("</td>")[0] for c in tr.split("<td>")[1:]) for tr in section.split("<tr>")[2:]]
    assert sorted((d, m, k, int(n), int(a)) for d, m, k, n, a in got) == sorted(rows)

    log = table(cfg, "action_log")
    mine = log[log.decision_source == "moderator"].sort_values(["decided_at", "action_id"])
    per_ref = mine.groupby("decision_ref").agg(band=("band", "first"), route=("route_reason", "first"))
    per_ref["band"] = per_ref.band.fillna("unknown")
    expected = per_ref.groupby("band").agg(decided=("route", "size"),
                                           confirmed=("route", lambda r: int((r == "review:confirm").sum())))
    assert set(expected.index) <= set(dec.merge(table(cfg, "review_queue"), on="account_id").band) | {"unknown"}
    section = html.split("Agreement with the model")[1].split("</table>")[0]
    for band, r in expected.iterrows():
        assert (f"<tr><td>{band}</td><td>{r.decided}</td><td>{r.confirmed}</td>"
                f"<td>{100 * r.confirmed / r.decided:.0f}%</td></tr>") in section
    assert section.count("<tr><td>") == len(expected)
    assert "No holds in the latest run" in html          # NO_TRIP: this lake's breaker never tripped


def test_overview_shows_the_breakers_holds(spark, lake_copy):
    """A lake enforced with a breaker floor of 0 and no history: every automatic action is held."""
    cfg, _ = lake_copy("enforcement.breaker.floor=0")
    run = enforce.run(cfg, spark=spark)
    assert enforcement_config(cfg).breaker.floor == 0
    Users(Lake(spark, cfg)).add("auditor", "auditor", PASSWORD, created_by="test")
    html = ConsoleLake(cfg, None, spark).client("auditor").get("/overview").text
    rq = table(cfg, "review_queue")
    held = rq[(rq.scoring_run_id == run.scoring_run_id) & rq.held_by_breaker]
    assert len(held) > 0
    assert f"{len(held)} automatic action(s) of the latest run held for review" in html
    for reason, n in held.hold_reason.value_counts().items():
        assert f"<li>{n}: {escape(reason)}</li>" in html
