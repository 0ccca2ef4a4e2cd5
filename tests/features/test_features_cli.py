"""`genuine features` end to end on a tiny simulated export: one row per account, lineage, no duplicates
on a retry (same run id) or a re-run (same inputs, new run id), and the separation report."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.core.schemas import RAW_TABLE
from genuine.features.catalog import FEATURE_NAMES
from tests.oracles import read_delta_rs

runner = CliRunner()


def _cli(tiny, *args: str):
    sets = [x for o in tiny.overrides for x in ("--set", o)]
    result = runner.invoke(app, ["features", *args, "--env", "test", *sets], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_features_cli_one_row_per_account_and_idempotent(tiny_lake):
    cfg = tiny_lake.cfg
    uri = cfg.table("features")
    accounts = read_delta_rs(cfg.table("raw_accounts"))
    posts = read_delta_rs(cfg.table("raw_posts"))
    inter = read_delta_rs(cfg.table("raw_interactions"))
    day = max(posts.created_at.max(), inter.created_at.max()).date()
    as_of = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(microseconds=1)
    expected_ids = set(accounts.account_id[accounts.created_at.isna() | (accounts.created_at <= as_of)])
    raw_versions = {RAW_TABLE[e]: DeltaTable(cfg.table(RAW_TABLE[e])).version() for e in RAW_TABLE}

    out = _cli(tiny_lake, "--truth", str(tiny_lake.truth), "--run-id", "feat-r1")
    v1 = DeltaTable(uri).version()
    snap = read_delta_rs(uri)
    assert len(snap) == len(expected_ids) == len(accounts)
    assert set(snap.account_id) == expected_ids and snap.account_id.is_unique
    assert set(snap.snapshot_date) == {day}
    assert set(snap.as_of) == {pd.Timestamp(as_of)}
    assert set(snap.run_id) == {"feat-r1"}
    assert all(dict(v) == raw_versions for v in snap.input_versions)
    assert list(snap.columns[3:-2]) == FEATURE_NAMES
    # counts are never null; the AI-text features are null without a registered detector (by design)
    assert snap[["events_total", "text_posts", "reports_received"]].notna().all().all()
    assert snap[["ai_text_p_mean", "ai_text_high_share"]].isna().all().all()

    report = tiny_lake.root / "reports" / day.isoformat()
    assert f"separation report: {report / 'separation.md'}" in " ".join(out.split())
    assert (report / "separation.md").read_text(encoding="utf-8").startswith("# Feature separation")
    assert {p.name for p in report.glob("*.png")} == {"separation_ai.png", "separation_unusual_human.png"}

    # retry of the same run: nothing written, same table version, same rows
    out = _cli(tiny_lake, "--run-id", "feat-r1")
    assert "nothing written" in out
    assert DeltaTable(uri).version() == v1
    pd.testing.assert_frame_equal(read_delta_rs(uri).sort_values("account_id").reset_index(drop=True),
                                  snap.sort_values("account_id").reset_index(drop=True))

    # re-run on the same inputs with a new run id (date given explicitly), with features.incremental
    # (behaviour, content and network's pairs from the per-day state tables): the snapshot is replaced by
    # one with the same features
    _cli(tiny_lake, "--as-of", day.isoformat(), "--run-id", "feat-r2", "--set", "features.incremental=true")
    assert DeltaTable(uri).version() == v1 + 1
    again = read_delta_rs(uri)
    assert len(again) == len(accounts) and again.account_id.is_unique
    assert set(again.run_id) == {"feat-r2"}
    features = ["account_id", *FEATURE_NAMES]
    pd.testing.assert_frame_equal(again[features].sort_values("account_id").reset_index(drop=True),
                                  snap[features].sort_values("account_id").reset_index(drop=True),
                                  check_exact=False, rtol=1e-9)

    runs = read_delta_rs(cfg.table("runs"))
    ok = runs[runs.job == "features"].set_index("run_id")
    assert ok.loc["feat-r1", "status"] == "succeeded" and ok.loc["feat-r2", "status"] == "succeeded"
    assert dict(ok.loc["feat-r2", "inputs"]) == raw_versions
    days = set(pd.concat([posts.created_at, inter.created_at]).dt.date)
    assert set(read_delta_rs(cfg.table("behaviour_partials")).event_date) == days
    assert set(read_delta_rs(cfg.table("behaviour_totals")).event_date) == {day}
    assert {"behaviour_partials", "behaviour_replies", "behaviour_days", "behaviour_totals", "content_docs", "content_texts",
            "content_days", "network_pairs", "network_days", "change_sessions", "change_events", "change_days",
            "features"} <= set(dict(ok.loc["feat-r2", "outputs"]))
    # network: each day's actions of the coordination kinds, as counted here by pandas
    kinds = cfg.features["network"]["coordination"]["kinds"]
    acts = inter[inter.kind.isin(kinds) & inter.actor_id.notna() & inter.target_post_id.notna()]
    assert read_delta_rs(cfg.table("network_days")).set_index("event_date")["actions"].to_dict() == \
        acts.created_at.dt.date.value_counts().to_dict()
    # content: one row per post and per comment, each day's count in the manifest
    comments = inter[inter.kind == "comment"]
    records = pd.concat([posts.created_at, comments.created_at]).dt.date.value_counts().to_dict()
    assert read_delta_rs(cfg.table("content_days")).set_index("event_date")["docs"].to_dict() == records
    assert len(read_delta_rs(cfg.table("content_docs"))) == len(posts) + len(comments)
    # the manifest: each day's posts and interactions with an author, as counted here by pandas
    authored = pd.concat([posts[posts.account_id.notna()].created_at, inter[inter.actor_id.notna()].created_at])
    manifest = read_delta_rs(cfg.table("behaviour_days")).set_index("event_date")
    assert manifest["events"].to_dict() == authored.dt.date.value_counts().to_dict()
    assert manifest["config_hash"].nunique() == 1
    # change: each day's sessions, posts and interactions with an account and a time (the 28-day window
    # holds every day of the tiny lake)
    sessions = read_delta_rs(cfg.table("raw_sessions"))
    dated = pd.concat([posts[posts.account_id.notna()].created_at, inter[inter.actor_id.notna()].created_at,
                       sessions[sessions.account_id.notna()].started_at]).dropna().dt.date
    assert read_delta_rs(cfg.table("change_days")).set_index("event_date")["records"].to_dict() == \
        dated[dated <= day].value_counts().to_dict()


def test_missing_truth_file_is_a_clear_error(tiny_lake, tmp_path):
    sets = [x for o in tiny_lake.overrides for x in ("--set", o)]
    result = runner.invoke(app, ["features", "--truth", str(tmp_path / "nope.parquet"), "--env", "test", *sets])
    assert result.exit_code == 2
    assert "ground truth not found" in result.output


def test_empty_lake_is_a_clear_error_and_a_failed_run(spark, cfg_factory, tmp_path):
    overrides = [f"lake.root={tmp_path}", f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                 f"privacy.key_file={tmp_path}/hmac.key", "lake.engine=delta-rs"]
    cfg = cfg_factory(root=tmp_path)
    sets = [x for o in overrides for x in ("--set", o)]
    result = runner.invoke(app, ["features", "--run-id", "feat-empty", "--env", "test", *sets])
    assert result.exit_code == 2
    assert "ingest an export first" in " ".join(result.output.split())
    runs = read_delta_rs(cfg.table("runs"))
    assert runs[["run_id", "status"]].to_dict("records") == [{"run_id": "feat-empty", "status": "failed"}]
    assert not DeltaTable.is_deltatable(cfg.table("features"))
