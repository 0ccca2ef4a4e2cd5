from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from genuine.core.schemas import DECISIONS, REVIEW_QUEUE
from genuine.enforcement.decisions import file_format, import_decisions, latest_evidence, parse_decision_text
from genuine.enforcement.ids import stable_id_py
from tests.enforcement._data import NOW, RUN, SNAP, account_row, accounts_df, reason, status_df, status_row

AUTO = ["label_suspected_ai", "limit_reach"]
CONFIRM = ["label_suspected_ai", "limit_reach", "suspend"]
T1 = "2026-10-06T09:00:00Z"
T1_DT = datetime(2026, 10, 6, 9, 0)

REVIEW_CSV = """account_id,decision,moderator_id,note,decided_at
acc_pending,confirm,mod-1,clear bot,2026-10-06T09:00:00Z
acc_actioned,CONFIRM,mod-2,,2026-10-06T17:00:00+08:00
acc_human,clear,mod-1,"looks human, ""verified"" elsewhere",2026-10-06T09:30:00Z
ghost,confirm,mod-1,,2026-10-06T09:00:00Z
acc_pending,escalate,mod-1,,2026-10-06T10:00:00Z
acc_pending,confirm,,,2026-10-06T10:00:00Z
acc_human,clear,mod-1,"looks human, ""verified"" elsewhere",2026-10-06T09:30:00Z
acc_x,confirm,mod-1,,2026-10-06 09:00
acc_y,confirm,mod-1,,2026-10-06T09:00:00Z
acc_y,clear,mod-3,,2026-10-06T09:00:00Z
acc_twice,confirm,mod-1,,2026-10-06T08:00:00Z
acc_twice,clear,mod-1,second look,2026-10-06T11:00:00Z
acc_old,confirm,mod-1,,2026-09-01T00:00:00Z
acc_x,confirm,mod-1,,2026-10-06T09:00:00Z,extra
"""

EXPECTED_REVIEW_REJECTS = {
    4: ("unknown_account", "ghost"),
    5: ("unknown_decision", "decision=escalate; expected one of ['confirm', 'clear']"),
    6: ("missing_field", "moderator_id"),
    7: ("duplicate", "same as record 3"),
    8: ("bad_timestamp", "decided_at=2026-10-06 09:00; expected ISO-8601 with a UTC offset"),
    9: ("conflicting_decision", "different decisions for the same account at the same decided_at"),
    10: ("conflicting_decision", "different decisions for the same account at the same decided_at"),
    14: ("malformed_record", "more fields than the header"),
}


def _accounts(spark):
    ids = ["acc_pending", "acc_actioned", "acc_human", "acc_x", "acc_y", "acc_twice", "acc_old", "acc_none"]
    return accounts_df(spark, [account_row(a) for a in ids])


def _status(spark):
    return status_df(spark, [
        status_row("acc_pending", "pending_review", []),
        status_row("acc_actioned", "actioned", AUTO),
        status_row("acc_old", "cleared", [], since=datetime(2026, 9, 15), source="moderator", ref="d-old"),
    ])


def _write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _rejects(result) -> dict[int, tuple]:
    return {r.record_no: (r.reason, r.detail) for r in result.rejects.collect()}


