"""The run ledger records every run, including a failed one with its error."""

from __future__ import annotations

import pytest

from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from tests.oracles import read_delta_rs


def test_success_and_failure_are_recorded(spark, cfg_factory):
    lake = Lake(spark, cfg_factory())
    with RunLedger(lake, "demo-job", {"x": 1}, run_id="run-ok") as run:
        run.count("rows", 3)
        run.inputs["raw_accounts"] = 4
    with pytest.raises(RuntimeError, match="boom"):
        with RunLedger(lake, "demo-job", run_id="run-bad"):
            raise RuntimeError("boom")
    runs = read_delta_rs(lake.uri("runs")).set_index("run_id").sort_index()
    assert list(runs.index) == ["run-bad", "run-ok"]
    assert list(runs.status) == ["failed", "succeeded"]
    assert "RuntimeError: boom" in runs.loc["run-bad", "error"]
    assert runs.loc["run-ok", "error"] is None
    assert dict(runs.loc["run-ok", "row_counts"]) == {"rows": 3}
    assert dict(runs.loc["run-ok", "inputs"]) == {"raw_accounts": 4}
    assert runs.loc["run-ok", "params"] == '{"x": 1}'
    assert runs.loc["run-ok", "config_hash"] == lake.cfg.fingerprint()
    assert runs["ended_at"].notna().all()
