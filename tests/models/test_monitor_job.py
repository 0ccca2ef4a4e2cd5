"""`jobs/monitor.py` end to end on a copy of the `pipeline` fixture's lake and MLflow store (trained by
jobs.train, so the champion carries the drift reference of its training snapshot, scored by jobs.score):
the undrifted snapshot exits 0 and names nothing, a re-run adds no monitoring row, and a snapshot with two
features shifted (scored for real) exits with EXIT_DRIFT after one log line naming exactly those two."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from lake_synth import JOB_FAST, SNAPSHOT
from pyspark.sql import functions as F
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.core import tracking
from genuine.core.errors import EXIT_DRIFT
from genuine.core.lake import Lake
from genuine.features.catalog import FEATURE_TABLE
from genuine.jobs import monitor, score
from genuine.models.config import ModelConfig
from genuine.models.scoring import load_champion
from tests.oracles import drift_oracle, read_delta_rs

DRIFTED = dt.date(2026, 11, 7)
KEY = ["scoring_run_id", "model_version", "kind", "subject", "metric"]


@pytest.fixture(scope="module")
def lake(pipeline, cfg_factory, tmp_path_factory):
    """A copy of the pipeline's lake and MLflow store (the fixture's own stays untouched)."""
    root = tmp_path_factory.mktemp("monitorlake")
    shutil.copytree(pipeline.cfg.lake.root, root, dirs_exist_ok=True)
    return cfg_factory(*JOB_FAST, f"reports.root={root}/reports", root=root)


def _args(cfg) -> list[str]:
    sets = [f"lake.root={cfg.lake.root}", f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}",
            f"privacy.key_file={cfg.lake.root}/hmac.key", "lake.engine=delta-rs", f"reports.root={cfg.reports.root}",
            *JOB_FAST]
    return ["--env", "test", *[x for s in sets for x in ("--set", s)]]


def _drift_lines(capsys) -> list[str]:
    """What a scheduler's log shows: the job's stderr lines that carry the drift message (only the
    message part of each line, from "drift:" on)."""
    err = capsys.readouterr().err
    return [ln[ln.index("drift:"):] for ln in err.splitlines() if "drift:" in ln]


def test_undrifted_snapshot_exits_zero_and_rerun_adds_no_row(spark, lake, pipeline, capsys):
    assert monitor.main(_args(lake)) == 0
    assert _drift_lines(capsys) == []
    first = read_delta_rs(lake.table("monitoring"))
    assert monitor.main(_args(lake)) == 0
    again = read_delta_rs(lake.table("monitoring"))
    assert len(again) == len(first) and not again.duplicated(KEY).any()
    assert set(map(tuple, again[KEY].to_numpy())) == set(map(tuple, first[KEY].to_numpy()))
    assert again["monitor_run_id"].nunique() == 1 and set(again["monitor_run_id"]) != set(first["monitor_run_id"])
    # every feature of the reference has its three rows for the scoring run, none moved
    feats = again[(again.kind == "feature") & (again.scoring_run_id == pipeline.score1.run_id)]
    champ = load_champion(tracking.configure(lake.mlflow), lake.mlflow.account_model)
    ref = champ.drift_reference
    n = min(lake.section("model", ModelConfig).monitoring.reference_sample, len(pipeline.features))
    assert ref["source"] == "training snapshot, every account" and ref["n_sample"] == n
    assert len(feats) == 3 * len(ref["features"])
    assert not feats["breached"].fillna(False).any()


def test_drifted_snapshot_trips_the_exit_status_and_names_the_features(spark, lake, pipeline, capsys):
    l_ = Lake(spark, lake)
    champ = load_champion(tracking.configure(lake.mlflow), lake.mlflow.account_model)
    ref = champ.drift_reference
    # two features with a spread (many distinct values), shifted by their whole reference range
    spread = sorted((n for n, f in ref["features"].items() if len(set(f["sample"])) >= 50),
                    key=lambda n: n)[:2]
    assert len(spread) == 2
    base = l_.read("features").where(F.col("snapshot_date") == F.lit(SNAPSHOT))
    moved = base.withColumn("snapshot_date", F.lit(DRIFTED))
    for n in spread:
        width = max(ref["features"][n]["sample"]) - min(ref["features"][n]["sample"])
        moved = moved.withColumn(n, F.col(n) + F.lit(width))
    l_.append("features", moved.select(*FEATURE_TABLE.fieldNames()), schema=FEATURE_TABLE)
    scored = score.run(lake, DRIFTED, spark=spark)

    capsys.readouterr()
    assert monitor.main(_args(lake)) == EXIT_DRIFT
    lines = _drift_lines(capsys)
    for png in ("feature_drift.png", "score_distribution.png"):      # the figures of the run, under reports/
        assert (Path(lake.reports.root) / "monitor" / scored.run_id / png).stat().st_size > 0
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("drift: 2 feature(s) moved")
    named = {p.split(" (")[0] for p in lines[0].split(": ", 2)[2].split("; ")}
    assert named == set(spread)

    rows = read_delta_rs(lake.table("monitoring"))
    mine = rows[(rows.scoring_run_id == scored.run_id) & (rows.kind == "feature")]
    breached = set(mine.loc[mine.breached.fillna(False).astype(bool), "subject"])
    assert breached == set(spread)
    # the table's figures equal the numpy/scipy oracle on the drifted snapshot
    cur = read_delta_rs(lake.table("features"))
    cur = cur[cur.snapshot_date == DRIFTED]
    want = drift_oracle(ref, cur, lake.section("model", ModelConfig).monitoring.psi_epsilon).set_index("feature")
    got = mine.pivot_table(index="subject", columns="metric", values="value", dropna=False)
    for metric in ("psi", "ks", "null_share"):
        assert got[metric].reindex(want.index).to_numpy() == pytest.approx(want[metric].to_numpy(), rel=1e-9,
                                                                          nan_ok=True), metric
    # `genuine monitor` exits with the same status, its last line names the same features
    res = CliRunner().invoke(app, ["monitor", *_args(lake)], catch_exceptions=False)
    assert res.exit_code == EXIT_DRIFT, res.output
    last = [ln for ln in res.stdout.splitlines() if ln.strip()][-1]
    assert last.startswith("drift: 2 feature(s) moved") and all(n in last for n in spread)
    # an earlier scoring run by id: the undrifted one, judged against the same reference
    assert monitor.main([*_args(lake), "--scoring-run", pipeline.score1.run_id]) == 0
