"""Scoring in Spark: spark_udf == pyfunc on pandas, bands, one row per account, reason codes == oracle."""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left, bisect_right
from pathlib import Path

import joblib
import mlflow
import mlflow.artifacts
import numpy as np
import pandas as pd
import pytest
from model_synth import NAMES
from pyspark.sql.types import DoubleType, LongType

from genuine.core import tracking
from genuine.models.promotion import alias_version
from genuine.models.pyfunc import NOVELTY_FILE
from genuine.models.scoring import SCORES, load_champion, score_with_champion, with_reasons
from genuine.models.thresholds import Thresholds

SCORED_AT = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)
FEATURE_SCHEMA = ("account_id string, snapshot_date date, as_of timestamp, gap_cv double, share_second_zero double, "
                  "template_reuse double, coord_degree long, reports_received long, noise double")


def _oracle_reasons(row: dict, ref: dict, top_k: int, min_pct: float) -> list[dict]:
    """Pure-Python reason codes: bisect on the grid, sort by (tail, -importance, name)."""
    cands = []
    for name in ref["feature_order"]:
        f = ref["features"][name]
        v = row[name]
        if f["direction"] not in ("higher", "lower") or not f["grid"] or v is None or math.isnan(v):
            continue
        g = f["grid"]
        below, atmost = bisect_left(g, v) / len(g), bisect_right(g, v) / len(g)
        tail = 1 - below if f["direction"] == "higher" else atmost
        if tail > 1 - min_pct / 100 + 1e-12:
            continue
        higher = f["direction"] == "higher"
        extreme = f["p999"] if higher else f["p001"]
        unit = f" ({f['unit']})" if f["unit"] else ""
        text = (f"{name} = {v:.4g}{unit}: {'higher' if higher else 'lower'} than {100 * (1 - tail):.1f}% of humans; "
                f"human {'99.9th' if higher else '0.1th'} percentile is {extreme:.4g}")
        cands.append(((tail, -f["importance"], name),
                      {"family": f["family"], "feature": name, "value": float(v),
                       "human_percentile": 50 * (below + atmost), "human_p999": extreme, "text": text}))
    return [r for _, r in sorted(cands, key=lambda c: c[0])[:top_k]]


def _as_dicts(reasons) -> list[dict]:
    return [r.asDict() for r in reasons]


@pytest.fixture(scope="module")
def scored(spark, trained, synthetic):
    cfg, mcfg, result, _ = trained
    client = tracking.configure(cfg.mlflow)
    champ = load_champion(client, cfg.mlflow.account_model)
    feats = synthetic.features
    sdf = spark.createDataFrame(feats.astype(object).where(feats.notna(), None), FEATURE_SCHEMA).repartition(3)
    out = score_with_champion(sdf, champ, feature_table_version=3, scoring_run_id="run-1", scored_at=SCORED_AT)
    return champ, out, out.toPandas()


def test_load_champion_pins_version_thresholds_and_reference(trained, scored):
    cfg, _, _, _ = trained
    champ, _, _ = scored
    client = tracking.configure(cfg.mlflow)
    assert champ.version == alias_version(client, cfg.mlflow.account_model, "champion")
    mv = client.get_model_version(cfg.mlflow.account_model, champ.version)
    assert champ.thresholds == Thresholds.from_tags(mv.tags)
    assert champ.run_id == mv.run_id and champ.model_uri == f"models:/{cfg.mlflow.account_model}/{champ.version}"
    assert champ.reference["feature_order"] == NAMES


def test_every_account_scored_once_and_spark_udf_equals_pyfunc(scored, synthetic):
    champ, out, got = scored
    assert out.schema.simpleString() == SCORES.simpleString()
    assert len(got) == len(synthetic.features)
    assert got["account_id"].is_unique
    assert set(got["account_id"]) == set(synthetic.features["account_id"])
    got = got.set_index("account_id").loc[synthetic.features["account_id"]]
    expected = mlflow.pyfunc.load_model(champ.model_uri).predict(synthetic.features[NAMES].astype(float))
    np.testing.assert_allclose(got["score"].to_numpy(), np.asarray(expected), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got["band"].to_numpy(), champ.thresholds.band(np.asarray(expected)))
    assert set(got["band"]) <= {"none", "review", "auto"} and (got["band"] == "auto").any()
    assert (got["model_version"] == champ.version).all() and (got["model_run_id"] == champ.run_id).all()
    assert (got["feature_table_version"] == 3).all() and (got["scoring_run_id"] == "run-1").all()
    assert (got["snapshot_date"] == dt.date(2026, 10, 31)).all()
    assert (pd.to_datetime(got["scored_at"]) == pd.Timestamp(SCORED_AT).tz_convert(None)).all()


