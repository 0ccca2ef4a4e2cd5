"""`genuine retrain`: the label set it builds (imports, moderator decisions, appeal outcomes; an appeal
overturns the decision it judged) against a pandas oracle, the shared recent holdout, the gates on that
holdout with a real MLflow store, and the exit statuses of the command and the job entrypoint."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
from model_synth import FAST, FEATURES
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from test_cli import _args, _invoke

from genuine.core import tracking
from genuine.core.errors import EXIT_NOT_PROMOTED
from genuine.core.lake import Lake
from genuine.core.schemas import DECISIONS, RAW_LABELS
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.decisions import labels_from_decisions
from genuine.features.catalog import FEATURE_TABLE
from genuine.jobs import retrain
from genuine.jobs.common import job
from genuine.jobs.train import training_data
from genuine.models.config import ModelConfig
from genuine.models.labels import label_history, labelled_accounts
from genuine.models.promotion import alias_version, load_holdout, promote
from genuine.models.retraining import LABELS_CUTOFF, labels_cutoff, recent_holdout, version_cutoff
from genuine.models.training import train_account_model

T0 = dt.datetime(2026, 11, 1, 12, 0)


def _t(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


# imported labels (raw_labels), some of them written there by a review import (same decision twice)
RAW = [
    ("a1", "ai_managed", "import", _t(1)),
    ("a2", "human", "import", _t(1)),
    ("a2", "human", "import", _t(1)),               # the same row twice: one decision
    ("a3", "ai_managed", "moderator", _t(2)),        # also in the decisions table (the import wrote both)
    ("a6", "ai_managed", "import", _t(-5)),          # before any snapshot
    ("a8", "ai_managed", "import", _t(4)),
    ("a8", "human", "import", _t(4)),                # same instant, same source: the negative label
]
# (kind, account, decision, decided_at, applied)
DECIDED = [
    ("review", "a1", "clear", _t(2), True),          # clears an imported flag
    ("review", "a3", "confirm", _t(2), True),
    ("appeal", "a3", "restore", _t(5), True),        # overturned on appeal: human
    ("review", "a4", "confirm", _t(2), True),
    ("appeal", "a4", "uphold", _t(5), True),         # upheld on appeal: still a bot, decided later
    ("review", "a5", "confirm", _t(3), True),
    ("appeal", "a5", "restore", _t(2.5), False),     # superseded at import: no label
    ("review", "a7", "clear", _t(4), True),
    ("appeal", "a7", "uphold", _t(4), True),         # same instant: the appeal wins over the moderator
    ("review", "a9", "confirm", _t(0.5), False),     # not applied (no change): no label
]
FEATURE_ROWS = [(a, dt.date(2026, 11, d), dt.datetime(2026, 11, d, 23, 59, 59), float(d * 10 + i))
                for i, a in enumerate(["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"])
                for d in (1, 3, 4)]


def _decisions(spark):
    rows = [(f"d{i}", kind, a, dec, "m1", None, at, applied, None if applied else "superseded", None, "f.csv", i,
             "run", T0) for i, (kind, a, dec, at, applied) in enumerate(DECIDED)]
    return spark.createDataFrame(rows, DECISIONS)


def _oracle(cfg) -> pd.DataFrame:
    """Brute force in pandas: every label, once; per account the latest, same instant -> the preferred
    source, then the negative label; the newest snapshot at or before that decision."""
    imp = enforcement_config(cfg).imports
    mcfg = cfg.section("model", ModelConfig)
    human = [(a, imp.labels[dec], imp.label_source[kind], at) for kind, a, dec, at, ok in DECIDED if ok]
    lab = pd.DataFrame(RAW + human, columns=["account_id", "label", "source", "decided_at"]).drop_duplicates()
    rank = {s: i for i, s in enumerate(mcfg.retrain.source_precedence)}
    rows = []
    for acc, g in lab.groupby("account_id"):
        g = g.assign(_r=g["source"].map(lambda s: rank.get(s, len(rank))),
                     _pos=(g["label"] == mcfg.positive_label).astype(int))
        best = g.sort_values(["decided_at", "_r", "_pos"], ascending=[False, True, True]).iloc[0]
        snaps = [f for f in FEATURE_ROWS if f[0] == acc and f[2] <= best["decided_at"]]
        snap = max(snaps, key=lambda f: f[2]) if snaps else (acc, None, None, None)
        rows.append((acc, best["label"], best["source"], best["decided_at"], snap[1], snap[2], snap[3],
                     g["decided_at"].min()))
    return pd.DataFrame(rows, columns=["account_id", "label", "source", "decided_at", "snapshot_date", "as_of", "x",
                                       "first_decided_at"])


def test_label_set_with_appeals_equals_pandas_oracle(spark, cfg):
    mcfg = cfg.section("model", ModelConfig)
    raw = spark.createDataFrame([(*r, "ingest", None) for r in RAW], RAW_LABELS)
    human = labels_from_decisions(_decisions(spark).where("applied"), enforcement_config(cfg), "r1")
    feats = spark.createDataFrame(FEATURE_ROWS, "account_id string, snapshot_date date, as_of timestamp, x double")
    got = labelled_accounts(label_history(raw, human), feats, None, ["x"], mcfg.positive_label,
                            mcfg.retrain.source_precedence)
    expected = _oracle(cfg)
    # the cases the oracle must show, spelled out: an appeal replaces the decision it judged
    final = expected.set_index("account_id")
    assert final.loc["a3", ["label", "source"]].tolist() == ["human", "appeal"]
    assert final.loc["a4", ["label", "source"]].tolist() == ["ai_managed", "appeal"]
    assert final.loc["a5", ["label", "source"]].tolist() == ["ai_managed", "moderator"]
    assert final.loc["a7", ["label", "source"]].tolist() == ["ai_managed", "appeal"]
    assert final.loc["a8", "label"] == "human" and pd.isna(final.loc["a6", "snapshot_date"])
    assert "a9" not in final.index
    assertDataFrameEqual(got.select(*expected.columns),
                         spark.createDataFrame(expected.astype(object).where(expected.notna(), None),
                                               got.select(*expected.columns).schema))


def test_training_data_reads_raw_labels_and_applied_decisions(spark, cfg_factory):
    """The job's own reading (jobs/train.py::training_data, shared by train and retrain) of raw_labels and
    the decisions table in a real lake gives the oracle's label set."""
    cfg = cfg_factory()
    mcfg = cfg.section("model", ModelConfig)
    lake = Lake(spark, cfg)
    keys = spark.createDataFrame([r[:3] for r in FEATURE_ROWS], "account_id string, snapshot_date date, as_of timestamp")
    feats = keys.select(*[F.col(f.name) if f.name in keys.columns else F.lit(None).cast(f.dataType).alias(f.name)
                          for f in FEATURE_TABLE.fields])
    lake.append("features", feats, schema=FEATURE_TABLE)
    lake.append("raw_labels", spark.createDataFrame([(*r, "ingest", None) for r in RAW], RAW_LABELS), schema=RAW_LABELS)
    lake.append("decisions", _decisions(spark), schema=DECISIONS)
    with job("training-data-test", cfg, spark=spark) as ctx:
        data = training_data(ctx, mcfg)
    cols = ["account_id", "label", "source", "decided_at", "snapshot_date", "first_decided_at"]
    got = data.frame[cols].sort_values("account_id").reset_index(drop=True)
    want = _oracle(cfg)[cols].sort_values("account_id").reset_index(drop=True)
    want["snapshot_date"] = want["snapshot_date"].astype(object)
    pd.testing.assert_frame_equal(got.astype({"snapshot_date": object}), want, check_dtype=False)
    assert (data.lineage["decisions_table_version"], data.lineage["labels_table_version"]) == \
        (lake.version("decisions"), lake.version("raw_labels"))


