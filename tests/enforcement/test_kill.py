"""An enforce run killed (SIGKILL) between two table commits leaves only complete versions; retrying it
with the same run id completes the work exactly once. The job runs in its own process (own JVM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

from genuine.core.lake import Lake
from genuine.enforcement.config import enforcement_config
from genuine.jobs import enforce
from genuine.jobs.io import PAUSE_ENV
from tests.enforcement._pipeline import AUTO_ACTIONS, expected_actions, policy_oracle, read_table

pytestmark = pytest.mark.slow     # whole pipeline runs (a scored lake, real enforce jobs)

REPO = Path(__file__).resolve().parents[2]


def _sets(cfg) -> list[str]:
    sets = [f"lake.root={cfg.lake.root}", f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}",
            f"lake.engine={cfg.lake.engine}", f"privacy.key_file={cfg.privacy.key_file}",
            f"enforcement.breaker.floor={enforcement_config(cfg).breaker.floor}"]
    return [x for s in sets for x in ("--set", s)]


def test_killed_enforce_leaves_complete_versions_and_retry_completes_once(spark, lake_copy, tmp_path):
    cfg, inputs = lake_copy()
    scores = read_table(cfg, "scores")
    sid = scores.sort_values("scored_at").scoring_run_id.iloc[-1]
    oracle = policy_oracle(scores[scores.scoring_run_id == sid], inputs.accounts, cfg)
    run_id = "enforce-killed-once"
    lake = Lake(spark, cfg)
    txn = ("enforce", sid)

    out = tmp_path / "enforce.log"
    env = {**os.environ, PAUSE_ENV: "900", "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable}
    with out.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "genuine.jobs.enforce", "--env", "test", *_sets(cfg),
                                 "--run-id", run_id], cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)     # its own process group: the JVM child dies with it
        try:
            deadline = time.monotonic() + 900
            while not lake.already_committed("action_log", txn):
                assert proc.poll() is None, out.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "the job never committed the action log"
                time.sleep(1)
            time.sleep(1)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # The first table is complete (the exact rows of the run), the others are as the job created them: empty.
    want_actions = expected_actions(oracle)
    log_version = DeltaTable(cfg.table("action_log")).version()
    log = read_table(cfg, "action_log")
    pd.testing.assert_frame_equal(log[["action_id", "account_id", "action"]].sort_values("action_id")
                                  .reset_index(drop=True), want_actions)
    for table in ("statements", "review_queue", "account_status"):
        assert DeltaTable(cfg.table(table)).version() == 0 and len(read_table(cfg, table)) == 0, table
    runs = read_table(cfg, "runs")
    assert list(runs.status[runs.run_id == run_id]) == ["running"]      # visible as a run that never ended

    # Retry with the same run id: the committed table is skipped, the rest written once.
    retry = enforce.run(cfg, run_id=run_id, spark=spark)
    assert retry.versions["action_log"] is None and retry.skipped["action_log"] == "txn already committed"
    assert DeltaTable(cfg.table("action_log")).version() == log_version
    n_auto = int((oracle.outcome == "auto_action").sum())
    n_review = int((oracle.outcome == "review").sum())
    assert (retry.auto_accounts, retry.actions, retry.queued) == (n_auto, 2 * n_auto, n_review)
    sizes = {t: len(read_table(cfg, t)) for t in ("action_log", "statements", "review_queue", "account_status")}
    assert sizes == {"action_log": 2 * n_auto, "statements": 2 * n_auto, "review_queue": n_review,
                     "account_status": len(oracle)}
    assert set(read_table(cfg, "action_log").job_run_id) == {run_id}
    status = read_table(cfg, "account_status")
    assert {r.account_id: (r.status, sorted(r.active_actions)) for r in status.itertuples()} == {
        r.account_id: ("actioned", AUTO_ACTIONS) if r.outcome == "auto_action" else ("pending_review", [])
        for r in oracle.itertuples()}
    runs = read_table(cfg, "runs")
    assert list(runs.status[runs.run_id == run_id]) == ["succeeded"]

    versions = {t: DeltaTable(cfg.table(t)).version() for t in sizes}
    assert enforce.run(cfg, run_id=run_id, spark=spark).already_enforced
    assert {t: DeltaTable(cfg.table(t)).version() for t in sizes} == versions