def test_novelty_is_the_stored_scorers_percentile_of_each_account(scored, synthetic, trained):
    """The scores' novelty column equals the novelty scorer stored with the version, applied in pandas
    to the same rows; and it was fitted on the model's fit split, so its own rows spread over (0, 1]."""
    champ, _, got = scored
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=champ.model_uri))
    scorer = joblib.load(next(local.rglob(NOVELTY_FILE)))
    X = synthetic.features[NAMES].astype(float)
    got = got.set_index("account_id").loc[synthetic.features["account_id"]]
    np.testing.assert_allclose(got["novelty"].to_numpy(), scorer.score(X), rtol=0, atol=1e-12)
    via_pyfunc = mlflow.pyfunc.load_model(champ.model_uri).predict(X, params={"output": "novelty"})
    np.testing.assert_allclose(np.asarray(via_pyfunc), scorer.score(X), rtol=0, atol=1e-12)
    assert got["novelty"].between(0, 1).all() and got["novelty"].nunique() > len(got) // 2


def test_reason_codes_equal_python_oracle(scored, synthetic):
    champ, _, got = scored
    ref = champ.reference
    by_id = got.set_index("account_id")["reasons"]
    n_with = 0
    for row in synthetic.features.to_dict("records"):
        expected = _oracle_reasons(row, ref, ref["top_k"], ref["min_tail_percentile"])
        actual = [dict(r) for r in by_id[row["account_id"]]]
        assert len(actual) == len(expected), row["account_id"]
        for a, e in zip(actual, expected, strict=True):
            assert a["feature"] == e["feature"] and a["family"] == e["family"] and a["text"] == e["text"]
            assert a["value"] == e["value"] and a["human_p999"] == e["human_p999"]
            assert a["human_percentile"] == pytest.approx(e["human_percentile"], abs=1e-9)
        n_with += bool(expected)
    assert 0 < n_with < len(synthetic.features)     # bots carry reasons, ordinary humans mostly not


def test_reasons_on_a_hand_made_reference(spark):
    grid = [float(x) for x in range(11)]            # humans: 0..10, one grid point per decile
    ref = {
        "feature_order": ["hi", "lo", "flat", "free"], "top_k": 2, "min_tail_percentile": 80.0,
        "features": {
            "hi": {"family": "behaviour", "direction": "higher", "unit": "", "grid": grid, "p999": 9.99,
                   "p001": 0.01, "importance": 0.1},
            "lo": {"family": "network", "direction": "lower", "unit": "count", "grid": grid, "p999": 9.99,
                   "p001": 0.01, "importance": 0.5},
            "flat": {"family": "content", "direction": "higher", "unit": "", "grid": [0.0] * 11, "p999": 0.0,
                     "p001": 0.0, "importance": 0.9},
            "free": {"family": "reports", "direction": None, "unit": "", "grid": grid, "p999": 9.99,
                     "p001": 0.01, "importance": 1.0},
        },
    }
    rows = [("x1", 12.0, -1.0, 1.0, 99.0),    # hi beyond all (tail 0), lo beyond all (tail 0), flat too
            ("x2", 9.0, 5.0, 0.0, 99.0),      # hi: 9 of 11 below -> tail 2/11 = 0.18 <= 0.2 ; flat tie = 0
            ("x3", None, 0.0, None, 99.0),    # lo: at the minimum: atmost 1/11 -> reason
            ("x4", 5.0, 5.0, 0.0, 99.0)]      # nothing unusual -> empty list, not null
    df = spark.createDataFrame(rows, "id string, hi double, lo double, flat double, free double")
    got = {r.id: _as_dicts(r.reasons) for r in with_reasons(df, ref).collect()}
    assert [r["feature"] for r in got["x1"]] == ["flat", "lo"]     # ties at tail 0 -> by importance
    assert [r["feature"] for r in got["x2"]] == ["hi"]
    assert got["x2"][0]["human_percentile"] == pytest.approx(50 * (9 / 11 + 10 / 11))
    assert got["x2"][0]["text"] == "hi = 9: higher than 81.8% of humans; human 99.9th percentile is 9.99"
    assert got["x3"][0]["feature"] == "lo" and got["x3"][0]["human_p999"] == 0.01
    assert got["x3"][0]["text"].startswith("lo = 0 (count): lower than 90.9% of humans")
    assert got["x4"] == []
    cols = ["id", "hi", "lo", "flat", "free"]
    for row in rows:
        assert got[row[0]] == _oracle_reasons(dict(zip(cols, row, strict=True)), ref, 2, 80.0)


def test_scores_columns_are_typed_as_declared(scored):
    _, out, _ = scored
    types = {f.name: f.dataType for f in out.schema.fields}
    assert isinstance(types["score"], DoubleType) and isinstance(types["feature_table_version"], LongType)
