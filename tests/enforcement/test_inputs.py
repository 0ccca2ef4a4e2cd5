"""The enforce job's input transforms and the replay comparison, on hand-made frames."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from genuine.core.errors import NoScoringRun
from genuine.core.schemas import ACTION_LOG, REVIEW_QUEUE
from genuine.enforcement.audit import compare_scores
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.inputs import (
    breaker_history,
    latest_scoring_run,
    reach_from_features,
    scoring_run_info,
)
from tests.enforcement._data import SNAP, reason, score_row, scores_df


def _action(spark_row_id: str, run: str, account: str, source: str, at: datetime) -> dict:
    return {"action_id": spark_row_id, "account_id": account, "action": "label_suspected_ai",
            "decision_source": source, "scoring_run_id": run, "decided_at": at}


def _queue(qid: str, run: str, account: str, held: bool, at: datetime) -> dict:
    return {"queue_id": qid, "scoring_run_id": run, "account_id": account, "held_by_breaker": held, "enqueued_at": at}


def _frame(spark, rows: list[dict], schema):
    full = [{f.name: r.get(f.name) for f in schema.fields} for r in rows]
    return spark.createDataFrame(full, schema)


def test_breaker_history_counts_accounts_per_run_oldest_first_without_held_or_current_runs(spark):
    d = lambda day, h=0: datetime(2026, 10, day, h)  # noqa: E731
    actions = [
        # r1: 3 accounts (4 rows: one account has two actions)
        _action("1", "r1", "a", "policy", d(1)), _action("2", "r1", "a", "policy", d(1)),
        _action("3", "r1", "b", "policy", d(1)), _action("4", "r1", "c", "policy", d(1)),
        # r4: 2 accounts; a moderator action that carries r4's score row does not count
        _action("5", "r4", "d", "policy", d(4)), _action("6", "r4", "e", "policy", d(4)),
        _action("7", "r4", "f", "moderator", d(5)),
        # r5 is the run being enforced (a retry that already logged its actions): left out
        _action("8", "r5", "g", "policy", d(6)),
    ]
    queue = [
        _queue("q1", "r1", "x", False, d(1)),
        _queue("q2", "r2", "y", False, d(2)),        # r2 queued only: a run that acted on 0 accounts
        _queue("q3", "r3", "z", True, d(3)),         # r3 was held by the breaker: left out
        _queue("q4", "r3", "w", False, d(3)),
        _queue("q5", "r0", "v", False, d(1, 0)),     # r0: earliest run, queued only
    ]
    al, rq = _frame(spark, actions, ACTION_LOG), _frame(spark, queue, REVIEW_QUEUE)
    assert breaker_history(al, rq, exclude_scoring_run="r5", lookback=7) == [0, 3, 0, 2]
    assert breaker_history(al, rq, exclude_scoring_run="r5", lookback=2) == [0, 2]
    assert breaker_history(al, rq, exclude_scoring_run="r1", lookback=7) == [0, 0, 2, 1]
    empty = breaker_history(al.limit(0), rq.limit(0), exclude_scoring_run="r5", lookback=7)
    assert empty == []


def test_latest_scoring_run_and_its_lineage(spark):
    rows = [score_row("a", 0.9, "auto", [reason("behaviour", 99.5)], run="run-1"),
            score_row("b", 0.2, "none", [], run="run-1")]
    later = score_row("c", 0.5, "review", [], run="run-2")
    later = (*later[:10], datetime(2026, 10, 7))         # scored a day later
    df = scores_df(spark, [*rows, later])
    assert latest_scoring_run(df) == "run-2"
    info = scoring_run_info(df.where("scoring_run_id = 'run-1'"), "run-1")
    assert (info.rows, info.snapshot_dates, info.model_name, info.model_version, info.feature_table_version) == (
        2, (SNAP,), "genuine-account-model", "3", 7)
    with pytest.raises(NoScoringRun):
        scoring_run_info(df.where("scoring_run_id = 'nope'"), "nope")
    with pytest.raises(NoScoringRun):
        latest_scoring_run(df.limit(0))
    mixed = scores_df(spark, [rows[0], (*rows[1][:5], "4", *rows[1][6:])])
    with pytest.raises(ValueError, match="mixes models"):
        scoring_run_info(mixed, "run-1")


def test_reach_from_features_and_missing_column(spark, cfg):
    icfg = enforcement_config(cfg).inputs
    feats = spark.createDataFrame([("a", 10), ("b", None)], "account_id string, follow_in_degree long")
    assert sorted(reach_from_features(feats, icfg).collect()) == [("a", 10), ("b", None)]
    no_reach = spark.createDataFrame([("a",)], "account_id string")
    assert reach_from_features(no_reach, icfg).collect() == [("a", None)]


def test_compare_scores_flags_each_kind_of_mismatch(spark):
    r = lambda fam: [reason(fam, 99.5)]  # noqa: E731

    def rows(*specs):
        return scores_df(spark, [score_row(a, s, b, rs) for a, s, b, rs in specs])

    recorded = rows(("same", 0.9, "auto", r("behaviour")), ("tiny", 0.5, "review", []),
                    ("off", 0.5, "review", []), ("band", 0.5, "review", []), ("why", 0.9, "auto", r("content")),
                    ("gone", 0.3, "none", []), ("twice", 0.3, "none", []), ("twice", 0.3, "none", []))
    replayed = rows(("same", 0.9, "auto", r("behaviour")), ("tiny", 0.5 + 1e-12, "review", []),
                    ("off", 0.51, "review", []), ("band", 0.5, "auto", []), ("why", 0.9, "auto", r("network")),
                    ("twice", 0.3, "none", []), ("new", 0.1, "none", []))
    got = {x.account_id: (x.match, x.problem) for x in compare_scores(recorded, replayed, 1e-9).collect()}
    assert got == {
        "same": (True, None), "tiny": (True, None),
        "off": (False, "score differs by 0.010000000000"), "band": (False, "band differs"),
        "why": (False, "reason codes differ"),
        "gone": (False, "not re-scored (no feature row at the recorded version)"),
        "new": (False, "not in the recorded run"), "twice": (False, "recorded 2 times"),
    }
    assert all(x.snapshot_date == date(2026, 10, 5) for x in compare_scores(recorded, replayed, 0.0).collect())
