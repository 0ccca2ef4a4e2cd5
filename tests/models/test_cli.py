"""`genuine train / promote / score` through the CLI, on the lake of the `pipeline` fixture (its own model
name and scores table, so the fixture's champion and scores stay untouched), and the one-line errors."""

from __future__ import annotations

import re

from deltalake import DeltaTable
from lake_synth import JOB_FAST, N_ACCOUNTS
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.core import tracking
from genuine.core.errors import EXIT_NOT_PROMOTED
from genuine.jobs import train as train_job
from genuine.models.promotion import alias_version
from tests.oracles import read_delta_rs

runner = CliRunner()


def _args(cfg, *extra: str) -> list[str]:
    sets = [f"lake.root={cfg.lake.root}", f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}",
            f"privacy.key_file={cfg.lake.root}/hmac.key", "lake.engine=delta-rs", *JOB_FAST, *extra]
    return ["--env", "test", *[x for s in sets for x in ("--set", s)]]


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _one_error_line(res, pattern: str) -> None:
    """Exit status 1 and exactly one `error:` line, the last one, matching `pattern`; no traceback."""
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert res.exit_code == 1, res.output
    assert len(errors) == 1 and lines[-1] == errors[0], res.output
    assert re.search(pattern, errors[0]), errors[0]
    assert "Traceback" not in res.output


def test_cli_errors_without_feature_table_or_champion(cfg_factory, spark):
    cfg = cfg_factory()
    _one_error_line(_invoke("score", *_args(cfg)), r"no feature table at .*: run `genuine features` first")
    _one_error_line(_invoke("train", *_args(cfg)), r"training needs the features and raw_labels table")
    _one_error_line(_invoke("promote", "3", *_args(cfg)), r"genuine-account-model has no version 3")
    _one_error_line(_invoke("train", "--truth", "/nonexistent/accounts.parquet", *_args(cfg)),
                    r"truth file not found: /nonexistent/accounts.parquet")
    res = _invoke("score", "--snapshot", "31/10/2026", *_args(cfg))
    assert res.exit_code == 2 and "expects YYYY-MM-DD" in res.stdout


def test_cli_train_promote_score(pipeline):
    cfg = pipeline.cfg
    own = ["mlflow.account_model=cli-model", "lake.tables.scores=scores/cli_scores"]
    client = tracking.configure(cfg.mlflow)

    # 1. trained and registered, but an impossible absolute gate keeps it from becoming champion
    res = _invoke("train", *_args(cfg, *own, "model.gates.min_pr_auc=1.0"))
    assert res.exit_code == 0, res.output
    assert "registered cli-model version 1" in res.stdout and "not promoted" in res.stdout
    assert re.search(r"FAIL: PR-AUC 0\.\d{4} >= minimum 1\.0", res.stdout)
    assert alias_version(client, "cli-model", "challenger") == "1"
    assert alias_version(client, "cli-model", "champion") is None

    # the same gates re-run by `promote`: refused, with retrain's status (5), not a missing input's (1);
    # the same through the spark-submit entrypoint (no Spark is started for --promote)
    res = _invoke("promote", "1", *_args(cfg, *own, "model.gates.min_pr_auc=1.0"))
    assert res.exit_code == EXIT_NOT_PROMOTED, res.output
    assert "promotion of v1: not promoted (champion None -> None)" in res.stdout
    assert train_job.main([*_args(cfg, *own, "model.gates.min_pr_auc=1.0"), "--promote", "1"]) == EXIT_NOT_PROMOTED
    assert alias_version(client, "cli-model", "champion") is None

    # 2. no champion: scoring refuses with one line, nothing written
    _one_error_line(_invoke("score", *_args(cfg, *own)), r"no cli-model@champion .*genuine train")
    assert not DeltaTable.is_deltatable(cfg.table("scores").replace("account_scores", "cli_scores"))

    # 3. the configured gates, re-run for that version: promoted
    res = _invoke("promote", "1", *_args(cfg, *own))
    assert res.exit_code == 0, res.output
    assert "promotion of v1: promoted (champion None -> 1)" in res.stdout
    assert alias_version(client, "cli-model", "champion") == "1"
    assert re.search(r"pass: PR-AUC 0\.\d{4} >= minimum 0\.8", res.stdout)

    # 4. every account scored once; 5. the same scoring run again writes nothing
    res = _invoke("score", *_args(cfg, *own))
    assert res.exit_code == 0, res.output
    assert f"cli-model v1: {N_ACCOUNTS:,} accounts scored" in res.stdout
    uri = str(cfg.table("scores")).replace("account_scores", "cli_scores")
    scores = read_delta_rs(uri)
    assert len(scores) == N_ACCOUNTS and scores["account_id"].is_unique
    assert set(scores["model_name"]) == {"cli-model"} and set(scores["model_version"]) == {"1"}
    assert set(scores["account_id"]) == set(pipeline.features["account_id"])
    version = DeltaTable(uri).version()
    res = _invoke("score", "--snapshot", "2026-10-31", *_args(cfg, *own))
    assert res.exit_code == 0, res.output
    assert "already scored (txn already committed)" in res.stdout
    assert DeltaTable(uri).version() == version and len(read_delta_rs(uri)) == N_ACCOUNTS

    # 6. promoting the champion again changes nothing; an unknown version is one line
    res = _invoke("promote", "1", *_args(cfg, *own))
    assert res.exit_code == 0 and "already champion" in res.stdout
    _one_error_line(_invoke("promote", "2", *_args(cfg, *own)), r"cli-model has no version 2")
    # the fixture's own model and scores are untouched
    name = cfg.mlflow.account_model
    assert alias_version(client, name, "champion") == pipeline.train.train.model_version
    assert DeltaTable(cfg.table("scores")).version() == pipeline.version_after_first
