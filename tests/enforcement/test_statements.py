from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from genuine.core.errors import StatementExportError
from genuine.core.schemas import ACTION_LOG
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.statements import (
    export_statements,
    statement_for,
    statements_frame,
    validate_statement,
)
from tests.enforcement._data import RUN, SNAP, reason

SECRET_ACCOUNT = "acct-7f3a-secret"


def _row(action: str = "limit_reach", source: str = "policy", action_id: str = "a1b2c3",
         decided_at: datetime = datetime(2026, 10, 6, 2, 0), families=("behaviour", "network")) -> dict:
    row = {f.name: None for f in ACTION_LOG.fields}
    row.update({
        "action_id": action_id, "account_id": SECRET_ACCOUNT, "action": action, "decision_source": source,
        "decided_by": "auto" if source == "policy" else "mod-9", "decision_ref": RUN, "route_reason": "auto_policy",
        "reason_codes": ["behaviour.on_the_hour", "network.cluster"],
        "reasons": [dict(zip(("family", "feature", "value", "human_percentile", "human_p999", "text"), r, strict=True))
                    for r in (reason("behaviour", 99.9, "on_the_hour"), reason("network", 99.5, "cluster"))],
        "supporting_families": list(families), "scoring_run_id": RUN, "snapshot_date": SNAP, "score": 0.97,
        "band": "auto", "model_name": "genuine-account-model", "model_version": "3", "model_run_id": "r",
        "feature_table_version": 7, "job_run_id": "job-1", "decided_at": decided_at, "logged_at": decided_at})
    return row