def _did(kind, acc, decision, mod, micros_of: datetime) -> str:
    micros = int((micros_of - datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    return stable_id_py([kind, acc, decision, mod, str(micros)])


def test_review_import_rejects_each_bad_kind_and_applies_the_rest(spark, cfg, tmp_path):
    path = _write(tmp_path, "review.csv", REVIEW_CSV)
    res = import_decisions(spark, path, "review", _accounts(spark), cfg, run_id="imp-1", now=NOW,
                           current_status=_status(spark))
    assert _rejects(res) == EXPECTED_REVIEW_REJECTS
    rej = res.rejects.toPandas()
    assert set(rej.entity) == {"review_decisions"} and set(rej.run_id) == {"imp-1"}
    assert json.loads(rej.loc[rej.record_no == 4, "raw"].iloc[0])["account_id"] == "ghost"

    dec = res.decisions.toPandas().set_index("record_no").sort_index()
    assert list(dec.index) == [1, 2, 3, 11, 12, 13]          # every valid line is recorded
    assert dec.loc[2, "decided_at"] == datetime(2026, 10, 6, 9, 0)   # +08:00 normalised to UTC
    assert dec.loc[2, "decision"] == "confirm"
    assert dec.loc[1, "decision_id"] == _did("review", "acc_pending", "confirm", "mod-1", T1_DT)
    assert dict(zip(dec.index, dec.not_applied_reason, strict=True)) == {
        1: None, 2: None, 3: None, 11: "superseded_in_file", 12: None, 13: "superseded"}
    assert dec.loc[3, "note"] == 'looks human, "verified" elsewhere'

    st = res.account_status.toPandas().set_index("account_id").sort_index()
    assert list(st.index) == ["acc_actioned", "acc_human", "acc_pending", "acc_twice"]
    assert list(st.status) == ["confirmed", "cleared", "confirmed", "cleared"]
    assert [list(a) for a in st.active_actions] == [sorted(CONFIRM), [], sorted(CONFIRM), []]
    assert list(st.last_decision_source) == ["moderator"] * 4
    assert st.loc["acc_pending", "since"] == T1_DT and st.loc["acc_pending", "last_decided_by"] == "mod-1"

    log = res.action_log.toPandas()
    got = sorted(zip(log.account_id, log.action, log.decided_by, strict=True))
    assert got == [("acc_actioned", "suspend", "mod-2"), ("acc_human", "clear", "mod-1"),
                   ("acc_pending", "label_suspected_ai", "mod-1"), ("acc_pending", "limit_reach", "mod-1"),
                   ("acc_pending", "suspend", "mod-1"), ("acc_twice", "clear", "mod-1")]
    assert set(log.decision_source) == {"moderator"}
    pend_id = _did("review", "acc_pending", "confirm", "mod-1", T1_DT)
    assert set(log.loc[log.account_id == "acc_pending", "action_id"]) == {
        stable_id_py(["human", pend_id, a]) for a in CONFIRM}

    labels = res.labels.toPandas().sort_values("account_id").reset_index(drop=True)
    expected = pd.DataFrame({"account_id": ["acc_actioned", "acc_human", "acc_pending", "acc_twice"],
                             "label": ["ai_managed", "human", "ai_managed", "human"],
                             "source": ["moderator"] * 4, "ingest_run_id": ["imp-1"] * 4,
                             "source_file": [str(path)] * 4})
    pd.testing.assert_frame_equal(labels[expected.columns], expected)


def test_reimport_is_idempotent(spark, cfg, tmp_path):
    path = _write(tmp_path, "review.csv", REVIEW_CSV)
    accounts, status0 = _accounts(spark), _status(spark)
    first = import_decisions(spark, path, "review", accounts, cfg, run_id="imp-1", now=NOW, current_status=status0)
    # what the tables hold after the first import (status merged on account_id)
    status1 = (status0.join(first.account_status, "account_id", "left_anti").unionByName(first.account_status)
               .localCheckpoint())
    second = import_decisions(spark, path, "review", accounts, cfg, run_id="imp-2", now=datetime(2026, 10, 7),
                              current_status=status1, known_decisions=first.decisions)
    assert second.action_log.count() == 0
    assert second.account_status.count() == 0
    assert second.labels.count() == 0
    d1, d2 = first.decisions.toPandas(), second.decisions.toPandas()
    assert sorted(d1.decision_id) == sorted(d2.decision_id)          # merge-ignore on decision_id adds nothing
    assert set(d2.not_applied_reason) == {"already_imported"}
    assert sorted(first.rejects.toPandas().quarantine_id) == sorted(second.rejects.toPandas().quarantine_id)
    # and the same ids with no history at all (pure function of content)
    again = import_decisions(spark, path, "review", accounts, cfg, run_id="imp-3", now=NOW, current_status=status0)
    assert sorted(r.action_id for r in again.action_log.collect()) == \
        sorted(r.action_id for r in first.action_log.collect())


APPEALS = [
    {"account_id": "acc_actioned", "outcome": "restore", "moderator_id": "mod-7", "note": "false positive",
     "decided_at": "2026-10-07T10:00:00Z"},
    {"account_id": "acc_confirmed", "outcome": "uphold", "moderator_id": "mod-7", "decided_at": "2026-10-07T11:00:00Z"},
    {"account_id": "acc_none", "outcome": "restore", "moderator_id": "mod-7", "decided_at": "2026-10-07T11:00:00Z"},
    {"account_id": "acc_confirmed", "outcome": "maybe", "moderator_id": "mod-7", "decided_at": "2026-10-07T12:00:00Z"},
]


def test_appeal_import_same_path(spark, cfg, tmp_path):
    text = "\n".join(json.dumps(a) for a in APPEALS) + "\n\n{not json\n[1, 2]\n"
    path = _write(tmp_path, "appeals.jsonl", text)
    accounts = accounts_df(spark, [account_row(a) for a in ("acc_actioned", "acc_confirmed", "acc_none")])
    status = status_df(spark, [status_row("acc_actioned", "actioned", AUTO),
                               status_row("acc_confirmed", "confirmed", sorted(CONFIRM), source="moderator")])
    res = import_decisions(spark, path, "appeal", accounts, cfg, run_id="app-1", now=NOW, current_status=status)
    rej = _rejects(res)
    assert {k: v[0] for k, v in rej.items()} == {3: "no_action_to_appeal", 4: "unknown_decision",
                                                 6: "malformed_record", 7: "malformed_record"}
    assert rej[3][1] == "account status is none"
    st = {r.account_id: (r.status, list(r.active_actions), r.last_decision_source)
          for r in res.account_status.collect()}
    assert st == {"acc_actioned": ("restored", [], "appeal"),
                  "acc_confirmed": ("upheld", sorted(CONFIRM), "appeal")}
    assert sorted((r.account_id, r.action) for r in res.action_log.collect()) == [
        ("acc_actioned", "restore"), ("acc_confirmed", "uphold")]
    assert sorted((r.account_id, r.label, r.source) for r in res.labels.collect()) == [
        ("acc_actioned", "human", "appeal"), ("acc_confirmed", "ai_managed", "appeal")]


def test_human_decision_overrides_later_automatic_status_and_carries_evidence(spark, cfg, tmp_path):
    """A moderator's clear made before the policy acted still applies (humans outrank automation), and the
    action row points at the newest score row the moderator could have seen."""
    path = _write(tmp_path, "r.jsonl", json.dumps({"account_id": "a", "decision": "clear", "moderator_id": "m",
                                                   "decided_at": "2026-10-06T09:00:00Z"}) + "\n")
    status = status_df(spark, [status_row("a", "actioned", AUTO, since=datetime(2026, 10, 6, 12))])
    q_row = {f.name: None for f in REVIEW_QUEUE.fields} | {
        "account_id": "a", "scoring_run_id": RUN, "snapshot_date": SNAP, "score": 0.85, "band": "review",
        "model_name": "m", "model_version": "3", "model_run_id": "r", "feature_table_version": 7,
        "reasons": [reason("content", 99.9, "dup")], "supporting_families": ["content"],
        "enqueued_at": datetime(2026, 10, 6, 2)}
    late = q_row | {"scoring_run_id": "later-run", "enqueued_at": datetime(2026, 10, 6, 10)}
    queue = spark.createDataFrame([q_row, late], REVIEW_QUEUE)
    res = import_decisions(spark, path, "review", accounts_df(spark, [account_row("a")]), cfg, run_id="i",
                           now=NOW, current_status=status, evidence=latest_evidence(queue, None))
    [row] = res.action_log.collect()
    assert (row.action, row.scoring_run_id, row.score, list(row.reason_codes)) == ("clear", RUN, 0.85,
                                                                                  ["content.dup"])
    assert [(r.status, list(r.active_actions)) for r in res.account_status.collect()] == [("cleared", [])]


def test_parse_and_format_detection():
    rows = parse_decision_text('{"account_id": 12, "decision": "confirm"}\n', "jsonl", "decision")
    assert rows == [(1, '{"account_id": 12, "decision": "confirm"}', "12", "confirm", None, None, None, None)]
    assert file_format("x.CSV") == "csv" and file_format("x.ndjson") == "jsonl"
    with pytest.raises(ValueError, match="csv or .jsonl"):
        file_format("x.xlsx")
    assert DECISIONS["decision_id"].nullable
