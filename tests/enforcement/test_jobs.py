"""jobs.enforce / review / appeal / export / audit end to end on a real scored lake (tests/enforcement/
_pipeline.py), checked against a pandas oracle of the policy; imports, export and audit through the CLI."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from deltalake import DeltaTable
from mlflow.tracking import MlflowClient
from pyspark.sql import functions as F
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.core.lake import Lake
from genuine.core.session import get_spark
from genuine.enforcement.audit import _num
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.statements import validate_statement
from genuine.jobs import enforce
from genuine.models.labels import latest_labels
from genuine.models.scoring import SCORES
from genuine.models.thresholds import Thresholds
from tests.enforcement._pipeline import (
    AS_OF,
    AUTO_ACTIONS,
    NAMES,
    coordination_oracle,
    expected_actions,
    expected_queue,
    policy_oracle,
    read_table,
)

pytestmark = pytest.mark.slow     # whole pipeline runs (a scored lake, real enforce jobs)

ENFORCEMENT_TABLES = ("action_log", "statements", "review_queue", "account_status")
CONFIRM = ["label_suspected_ai", "limit_reach", "suspend"]


def cli(cfg, *args: str):
    """Run `genuine ARGS` against cfg's lake and MLflow store (same settings the fixture used)."""
    sets = [f"lake.root={cfg.lake.root}", f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}",
            f"lake.engine={cfg.lake.engine}", f"privacy.key_file={cfg.privacy.key_file}",
            f"enforcement.breaker.floor={enforcement_config(cfg).breaker.floor}"]
    opts = ["--env", "test", *[x for s in sets for x in ("--set", s)]]
    return CliRunner().invoke(app, [*args, *opts], catch_exceptions=False)


def versions(cfg, tables=ENFORCEMENT_TABLES) -> dict[str, int | None]:
    return {t: (DeltaTable(cfg.table(t)).version() if DeltaTable.is_deltatable(cfg.table(t)) else None) for t in tables}


def auto_threshold(cfg, version: str) -> float:
    mv = MlflowClient(tracking_uri=cfg.mlflow.tracking_uri).get_model_version(cfg.mlflow.account_model, version)
    return Thresholds.from_tags(mv.tags).auto


def run_scores(cfg, sid: str) -> pd.DataFrame:
    s = read_table(cfg, "scores")
    return s[s.scoring_run_id == sid].reset_index(drop=True)


def ledger_row(cfg, run_id: str) -> dict:
    runs = read_table(cfg, "runs")
    row = runs[runs.run_id == run_id]
    assert len(row) == 1
    return row.iloc[0].to_dict()


@pytest.fixture(scope="module")
def oracle(pipeline):
    cfg, inputs, first = pipeline
    return policy_oracle(run_scores(cfg, first.scoring_run_id), inputs.accounts, cfg)


# --- enforce -------------------------------------------------------------------------------------------
def test_fixture_exercises_every_route(oracle):
    """Not a test of the job: a guard that the synthetic lake reaches every rule the job must apply."""
    assert {"auto_policy", "review_band", "account_unknown", "protection_unknown", "protected_verified",
            "protected_declared_ai", "insufficient_families"} <= set(oracle.route_reason)