def test_automatic_demotion_statement_is_valid_and_has_no_personal_data(cfg):
    s = statement_for(_row(), cfg)
    assert validate_statement(s) == []
    assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DEMOTED"] and "decision_account" not in s
    assert s["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert (s["automated_detection"], s["automated_decision"]) == ("Yes", "AUTOMATED_DECISION_FULLY")
    assert s["category"] == "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
    assert s["category_specification"] == ["KEYWORD_INAUTHENTIC_ACCOUNTS", "KEYWORD_COORDINATED_HARM"]
    assert (s["content_date"], s["application_date"], s["puid"]) == ("2026-10-05", "2026-10-06", "a1b2c3")
    assert SECRET_ACCOUNT not in json.dumps(s)
    assert "on_the_hour at the 99.9 human percentile" in s["decision_facts"]


def test_moderator_suspension_and_label(cfg):
    s = statement_for(_row("suspend", "moderator", families=("content",)), cfg)
    assert validate_statement(s) == []
    assert s["decision_account"] == "DECISION_ACCOUNT_SUSPENDED" and "decision_visibility" not in s
    assert s["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert s["category_specification"] == ["KEYWORD_INAUTHENTIC_ACCOUNTS"]     # no network family: no coordination
    assert "mod-9" not in json.dumps(s)
    lab = statement_for(_row("label_suspected_ai"), cfg)
    assert lab["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_LABELLED"]
    with pytest.raises(ValueError, match="not a statement-bearing"):
        statement_for(_row("clear", "moderator"), cfg)


LONG = "x" * 5001


def _set(**kv):
    def f(d):
        d.update(kv)
    return f


def _drop(*keys):
    def f(d):
        for k in keys:
            d.pop(k, None)
    return f


VIOLATIONS = [
    (_set(foo=1), "foo: not a field"),
    (_drop("decision_ground"), "decision_ground: is required"),
    (_set(decision_ground="DECISION_GROUND_VIBES"), "decision_ground: 'DECISION_GROUND_VIBES' is not an allowed"),
    (_drop("decision_visibility"), "decision_visibility: one of decision_visibility, decision_monetary"),
    (_set(decision_visibility=["DECISION_VISIBILITY_HIDDEN"]), "decision_visibility: 'DECISION_VISIBILITY_HIDDEN'"),
    (_set(decision_visibility="DECISION_VISIBILITY_CONTENT_DEMOTED"), "decision_visibility: must be an array"),
    (_set(decision_visibility=["DECISION_VISIBILITY_OTHER"]), "decision_visibility_other: is required"),
    (_set(decision_visibility_other="shadow"), "decision_visibility_other: must be absent unless"),
    (_set(decision_account="DECISION_ACCOUNT_BANNED"), "decision_account: 'DECISION_ACCOUNT_BANNED'"),
    (_set(decision_monetary="DECISION_MONETARY_OTHER"), "decision_monetary_other: is required"),
    (_set(decision_provision="DECISION_PROVISION_SOME"), "decision_provision: 'DECISION_PROVISION_SOME'"),
    (_set(account_type="ACCOUNT_TYPE_BOT"), "account_type: 'ACCOUNT_TYPE_BOT'"),
    (_drop("incompatible_content_ground"), "incompatible_content_ground: is required"),
    (_set(incompatible_content_explanation="y" * 2001), "incompatible_content_explanation: longer than 2000"),
    (_set(incompatible_content_ground="g" * 501), "incompatible_content_ground: longer than 500"),
    (_set(illegal_content_legal_ground="law"), "illegal_content_legal_ground: must be absent unless"),
    (_set(decision_ground="DECISION_GROUND_ILLEGAL_CONTENT"), "illegal_content_legal_ground: is required"),
    (_set(decision_ground="DECISION_GROUND_ILLEGAL_CONTENT"), "incompatible_content_ground: must be absent unless"),
    (_set(incompatible_content_illegal="Maybe"), "incompatible_content_illegal: 'Maybe'"),
    (_set(decision_ground_reference_url="ftp://tos"), "decision_ground_reference_url: must be an http(s) URL"),
    (_drop("content_type"), "content_type: is required"),
    (_set(content_type=["CONTENT_TYPE_OTHER"]), "content_type_other: is required"),
    (_set(content_type=["CONTENT_TYPE_HOLOGRAM"]), "content_type: 'CONTENT_TYPE_HOLOGRAM'"),
    (_drop("category"), "category: is required"),
    (_set(category="STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"), "category: 'STATEMENT_CATEGORY_PORN"),
    (_set(category_addition=["STATEMENT_CATEGORY_NOPE"]), "category_addition: 'STATEMENT_CATEGORY_NOPE'"),
    (_set(category_specification=["KEYWORD_FOREIGN_INFORMATION_MANIPULATION"]), "category_specification: 'KEYWORD_FOR"),
    (_set(category_specification_other="bots"), "category_specification_other: must be absent unless"),
    (_set(content_id={"ISBN": "1"}), "content_id: must be an object"),
    (_drop("territorial_scope"), "territorial_scope: is required"),
    (_set(territorial_scope=["US"]), "territorial_scope: 'US' is not an allowed"),
    (_set(content_language="english"), "content_language: 'english'"),
    (_drop("content_date"), "content_date: is required"),
    (_set(content_date="2026-10-5"), "content_date: '2026-10-5' does not match the format YYYY-MM-DD"),
    (_set(content_date="1999-12-31"), "content_date: must be on or after 2000-01-01"),
    (_set(application_date="2019-12-31"), "application_date: must be on or after 2020-01-01"),
    (_set(application_date="2038-01-02"), "application_date: must be on or before 2038-01-01"),
    (_set(application_date="2026-02-30"), "application_date: '2026-02-30' does not match"),
    (_set(end_date_account_restriction="2026-10-01"), "end_date_account_restriction: must be on or after application"),
    (_drop("decision_facts"), "decision_facts: is required"),
    (_set(decision_facts=LONG), "decision_facts: longer than 5000"),
    (_drop("source_type"), "source_type: is required"),
    (_set(source_type="SOURCE_RUMOUR"), "source_type: 'SOURCE_RUMOUR'"),
    (_set(source_identity="someone"), "source_identity: must be absent when source_type is SOURCE_VOLUNTARY"),
    (_set(automated_detection="yes"), "automated_detection: 'yes'"),
    (_drop("automated_decision"), "automated_decision: is required"),
    (_set(automated_decision="AUTOMATED_DECISION_SOMETIMES"), "automated_decision: 'AUTOMATED_DECISION_SOMETIMES'"),
    (_drop("puid"), "puid: is required"),
    (_set(puid="has space"), "puid: may only contain"),
    (_set(puid="p" * 501), "puid: longer than 500"),
]


@pytest.mark.parametrize("mutate, message", VIOLATIONS, ids=[m for _, m in VIOLATIONS])
def test_validator_rejects_each_rule_violation(cfg, mutate, message):
    s = statement_for(_row(), cfg)
    assert validate_statement(s) == []
    bad = copy.deepcopy(s)
    mutate(bad)
    errors = validate_statement(bad)
    assert any(e.startswith(message) for e in errors), errors


def test_validator_accepts_optional_fields_when_well_formed(cfg):
    s = statement_for(_row(), cfg) | {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_OTHER"],
        "decision_visibility_other": "reduced in recommendations", "account_type": "ACCOUNT_TYPE_PRIVATE",
        "content_language": "ZH", "end_date_visibility_restriction": "2026-12-31",
        "decision_ground_reference_url": "https://example.com/guidelines#authentic",
        "category_addition": ["STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS"],
        "category_specification": ["KEYWORD_INAUTHENTIC_ACCOUNTS", "KEYWORD_OTHER"],
        "category_specification_other": "undeclared AI-managed account", "content_id": {"EAN-13": "4006381333931"}}
    assert validate_statement(s) == []


def _action_log(spark):
    rows = [_row("limit_reach", action_id="id-2", decided_at=datetime(2026, 10, 6, 3)),
            _row("label_suspected_ai", action_id="id-1", decided_at=datetime(2026, 10, 6, 3)),
            _row("suspend", "moderator", action_id="id-3", decided_at=datetime(2026, 10, 7, 9)),
            _row("clear", "moderator", action_id="id-4", decided_at=datetime(2026, 10, 7, 10)),
            _row("limit_reach", action_id="id-0", decided_at=datetime(2026, 10, 5, 23, 59))]
    return spark.createDataFrame(rows, ACTION_LOG), rows


def test_export_writes_valid_json_lines_since_date(spark, cfg, tmp_path):
    df, rows = _action_log(spark)
    out = tmp_path / "out" / "statements.jsonl"
    res = export_statements(df, "2026-10-06", out, cfg)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [s["puid"] for s in lines] == ["id-1", "id-2", "id-3"]      # time, then id; id-0 is before `since`
    assert (res.written, res.skipped) == (3, 1)                          # the clear needs no statement
    assert all(validate_statement(s) == [] for s in lines)
    assert lines == [statement_for(r, cfg) for r in sorted(rows[:3], key=lambda r: (r["decided_at"], r["action_id"]))]
    # plain rows (not a DataFrame) give the same file
    out2 = tmp_path / "plain.jsonl"
    export_statements(rows, "2026-10-06", out2, cfg)
    assert out2.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_export_refuses_invalid_statements_and_writes_nothing(spark, cfg, tmp_path):
    e = enforcement_config(cfg)
    bad = e.model_copy(update={"statements": e.statements.model_copy(update={"category": "STATEMENT_CATEGORY_BOTS"})})
    df, _ = _action_log(spark)
    out = tmp_path / "statements.jsonl"
    with pytest.raises(StatementExportError, match="3 invalid statement") as err:
        export_statements(df, "2026-10-06", out, bad)
    assert set(err.value.errors) == {"id-1", "id-2", "id-3"}
    assert err.value.errors["id-1"] == ["category: 'STATEMENT_CATEGORY_BOTS' is not an allowed value"]
    assert not out.exists() and list(tmp_path.iterdir()) == []
    dup = [_row(action_id="same"), _row("label_suspected_ai", action_id="same")]
    with pytest.raises(StatementExportError, match="not unique"):
        export_statements(dup, "2026-10-01", out, cfg)
    assert not out.exists()


def test_statements_frame_matches_driver_side_builder(spark, cfg):
    df, rows = _action_log(spark)
    got = {r.action_id: r for r in statements_frame(df, cfg).collect()}
    assert set(got) == {"id-0", "id-1", "id-2", "id-3"}
    for r in rows:
        if r["action"] == "clear":
            continue
        g = got[r["action_id"]]
        assert json.loads(g.statement) == statement_for(r, cfg)
        assert (g.valid, list(g.errors), g.puid, g.account_id) == (True, [], r["action_id"], SECRET_ACCOUNT)
        assert g.application_date == r["decided_at"].date()