def _frame(n: int = 40) -> pd.DataFrame:
    """A labelled_accounts-like frame: account i first labelled on day i % 20, some relabelled later."""
    i = np.arange(n)
    first = pd.Timestamp(T0) + pd.to_timedelta(i % 20, unit="D")
    return pd.DataFrame({"account_id": [f"a{k:02d}" for k in i],
                         "label": np.where(i % 2 == 0, "ai_managed", "human"),
                         "decided_at": first + pd.to_timedelta(np.where(i % 7 == 0, 3, 0), unit="D"),
                         "first_decided_at": first,
                         "snapshot_date": [None if k == 39 else dt.date(2026, 11, 1) for k in i]})


def test_recent_holdout_is_first_labelled_in_window_after_champion_cutoff(cfg_factory):
    cfg = cfg_factory("model.retrain.holdout_days=5", "model.retrain.min_holdout_per_label=3")
    mcfg = cfg.section("model", ModelConfig)
    f = _frame()
    # the newest usable label: a19, first labelled on day 19 (a39 has no snapshot, a35 relabelled on day 18)
    end = f.loc[f["snapshot_date"].notna(), "decided_at"].max()
    assert end == pd.Timestamp(_t(19))
    h = recent_holdout(f, mcfg)
    expected = sorted(f.loc[(f.index % 20 >= 14) & (f.index != 39), "account_id"])
    assert list(h.account_ids) == expected and h.start == pd.Timestamp(_t(14)) and h.end == end
    assert (h.n_positive, h.n_negative, h.enough) == (6, 5, True)
    # a champion whose training accounts were first labelled until day 16 never saw accounts first labelled after
    h2 = recent_holdout(f, mcfg, "3", pd.Timestamp(_t(16)))
    assert list(h2.account_ids) == sorted(f.loc[(f.index % 20 >= 17) & (f.index != 39), "account_id"])
    assert (h2.n_positive, h2.n_negative, h2.enough) == (2, 3, False)
    # the tag a model version carries: when the last of its training accounts was first labelled (a09;
    # a07's relabelling on day 10 does not count)
    assert labels_cutoff(f.iloc[:10]) == _t(9).isoformat()