def test_enforce_counts_and_actions_match_the_policy_oracle(pipeline, oracle, champion):
    cfg, inputs, first = pipeline
    n_auto = int((oracle.outcome == "auto_action").sum())
    n_review = int((oracle.outcome == "review").sum())
    assert (first.decisions, first.auto_accounts, first.queued, first.held) == (len(oracle), n_auto, n_review, 0)
    assert first.actions == 2 * n_auto and first.status_changes == len(oracle)

    log = read_table(cfg, "action_log")
    got = log[["action_id", "account_id", "action"]].sort_values("action_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected_actions(oracle))
    # Every action carries the score row and lineage it rests on.
    scores = run_scores(cfg, first.scoring_run_id).set_index("account_id")
    assert set(log.decision_source) == {"policy"} and set(log.decided_by) == {"auto"}
    assert set(log.job_run_id) == {first.run_id} and set(log.scoring_run_id) == {first.scoring_run_id}
    assert set(log.model_version) == {champion[1]} and set(log.feature_table_version) == {inputs.feature_version}
    assert list(log.score) == [scores.loc[a, "score"] for a in log.account_id]
    fams = oracle.set_index("account_id").supporting_families
    assert all(list(f) == fams[a] for a, f in zip(log.account_id, log.supporting_families, strict=True))

    status = read_table(cfg, "account_status")
    got_status = {r.account_id: (r.status, sorted(r.active_actions)) for r in status.itertuples()}
    want = {r.account_id: ("actioned", AUTO_ACTIONS) if r.outcome == "auto_action" else ("pending_review", [])
            for r in oracle.itertuples()}
    assert got_status == want


def test_review_queue_matches_oracle_with_reach_clusters_and_posts(pipeline, oracle, champion):
    cfg, inputs, first = pipeline
    ncfg = cfg.features["network"]["coordination"]
    comp = coordination_oracle(inputs.interactions, ncfg["window_seconds"], ncfg["min_co_actions"])
    want = expected_queue(oracle, inputs.features, inputs.posts, comp, cfg, auto_threshold(cfg, champion[1]))
    q = read_table(cfg, "review_queue").sort_values("queue_rank").reset_index(drop=True)
    got = pd.DataFrame({
        "queue_id": q.queue_id, "account_id": q.account_id, "queue_rank": q.queue_rank, "route_reason": q.route_reason,
        "held_by_breaker": q.held_by_breaker, "reach": q.reach, "cluster_id": q.cluster_id,
        "cluster_size": q.cluster_size, "cluster_members": [list(m) for m in q.cluster_members],
        "sample_post_ids": [[p["post_id"] for p in s] for s in q.sample_posts]})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # The fixture's protected accounts sit in a coordination cluster: the evidence is really exercised.
    assert got.cluster_id.notna().sum() >= 2


def test_statements_and_ledger_of_the_run(pipeline, oracle):
    cfg, inputs, first = pipeline
    st = read_table(cfg, "statements")
    log = read_table(cfg, "action_log")
    assert sorted(st.action_id) == sorted(log.action_id) and list(st.puid) == list(st.action_id)
    assert st.valid.all() and all(len(e) == 0 for e in st.errors)
    assert all(validate_statement(json.loads(s)) == [] for s in st.statement)

    row = ledger_row(cfg, first.run_id)
    assert row["status"] == "succeeded"
    inputs_read = dict(row["inputs"])
    # Evidence read at the versions the snapshot recorded, not the newest (a late batch was appended).
    assert inputs_read["raw_interactions"] == inputs.versions["raw_interactions"]
    assert inputs_read["raw_posts"] == inputs.versions["raw_posts"]
    assert inputs_read["features"] == inputs.feature_version
    counts = dict(row["row_counts"])
    assert counts["cluster_size_mismatches"] == 0
    assert counts["auto_accounts"] == first.auto_accounts and counts["queued"] == first.queued
    assert json.loads(row["params"])["scoring_run_id"] == first.scoring_run_id


def test_rerun_for_the_same_scoring_run_changes_nothing(pipeline, spark):
    cfg, _, first = pipeline
    before = versions(cfg)
    rows = {t: len(read_table(cfg, t)) for t in ENFORCEMENT_TABLES}
    again = enforce.run(cfg, scoring_run_id=first.scoring_run_id, spark=spark)
    assert again.already_enforced and again.versions == dict.fromkeys(again.versions)
    assert (again.auto_accounts, again.actions, again.queued) == (first.auto_accounts, first.actions, first.queued)
    assert versions(cfg) == before
    assert {t: len(read_table(cfg, t)) for t in ENFORCEMENT_TABLES} == rows
    res = cli(cfg, "enforce")                      # the CLI, default = latest scoring run: the same one
    assert res.exit_code == 0 and "already enforced" in res.output
    assert versions(cfg) == before


# --- review and appeal imports -------------------------------------------------------------------------
def _pick(oracle: pd.DataFrame, outcome: str, n: int, route: str | None = None) -> list[str]:
    df = oracle[(oracle.outcome == outcome) & ((oracle.route_reason == route) if route else True)]
    return sorted(df.account_id)[:n]


def test_review_then_appeal_imports_end_to_end(pipeline, oracle, tmp_path):
    cfg, inputs, first = pipeline
    p1, p2 = _pick(oracle, "review", 2, "review_band")
    a1, a2 = _pick(oracle, "auto_action", 2)
    review = tmp_path / "review.csv"
    review.write_text(
        "account_id,decision,moderator_id,note,decided_at\n"
        f"{p1},confirm,mod-1,bot farm,2030-01-02T09:00:00Z\n"
        f"{p2},clear,mod-2,,2030-01-02T09:05:00+08:00\n"
        f"{a1},clear,mod-1,human after all,2030-01-02T09:10:00Z\n"
        "ghost,confirm,mod-1,,2030-01-02T09:00:00Z\n"
        f"{p2},escalate,mod-1,,2030-01-02T09:00:00Z\n"
        f"{p1},confirm,mod-1,bot farm,2030-01-02T09:00:00Z\n", encoding="utf-8")
    log_before = len(read_table(cfg, "action_log"))
    res = cli(cfg, "review", "import", str(review))
    assert res.exit_code == 0, res.output
    assert "6 lines, 3 applied" in res.output

    q = read_table(cfg, "quarantine")
    got_rejects = sorted(zip(q.record_no, q.reason, strict=True))
    assert got_rejects == [(4, "unknown_account"), (5, "unknown_decision"), (6, "duplicate")]
    status = read_table(cfg, "account_status").set_index("account_id")
    assert (status.loc[p1, "status"], sorted(status.loc[p1, "active_actions"])) == ("confirmed", CONFIRM)
    assert (status.loc[p2, "status"], list(status.loc[p2, "active_actions"])) == ("cleared", [])
    assert (status.loc[a1, "status"], list(status.loc[a1, "active_actions"])) == ("cleared", [])
    log = read_table(cfg, "action_log")
    human = log[log.decision_source == "moderator"]
    assert len(log) == log_before + 5
    assert sorted(zip(human.account_id, human.action, human.decided_by, strict=True)) == sorted(
        [(p1, a, "mod-1") for a in CONFIRM] + [(p2, "clear", "mod-2"), (a1, "clear", "mod-1")])
    # The confirm rests on the queue entry's score row; the clear of a1 on the automatic action's.
    scores = run_scores(cfg, first.scoring_run_id).set_index("account_id")
    assert set(human.scoring_run_id) == {first.scoring_run_id}
    assert all(s == scores.loc[a, "score"] for a, s in zip(human.account_id, human.score, strict=True))
    st = read_table(cfg, "statements")
    assert sorted(st[st.account_id == p1].action) == sorted(CONFIRM)
    assert len(st) == first.actions + 3

    # Labels for the next training, where jobs/train.py reads them (raw_labels), newest label per account.
    spark = get_spark(cfg)
    latest = {r.account_id: (r.label, r.source) for r in
              latest_labels(Lake(spark, cfg).read("raw_labels")).collect()}
    assert latest == {p1: ("ai_managed", "moderator"), p2: ("human", "moderator"), a1: ("human", "moderator")}

    appeal = tmp_path / "appeal.jsonl"
    appeal.write_text("\n".join(json.dumps(d) for d in [
        {"account_id": p1, "outcome": "uphold", "moderator_id": "mod-9", "decided_at": "2030-01-05T10:00:00Z"},
        {"account_id": a2, "outcome": "restore", "moderator_id": "mod-9", "note": "appeal granted",
         "decided_at": "2030-01-05T11:00:00Z"},
        {"account_id": p2, "outcome": "restore", "moderator_id": "mod-9", "decided_at": "2030-01-05T11:00:00Z"},
        {"account_id": a2, "outcome": "uphold", "moderator_id": "mod-9", "decided_at": "yesterday"},
    ]) + "\n", encoding="utf-8")
    res = cli(cfg, "appeal", "import", str(appeal))
    assert res.exit_code == 0, res.output
    q = read_table(cfg, "quarantine")
    appeal_rejects = q[q.entity == "appeal_outcomes"]
    assert sorted(zip(appeal_rejects.record_no, appeal_rejects.reason, strict=True)) == [
        (3, "no_action_to_appeal"), (4, "bad_timestamp")]
    status = read_table(cfg, "account_status").set_index("account_id")
    assert (status.loc[p1, "status"], sorted(status.loc[p1, "active_actions"])) == ("upheld", CONFIRM)
    assert (status.loc[a2, "status"], list(status.loc[a2, "active_actions"])) == ("restored", [])
    log = read_table(cfg, "action_log")
    appeals = log[log.decision_source == "appeal"]
    assert sorted(zip(appeals.account_id, appeals.action, strict=True)) == [(p1, "uphold"), (a2, "restore")]
    latest = {r.account_id: (r.label, r.source) for r in
              latest_labels(Lake(spark, cfg).read("raw_labels")).collect()}
    assert latest[p1] == ("ai_managed", "appeal") and latest[a2] == ("human", "appeal")

    # Importing the same file again (a new run) changes nothing at all, rejects included.
    before = versions(cfg, ("decisions", "action_log", "statements", "raw_labels", "quarantine", "account_status"))
    res = cli(cfg, "review", "import", str(review))
    assert res.exit_code == 0 and "6 lines, 0 applied, 3 recorded without effect, 3 rejected" in res.output
    assert "not applied (already_imported): 3" in res.output
    assert versions(cfg, tuple(before)) == before


# --- export --------------------------------------------------------------------------------------------
def test_export_statements_cli_writes_validated_json_lines(pipeline, tmp_path):
    cfg, _, first = pipeline
    log = read_table(cfg, "action_log")
    decided = pd.to_datetime(log.decided_at, utc=True)
    since = decided[log.decision_source == "policy"].min().date()     # the enforce run's day (UTC)
    bearing = {"label_suspected_ai", "limit_reach", "suspend"}
    want = sorted(log.action_id[log.action.isin(bearing) & (decided >= pd.Timestamp(since, tz="UTC"))])
    assert len(want) >= first.actions       # at least today's automatic actions
    out = tmp_path / "dsa" / "statements.jsonl"
    res = cli(cfg, "export", "statements", "--since", since.isoformat(), "--out", str(out))
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(d["puid"] for d in lines) == want
    assert all(validate_statement(d) == [] for d in lines)
    # No personal data: no account id (a00000...), moderator id or note in any statement.
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"\ba\d{5}\b", text) and "mod-" not in text and "bot farm" not in text
    assert cli(cfg, "export", "statements", "--since", "not-a-date", "--out", str(out)).exit_code == 2


