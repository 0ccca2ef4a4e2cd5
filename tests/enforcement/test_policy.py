from __future__ import annotations

import random
import shutil

import pandas as pd
import pytest
from pydantic import ValidationError

from genuine.core.errors import ConfigError
from genuine.enforcement.config import EnforcementConfig, enforcement_config
from genuine.enforcement.ids import stable_id_py
from genuine.enforcement.policy import action_log_from_policy, breaker_check, decide, status_from_policy
from tests.enforcement._data import (
    NOW,
    RUN,
    SNAP,
    account_row,
    accounts_df,
    reason,
    score_row,
    scores_df,
    status_df,
    status_row,
    with_breaker,
    with_policy,
)

AUTO = ["label_suspected_ai", "limit_reach"]


def _outcomes(decisions) -> dict[str, tuple]:
    return {r.account_id: (r.outcome, r.route_reason, list(r.actions))
            for r in decisions.select("account_id", "outcome", "route_reason", "actions").collect()}


# --- hand-made cases: one account per rule -----------------------------------------------------------
HIGH, LOW = 99.5, 90.0      # human_percentile is a 0-100 mid-rank (models/scoring.py)


def test_each_rule_routes_as_specified(spark, cfg):
    e = with_breaker(cfg, floor=1000)
    rows = [
        score_row("two_fams", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("one_fam_three_reasons", 0.99, "auto",
                  [reason("behaviour", HIGH, "a"), reason("behaviour", HIGH, "b"), reason("behaviour", HIGH, "c")]),
        score_row("second_fam_weak", 0.99, "auto", [reason("behaviour", HIGH), reason("content", LOW)]),
        score_row("unlisted_family", 0.99, "auto", [reason("behaviour", HIGH), reason("astrology", HIGH)]),
        score_row("at_support_level", 0.99, "auto", [reason("network", 99.0), reason("reports", 99.0)]),
        score_row("lower_tail", 0.99, "auto", [reason("behaviour", 0.5), reason("content", HIGH)]),
        score_row("lower_not_enough", 0.99, "auto", [reason("behaviour", 1.5), reason("content", HIGH)]),
        score_row("null_percentile", 0.99, "auto", [reason("behaviour", None), reason("content", HIGH)]),
        score_row("verified", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("declared_ai", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("protection_null", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("not_in_accounts", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("review_band", 0.8, "review", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("none_band", 0.1, "none", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("no_reasons", 0.99, "auto", None),
        score_row("was_cleared", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("was_confirmed", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("was_actioned", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
        score_row("half_actioned", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)]),
    ]
    ids = [r[0] for r in rows if r[0] != "not_in_accounts"]
    accs = [account_row(a, verified=(a == "verified"), declared=(a == "declared_ai")) for a in ids
            if a != "protection_null"] + [account_row("protection_null", verified=False, declared=None)]
    status = [status_row("was_cleared", "cleared", [], source="moderator"),
              status_row("was_confirmed", "confirmed", AUTO + ["suspend"], source="moderator"),
              status_row("was_actioned", "actioned", AUTO),
              status_row("half_actioned", "actioned", ["label_suspected_ai"])]
    decisions, breaker = decide(scores_df(spark, rows), accounts_df(spark, accs), [], e,
                                status_df(spark, status))
    assert not breaker.tripped
    expected = {
        "two_fams": ("auto_action", "auto_policy", AUTO),
        "one_fam_three_reasons": ("review", "insufficient_families", []),
        "second_fam_weak": ("review", "insufficient_families", []),
        "unlisted_family": ("review", "insufficient_families", []),
        "at_support_level": ("auto_action", "auto_policy", AUTO),
        "lower_tail": ("auto_action", "auto_policy", AUTO),
        "lower_not_enough": ("review", "insufficient_families", []),
        "null_percentile": ("review", "insufficient_families", []),
        "verified": ("review", "protected_verified", []),
        "declared_ai": ("review", "protected_declared_ai", []),
        "protection_null": ("review", "protection_unknown", []),
        "not_in_accounts": ("review", "account_unknown", []),
        "review_band": ("review", "review_band", []),
        "no_reasons": ("review", "insufficient_families", []),
        "was_cleared": ("no_change", "human_cleared", []),
        "was_confirmed": ("no_change", "already_confirmed", []),
        "was_actioned": ("no_change", "already_actioned", []),
        "half_actioned": ("auto_action", "auto_policy", ["limit_reach"]),
    }
    assert _outcomes(decisions) == expected
    fams = {r.account_id: list(r.supporting_families) for r in decisions.collect()}
    assert fams["unlisted_family"] == ["behaviour"]
    assert fams["second_fam_weak"] == ["behaviour"]
    assert fams["no_reasons"] == []


def test_requeue_cleared_sends_cleared_accounts_to_review_never_auto(spark, cfg):
    e = with_policy(with_breaker(cfg, floor=1000), requeue_cleared=True)
    rows = [score_row("c", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)])]
    decisions, _ = decide(scores_df(spark, rows), accounts_df(spark, [account_row("c")]), [], e,
                          status_df(spark, [status_row("c", "restored", [], source="appeal")]))
    assert _outcomes(decisions) == {"c": ("review", "human_cleared", [])}


# --- the spec as an independent pure-Python oracle, on random inputs --------------------------------
def _oracle(rows, accounts, status, e: EnforcementConfig, tripped: bool) -> dict[str, tuple]:
    pol = e.policy
    out = {}
    for (acc, _snap, _score, band, *_rest) in rows:
        reasons = _rest[5] or []
        if band not in ("review", "auto"):
            continue
        prior, active = status.get(acc, ("none", []))
        fams = {r[0] for r in reasons
                if r[3] is not None and max(r[3], 100 - r[3]) >= pol.support_percentile and r[0] in pol.families}
        proposed = [a for a in pol.auto_actions if a not in active and a not in pol.moderator_only_actions]
        known = acc in accounts
        verified, declared = accounts.get(acc, (None, None))
        if prior in ("confirmed", "upheld"):
            res = ("no_change", "already_confirmed")
        elif prior in ("cleared", "restored") and not pol.requeue_cleared:
            res = ("no_change", "human_cleared")
        elif band == "review":
            res = ("review", "review_band")
        elif not known:
            res = ("review", "account_unknown")
        elif verified is None or declared is None:
            res = ("review", "protection_unknown")
        elif verified:
            res = ("review", "protected_verified")
        elif declared:
            res = ("review", "protected_declared_ai")
        elif prior in ("cleared", "restored"):
            res = ("review", "human_cleared")
        elif len(fams) < pol.min_support_families:
            res = ("review", "insufficient_families")
        elif not proposed:
            res = ("no_change", "already_actioned")
        else:
            res = ("auto_action", "auto_policy")
        actions = proposed if res[0] == "auto_action" else []
        if res[0] == "auto_action" and tripped:
            res, actions = ("review", "breaker_hold"), []
        out[acc] = (*res, actions)
    return out


def test_random_accounts_match_oracle_and_never_suspend(spark, cfg):
    rnd = random.Random(7)
    e = with_breaker(cfg, floor=0, ratio=1.0, min_history_runs=1)
    fams = ["behaviour", "content", "network", "reports", "other"]
    rows, accounts, status = [], {}, {}
    for i in range(200):
        acc = f"a{i:03d}"
        reasons = [reason(rnd.choice(fams), rnd.choice([50.0, 98.0, 99.0, 99.5, 0.5, 1.0, 1.5, None]), f"f{j}")
                   for j in range(rnd.randint(0, 5))]
        rows.append(score_row(acc, rnd.random(), rnd.choice(["none", "review", "auto", "auto"]), reasons))
        if rnd.random() < 0.95:
            accounts[acc] = (rnd.choice([False] * 10 + [True, None]), rnd.choice([False] * 10 + [True, None]))
        st = rnd.choice(["none"] * 8 + ["pending_review", "actioned", "confirmed", "cleared", "upheld", "restored"])
        if st != "none":
            active = {"actioned": rnd.choice([AUTO, ["label_suspected_ai"]]), "confirmed": AUTO + ["suspend"],
                      "upheld": AUTO}.get(st, [])
            status[acc] = (st, active)
    acc_rows = [account_row(a, v, d) for a, (v, d) in accounts.items()]
    st_rows = [status_row(a, s, act) for a, (s, act) in status.items()]
    free = _oracle(rows, accounts, status, e, tripped=False)
    n_auto = sum(1 for v in free.values() if v[0] == "auto_action")
    assert 5 < n_auto < 100, "the random mix should exercise automatic actions"
    for history, tripped in (([n_auto] * 3, False), ([n_auto - 1] * 3, True)):
        decisions, breaker = decide(scores_df(spark, rows), accounts_df(spark, acc_rows), history, e,
                                    status_df(spark, st_rows))
        assert breaker.tripped is tripped and breaker.would_act == n_auto
        got = _outcomes(decisions)
        assert got == _oracle(rows, accounts, status, e, tripped)
        assert all("suspend" not in v[2] for v in got.values())


# --- suspension needs a moderator, whatever the config says --------------------------------------
def test_config_refuses_automatic_suspension(cfg, cfg_factory):
    raw = enforcement_config(cfg).model_dump()
    raw["policy"]["band_actions"]["auto"] = ["label_suspected_ai", "suspend"]
    with pytest.raises(ValidationError, match="need a moderator"):
        EnforcementConfig.model_validate(raw)
    with pytest.raises(ConfigError, match="need a moderator"):
        enforcement_config(cfg_factory("enforcement.policy.band_actions.auto=[suspend]"))
    with pytest.raises(ConfigError, match="only the auto band"):
        enforcement_config(cfg_factory("enforcement.policy.band_actions.review=[limit_reach]"))


# --- circuit breaker ------------------------------------------------------------------------------
@pytest.mark.parametrize("would, history, floor, lookback, tripped", [
    (30, [10, 10, 10], 0, 7, False),           # exactly ratio x median: allowed
    (31, [10, 10, 10], 0, 7, True),            # one more: held
    (31, [10, 10, 1000, 10, 10], 0, 7, True),  # median, not mean: one huge run does not widen the limit
    (50, [1, 1, 1], 50, 7, False),             # the floor protects small platforms
    (51, [1, 1, 1], 50, 7, True),
    (50, [100, 100], 50, 7, False),            # too little history: the floor alone
    (51, [100, 100], 50, 7, True),
    (30, [99, 99, 99, 10, 10, 10], 0, 3, False),  # only the last `lookback` runs count
    (31, [99, 99, 99, 10, 10, 10], 0, 3, True),
])
def test_breaker_boundary(cfg, would, history, floor, lookback, tripped):
    b = with_breaker(cfg, ratio=3.0, floor=floor, min_history_runs=3, lookback_runs=lookback).breaker
    state = breaker_check(would, history, b)
    assert state.tripped is tripped, state.reason
    assert state.would_act == would


def test_breaker_mean_statistic_and_disabled(cfg):
    b = with_breaker(cfg, ratio=2.0, floor=0, min_history_runs=2, statistic="mean").breaker
    assert breaker_check(40, [10, 30], b).tripped is False      # 2 x mean 20 = 40
    assert breaker_check(41, [10, 30], b).tripped is True
    off = with_breaker(cfg, ratio=2.0, floor=0, min_history_runs=2, enabled=False).breaker
    assert breaker_check(10_000, [1, 1], off).tripped is False


def _eligible(n: int) -> list[tuple]:
    return [score_row(f"e{i}", 0.99, "auto", [reason("behaviour", HIGH), reason("network", HIGH)])
            for i in range(n)]


def test_breaker_holds_every_automatic_action_and_still_fills_review(spark, cfg):
    e = with_breaker(cfg, ratio=1.5, floor=0, min_history_runs=3)
    history = [2, 2, 2]                      # limit = 1.5 x 2 = 3
    protected = score_row("v", 0.99, "auto", [reason("behaviour", HIGH), reason("content", HIGH)])
    for n, tripped in ((3, False), (4, True)):
        rows = _eligible(n) + [protected]
        accs = [account_row(r[0]) for r in rows[:-1]] + [account_row("v", verified=True)]
        decisions, breaker = decide(scores_df(spark, rows), accounts_df(spark, accs), history, e)
        assert breaker.tripped is tripped
        assert breaker.limit == 3.0 and breaker.baseline == 2.0 and breaker.history == (2, 2, 2)
        got = {r.account_id: r for r in decisions.collect()}
        assert got["v"].route_reason == "protected_verified" and not got["v"].held_by_breaker
        for i in range(n):
            r = got[f"e{i}"]
            if tripped:
                assert (r.outcome, r.route_reason, r.actions, r.held_by_breaker) == \
                    ("review", "breaker_hold", [], True)
                assert r.hold_reason == breaker.reason and "held all automatic actions" in r.hold_reason
                assert r.proposed_actions == AUTO
            else:
                assert (r.outcome, r.actions, r.held_by_breaker, r.hold_reason) == ("auto_action", AUTO, False, None)
        log = action_log_from_policy(decisions, "job-1", NOW)
        assert log.count() == (0 if tripped else 2 * n)
        status = {r.account_id: r.status for r in status_from_policy(decisions, "job-1", NOW).collect()}
        expect = {f"e{i}": ("pending_review" if tripped else "actioned") for i in range(n)} | {"v": "pending_review"}
        assert status == expect


# --- action log and status rows ---------------------------------------------------------------------
def test_action_log_rows_and_ids_are_content_hashes(spark, cfg):
    e = with_breaker(cfg, floor=1000)
    rows = [score_row("x", 0.97, "auto", [reason("content", HIGH, "dup_text"), reason("reports", HIGH, "rep")]),
            score_row("y", 0.8, "review", [reason("content", HIGH)])]
    decisions, _ = decide(scores_df(spark, rows), accounts_df(spark, [account_row("x"), account_row("y")]), [], e)
    log1 = action_log_from_policy(decisions, "job-1", NOW).toPandas()
    log2 = action_log_from_policy(decisions, "job-2-retry", NOW).toPandas()
    assert sorted(log1.action_id) == sorted(log2.action_id)
    expected = pd.DataFrame({
        "action_id": [stable_id_py(["policy", RUN, "x", SNAP.isoformat(), a]) for a in AUTO],
        "account_id": ["x", "x"], "action": AUTO, "decision_source": ["policy"] * 2, "decided_by": ["auto"] * 2,
        "decision_ref": [RUN] * 2, "route_reason": ["auto_policy"] * 2, "scoring_run_id": [RUN] * 2,
        "model_version": ["3"] * 2, "feature_table_version": [7, 7], "job_run_id": ["job-1"] * 2,
    })
    got = log1[expected.columns].sort_values("action").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert [list(c) for c in log1.reason_codes] == [["content.dup_text", "reports.rep"]] * 2
    assert [list(f) for f in log1.supporting_families] == [["content", "reports"]] * 2


def test_status_from_policy_keeps_restricted_and_pending_accounts(spark, cfg):
    e = with_breaker(cfg, floor=1000)
    two = [reason("behaviour", HIGH), reason("content", HIGH)]
    rows = [score_row("new_auto", 0.99, "auto", two), score_row("add_limit", 0.99, "auto", two),
            score_row("new_review", 0.8, "review", two), score_row("pending", 0.8, "review", two),
            score_row("restricted_now_review", 0.8, "review", two)]
    accs = [account_row(r[0]) for r in rows]
    status = [status_row("add_limit", "actioned", ["label_suspected_ai"]),
              status_row("pending", "pending_review", []),
              status_row("restricted_now_review", "actioned", AUTO)]
    decisions, _ = decide(scores_df(spark, rows), accounts_df(spark, accs), [], e, status_df(spark, status))
    got = status_from_policy(decisions, "job-9", NOW).toPandas().sort_values("account_id").reset_index(drop=True)
    assert list(got.account_id) == ["add_limit", "new_auto", "new_review"]
    assert list(got.status) == ["actioned", "actioned", "pending_review"]
    assert [list(a) for a in got.active_actions] == [AUTO, AUTO, []]
    assert list(got.last_action) == ["limit_reach", "limit_reach", "queued_for_review"]
    assert got.last_action_id[0] == stable_id_py(["policy", RUN, "add_limit", SNAP.isoformat(), "limit_reach"])
    assert got.last_action_id[2] is None
    assert set(got.updated_by_run) == {"job-9"} and set(got.last_decision_ref) == {RUN}


def test_decisions_are_a_snapshot_whatever_the_job_writes_first(spark, cfg, tmp_path):
    """The job may upsert account_status (an input of decide) before writing the action log: the action
    log must still hold the actions decided from the status as it was."""
    e = with_breaker(cfg, floor=1000)
    rows = _eligible(3)
    accs = accounts_df(spark, [account_row(r[0]) for r in rows])
    path = str(tmp_path / "status")
    status_df(spark, [status_row("e0", "pending_review", [])]).write.parquet(path)
    decisions, _ = decide(scores_df(spark, rows), accs, [], e, spark.read.parquet(path))
    # the job applies this run's status first, replacing the files decide read
    status_from_policy(decisions, "job-1", NOW).write.mode("overwrite").parquet(path + "_new")
    shutil.rmtree(path)
    shutil.copytree(path + "_new", path)
    assert action_log_from_policy(decisions, "job-1", NOW).count() == 6
    assert {r.prior_status for r in decisions.collect()} == {"pending_review", "none"}