def test_gates_on_the_shared_holdout_promote_good_and_refuse_bad(cfg_factory, synthetic):
    cfg = cfg_factory(*FAST, "model.loso.enabled=false", "model.retrain.holdout_days=4")
    mcfg = cfg.section("model", ModelConfig)
    client = tracking.configure(cfg.mlflow)
    name = cfg.mlflow.account_model
    df = synthetic.train_df()
    day = np.arange(len(df)) % 20
    df["decided_at"] = pd.Timestamp(_t(0)) + pd.to_timedelta(day, unit="D")
    df["first_decided_at"] = df["decided_at"]
    hold = recent_holdout(df, mcfg)
    assert list(hold.account_ids) == sorted(df.loc[day >= 15, "account_id"]) and hold.enough

    def fit(features, mc):
        lineage = {LABELS_CUTOFF: labels_cutoff(df[~df["account_id"].isin(hold.account_ids)])}
        return train_account_model(df, features, mc, truth=synthetic.truth, mlflow_cfg=cfg.mlflow, lineage=lineage,
                                   holdout_ids=hold.account_ids)

    first = fit(FEATURES, mcfg)
    assert sorted(first.holdout["account_id"]) == list(hold.account_ids)
    assert not set(first.validation_ids) & set(hold.account_ids)
    assert version_cutoff(client, name, first.model_version) == pd.Timestamp(_t(14))
    d0 = promote(client, name, first.model_version, first.holdout, mcfg.gates)
    assert d0.promoted, d0.reasons                      # no champion: the absolute gates

    # bad: only the uninformative feature, on the same holdout -> refused, the champion stays
    bad = fit([f for f in FEATURES if f.name == "noise"], mcfg)
    assert sorted(load_holdout(client, bad.run_id)["account_id"]) == list(hold.account_ids)
    # (its logged holdout has its own feature columns only: compared on the champion's frame of those accounts)
    d1 = promote(client, name, bad.model_version, first.holdout, mcfg.gates)
    assert not d1.promoted and alias_version(client, name, "champion") == first.model_version
    assert d1.champion_metrics is not None and d1.champion_metrics["pr_auc"] > d1.challenger_metrics["pr_auc"]
    assert [ln for ln in d1.reasons if ln.startswith("FAIL")], d1.reasons

    # good: other hyper-parameters, the same holdout -> within tolerance of the champion -> promoted
    other = mcfg.model_copy(update={"hgb": mcfg.hgb.model_copy(update={"learning_rate": 0.05, "max_iter": 90})})
    good = fit(FEATURES, other)
    d2 = promote(client, name, good.model_version, good.holdout, mcfg.gates)
    assert d2.promoted, d2.reasons
    assert alias_version(client, name, "champion") == good.model_version and d2.champion_before == first.model_version