# --- audit ---------------------------------------------------------------------------------------------
def test_audit_explain_reads_feature_values_at_the_recorded_version(pipeline, oracle, champion, spark):
    cfg, inputs, first = pipeline
    acc = _pick(oracle, "auto_action", 3)[-1]
    lake = Lake(spark, cfg)
    # A later feature snapshot rewrite changes the account's values: explain must show the recorded ones.
    row = inputs.features.set_index("account_id").loc[acc]
    lake.merge("features", lake.read("features").where(F.col("account_id") == acc)
               .withColumn("template_reuse", F.lit(0.123456789)), keys=["account_id", "snapshot_date"])
    assert lake.version("features") > inputs.feature_version

    res = cli(cfg, "audit", "explain", acc)
    assert res.exit_code == 0, res.output
    out = res.output
    score = run_scores(cfg, first.scoring_run_id).set_index("account_id").loc[acc, "score"]
    log = read_table(cfg, "action_log")
    for action_id in log[log.account_id == acc].action_id:
        assert f"action_id={action_id}" in out
    assert "2. decision: auto_action (auto_policy)" in out
    assert f"score {_num(float(score))}  band auto" in out
    assert f"4. model: {cfg.mlflow.account_model} version {champion[1]}" in out
    assert f"account_features version {inputs.feature_version} (snapshot {AS_OF.date()}" in out
    for name in NAMES:
        value = row[name]
        shown = "null" if pd.isna(value) else _num(float(value) if name not in ("coord_degree", "reports_received")
                                                   else int(value))
        assert f"   {name} = {shown}" in out, name
    assert "(now 0.123457)" in out                # the value now, flagged next to the recorded one
    posts = inputs.posts[(inputs.posts.account_id == acc) & (inputs.posts.created_at <= AS_OF.replace(tzinfo=None))]
    for pid in posts.post_id:
        assert f"post {pid} " in out
    assert "_late" not in out
    assert cli(cfg, "audit", "explain", "nobody").exit_code == 1


def test_audit_replay_exit_status_untouched_then_tampered(pipeline, spark):
    cfg, _, first = pipeline
    sid = first.scoring_run_id
    res = cli(cfg, "audit", "replay", sid)
    assert res.exit_code == 0, res.output
    assert "160 of 160 scores match" in res.output and "REPLAY OK" in res.output

    lake = Lake(spark, cfg)
    victim = sorted(run_scores(cfg, sid).account_id)[7]
    keys = ["scoring_run_id", "account_id", "snapshot_date"]
    original = (lake.read("scores").where((F.col("scoring_run_id") == sid) & (F.col("account_id") == victim))
                .select(*SCORES.fieldNames()).localCheckpoint(eager=True))
    tampered = original.withColumn("score", F.col("score") * 0.5 + 0.25)
    lake.merge("scores", tampered.localCheckpoint(eager=True), keys=keys)
    try:
        res = cli(cfg, "audit", "replay", sid)
        assert res.exit_code == 1, res.output
        assert "159 of 160 scores match" in res.output
        assert f"MISMATCH {victim} " in res.output and "REPLAY FAILED" in res.output
    finally:
        lake.merge("scores", original, keys=keys)

