"""Two enforce runs racing on the same tables lose no update; the breaker then holds a surge, counting the
history from the action log."""

from __future__ import annotations

import logging
import threading

import pandas as pd
import pytest

from genuine.core.lake import Lake
from genuine.core.lake.deltars import DeltaRsEngine
from genuine.enforcement.inputs import breaker_history
from genuine.jobs import enforce
from tests.enforcement._pipeline import (
    AUTO_ACTIONS,
    expected_actions,
    policy_oracle,
    read_table,
    split_scoring_run,
)

pytestmark = pytest.mark.slow     # whole pipeline runs (a scored lake, real enforce jobs)

def _latest_run(cfg) -> str:
    s = read_table(cfg, "scores")
    return s.sort_values("scored_at").scoring_run_id.iloc[-1]


def test_racing_runs_both_land_then_breaker_holds_a_surge(spark, lake_copy, lake_cfg, monkeypatch, caplog):
    cfg, inputs = lake_copy()
    src = _latest_run(cfg)
    ids = sorted(read_table(cfg, "scores").account_id)
    parts = {"race-A": ids[0::3], "race-B": ids[1::3], "surge-C": ids[2::3]}
    split_scoring_run(spark, cfg, src, parts)
    scores = read_table(cfg, "scores")
    oracles = {sid: policy_oracle(scores[scores.scoring_run_id == sid], inputs.accounts, cfg) for sid in parts}
    n_auto = {sid: int((o.outcome == "auto_action").sum()) for sid, o in oracles.items()}
    assert min(n_auto.values()) > 0

    # Make the race certain: each racing thread, having written its account_status files against the
    # snapshot it read, waits for the other before committing. Both commit against the same snapshot; the
    # lake must detect the conflict and redo the loser's merge on the new snapshot.
    status_uri = cfg.table("account_status")
    barrier = threading.Barrier(2, timeout=600)
    racing = threading.local()
    original = DeltaRsEngine._write_files

    def write_files_then_meet(self, uri, df, *args, **kwargs):
        out = original(self, uri, df, *args, **kwargs)
        if uri == status_uri and getattr(racing, "first", False):
            racing.first = False
            barrier.wait()
        return out

    monkeypatch.setattr(DeltaRsEngine, "_write_files", write_files_then_meet)
    caplog.set_level(logging.WARNING, logger="genuine.core.lake.deltars")
    results: dict[str, object] = {}

    def go(sid: str) -> None:
        racing.first = True
        try:
            results[sid] = enforce.run(cfg, scoring_run_id=sid, spark=spark)
        except BaseException as exc:     # reported below, with the other thread's outcome
            results[sid] = exc
            barrier.abort()

    threads = [threading.Thread(target=go, args=(sid,)) for sid in ("race-A", "race-B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(isinstance(r, BaseException) for r in results.values()), results
    assert {sid: r.auto_accounts for sid, r in results.items()} == {s: n_auto[s] for s in ("race-A", "race-B")}
    races = [r for r in caplog.records if "lost a commit race" in r.getMessage() and status_uri in r.getMessage()]
    assert len(races) == 1

    both = pd.concat([oracles["race-A"], oracles["race-B"]], ignore_index=True)
    log = read_table(cfg, "action_log")
    pd.testing.assert_frame_equal(log[["action_id", "account_id", "action"]].sort_values("action_id")
                                  .reset_index(drop=True), expected_actions(both))
    status = read_table(cfg, "account_status")
    assert {r.account_id: (r.status, sorted(r.active_actions)) for r in status.itertuples()} == {
        r.account_id: ("actioned", AUTO_ACTIONS) if r.outcome == "auto_action" else ("pending_review", [])
        for r in both.itertuples()}
    queue = read_table(cfg, "review_queue")
    assert sorted(zip(queue.scoring_run_id, queue.account_id, strict=True)) == sorted(
        zip(both.scoring_run_id[both.outcome == "review"], both.account_id[both.outcome == "review"], strict=True))
    assert sorted(read_table(cfg, "statements").action_id) == sorted(log.action_id)

    # The breaker: the next run acts on n_C accounts, its limit is ratio x median(n_A, n_B) from the action
    # log, with the ratio set so that the limit falls just below n_C.
    median = (n_auto["race-A"] + n_auto["race-B"]) / 2
    ratio = (n_auto["surge-C"] - 0.5) / median
    surge_cfg = lake_cfg("enforcement.breaker.floor=0", "enforcement.breaker.min_history_runs=2",
                         f"enforcement.breaker.ratio={ratio!r}", root=cfg.lake.root)
    surge = enforce.run(surge_cfg, scoring_run_id="surge-C", spark=spark)
    assert surge.breaker["tripped"] and surge.breaker["would_act"] == n_auto["surge-C"]
    assert sorted(surge.breaker["history"]) == sorted([n_auto["race-A"], n_auto["race-B"]])
    assert surge.breaker["limit"] == ratio * median
    assert (surge.auto_accounts, surge.actions, surge.held) == (0, 0, n_auto["surge-C"])
    want = policy_oracle(scores[scores.scoring_run_id == "surge-C"], inputs.accounts, surge_cfg,
                         history=[n_auto["race-A"], n_auto["race-B"]])
    assert want.attrs["tripped"]
    queue = read_table(cfg, "review_queue")
    got = queue[queue.scoring_run_id == "surge-C"].set_index("account_id").sort_index()
    want = want[want.outcome == "review"].set_index("account_id").sort_index()
    assert list(got.index) == list(want.index)
    assert list(got.route_reason) == list(want.route_reason) and list(got.held_by_breaker) == list(want.held_by_breaker)
    assert all(r == surge.breaker["reason"] for r in got.hold_reason[got.held_by_breaker])
    assert len(read_table(cfg, "action_log")) == len(log)          # nothing acted on
    # A held run is left out of the next run's history (it would teach the breaker to accept the surge).
    lake = Lake(spark, cfg)
    hist = breaker_history(lake.read("action_log"), lake.read("review_queue"), exclude_scoring_run="next",
                           lookback=7)
    assert sorted(hist) == sorted([n_auto["race-A"], n_auto["race-B"]])