def test_retrain_cli_and_job_exit_statuses(pipeline):
    cfg = pipeline.cfg
    client = tracking.configure(cfg.mlflow)
    own = ["mlflow.account_model=retrain-model", "model.retrain.holdout_days=2"]
    lab = pipeline.labels.copy()
    ts = pd.to_datetime(lab["decided_at"])
    lab["decided_at"] = ts.dt.tz_convert(None) if ts.dt.tz is not None else ts
    first = lab.groupby("account_id")["decided_at"].min()
    snap_as_of = pd.Timestamp(dt.datetime(2026, 10, 31, 23, 59, 59))
    end = lab.loc[lab["decided_at"] >= snap_as_of, "decided_at"].max()
    expected = sorted(first[(first >= end - pd.Timedelta(days=2))].index)

    # 1. no champion yet: the recent holdout, the absolute gates -> promoted, exit 0
    res = _invoke("retrain", *_args(cfg, *own))
    assert res.exit_code == 0, res.output
    assert "registered retrain-model version 1" in res.stdout and "promotion of v1: promoted" in res.stdout
    assert re.search(rf"holdout: {len(expected)} accounts first labelled from ", res.stdout), res.stdout
    v1 = client.get_model_version("retrain-model", "1")
    assert sorted(load_holdout(client, v1.run_id)["account_id"]) == expected
    assert alias_version(client, "retrain-model", "champion") == "1"

    # 2. an impossible absolute gate: trained, refused -> exit 5, the champion stays
    res = _invoke("retrain", *_args(cfg, *own, "model.gates.min_pr_auc=1.0"))
    assert res.exit_code == EXIT_NOT_PROMOTED, res.output
    assert "promotion of v2: not promoted (champion 1 -> 1)" in res.stdout
    assert alias_version(client, "retrain-model", "champion") == "1"

    # 3. the job entrypoint: the fixture's champion trained on every label, so no account is new to it:
    #    no challenger trained, exit 5, nothing registered
    before = len(client.search_model_versions(f"name='{cfg.mlflow.account_model}'"))
    assert retrain.main(_args(cfg)) == EXIT_NOT_PROMOTED
    assert len(client.search_model_versions(f"name='{cfg.mlflow.account_model}'")) == before
    assert alias_version(client, cfg.mlflow.account_model, "champion") == pipeline.train.train.model_version


# --- retrain --if-drift: after each daily monitor ------------------------------------------------------
def _monitoring_rows(spark, rows):
    """Monitoring rows (kind feature): (model_version, monitor_run_id, minute computed, breached)."""
    from genuine.core.schemas import MONITORING

    base = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    return spark.createDataFrame(
        [(f"score-{run}", dt.date(2026, 11, 1), "m", v, "feature", f"f{i}", "psi", 0.1, 0.0, 0.2, b, run,
          base + dt.timedelta(minutes=minute)) for i, (v, run, minute, b) in enumerate(rows)], MONITORING)


def test_drift_reported_reads_the_versions_latest_monitor_run(spark):
    from genuine.models.monitoring import drift_reported

    df = _monitoring_rows(spark, [
        ("1", "mon-a", 0, True), ("1", "mon-a", 0, False),       # v1: drift, then a later run without it
        ("1", "mon-b", 5, False), ("1", "mon-b", 5, None),
        ("2", "mon-c", 0, False), ("2", "mon-d", 9, None), ("2", "mon-d", 9, True),   # v2: drift in its latest
        ("3", "mon-e", 1, None)])                                 # v3: no figure past a threshold
    assert [drift_reported(df, v) for v in ("1", "2", "3", "4")] == [None, "mon-d", None, None]


def test_retrain_if_drift_trains_only_after_a_drifting_monitor_run(pipeline, spark, tmp_path):
    import shutil

    from genuine.jobs.io import ensure_tables

    src = pipeline.cfg
    root = tmp_path / "lake"
    shutil.copytree(src.lake.root, root)
    own = [f"lake.root={root}", f"privacy.key_file={src.lake.root}/hmac.key"]
    lake = Lake(spark, src.model_copy(update={"lake": src.lake.model_copy(update={"root": str(root)})}))
    shutil.rmtree(lake.uri("monitoring"), ignore_errors=True)
    client = tracking.configure(src.mlflow)
    name = src.mlflow.account_model
    champion = alias_version(client, name, "champion")
    versions = len(client.search_model_versions(f"name='{name}'"))

    # no monitoring at all: nothing reported, nothing trained, status 0
    assert retrain.main([*_args(src, *own), "--if-drift"]) == 0
    ensure_tables(lake, ["monitoring"])
    lake.append("monitoring", _monitoring_rows(spark, [(champion, "mon-1", 0, False), ("0", "mon-0", 9, True)]))
    assert retrain.main([*_args(src, *own), "--if-drift"]) == 0          # drift only for another version
    # the champion's latest run drifted: the retrain path runs. The fixture's champion has seen every
    # label, so no challenger can be compared (status 5, as without --if-drift), and nothing is registered
    lake.append("monitoring", _monitoring_rows(spark, [(champion, "mon-2", 5, True)]))
    assert retrain.main([*_args(src, *own), "--if-drift"]) == EXIT_NOT_PROMOTED
    res = _invoke("retrain", "--if-drift", *_args(src, *own))
    assert res.exit_code == EXIT_NOT_PROMOTED and "holdout:" in res.stdout, res.output
    lake.append("monitoring", _monitoring_rows(spark, [(champion, "mon-3", 7, None)]))
    res = _invoke("retrain", "--if-drift", *_args(src, *own))
    assert res.exit_code == 0 and "no drift reported" in res.stdout, res.output
    assert len(client.search_model_versions(f"name='{name}'")) == versions
    assert alias_version(client, name, "champion") == champion
