"""models/monitoring.py against independent oracles: PSI and KS per feature (numpy, scipy.stats.ks_2samp),
score drift and band volumes (numpy), precision per band (pandas), on small hand-built frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from genuine.core.schemas import DECISIONS, SCORES
from genuine.models.config import MonitoringConfig
from genuine.models.monitoring import (
    RunKey,
    band_precision,
    drift_reference,
    feature_drift,
    monitoring_rows,
    recent_runs,
    score_drift,
    score_histograms,
    summary_line,
    to_spark,
)
from tests.oracles import drift_oracle

CFG = MonitoringConfig(reference_sample=400, reference_bins=8)
NAMES = ["smooth", "counts", "shifted", "nullier", "empty_now"]


def _frame(n: int, seed: int, drift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "smooth": rng.normal(size=n),
        "counts": rng.poisson(1.5, n).astype("float64"),           # heavy ties: KS and bins must count them
        "shifted": rng.lognormal(0.0, 0.5, n) * (3.0 if drift else 1.0),
        "nullier": rng.uniform(size=n),
        "empty_now": rng.uniform(size=n),
    })
    df.loc[rng.random(n) < (0.4 if drift else 0.05), "nullier"] = np.nan
    if drift:
        df["empty_now"] = np.nan                                   # a feature that stopped being computed
    return df


def _spark_frame(spark, pdf: pd.DataFrame):
    clean = pdf.astype(object).where(pdf.notna(), None)
    return spark.createDataFrame(clean.to_dict("records"), ", ".join(f"{c} double" for c in pdf.columns))


@pytest.mark.parametrize("drift", [False, True])
def test_feature_drift_equals_numpy_and_scipy_oracle(spark, drift):
    ref = drift_reference(_frame(1000, 1, False), NAMES, CFG, seed=3, source="test")
    cur = _frame(700, 2, drift)
    cur.loc[5, "smooth"] = np.nan        # NaN in the table counts as null
    got = feature_drift(_spark_frame(spark, cur), ref, CFG)
    want = drift_oracle(ref, cur, CFG.psi_epsilon)
    pd.testing.assert_frame_equal(got.drop(columns="moved").sort_values("feature").reset_index(drop=True),
                                  want.sort_values("feature").reset_index(drop=True), check_dtype=False, rtol=1e-9)
    moved = {r.feature: r.moved for r in got.itertuples() if r.moved}
    if drift:
        assert moved == {"shifted": ["psi", "ks"], "nullier": ["null_share"], "empty_now": ["null_share"]}
        line = summary_line(got, pd.DataFrame(columns=["kind", "subject", "metric", "value", "reference", "breached"]))
        assert line is not None and "\n" not in line
        assert line.startswith("drift: 3 feature(s) moved") and all(f in line for f in moved)
    else:
        assert moved == {}


def test_reference_sample_shares_and_nulls():
    pop = _frame(1000, 1, False)
    ref = drift_reference(pop, NAMES, CFG, seed=3, source="test")
    sample = pop.sample(n=400, random_state=3)
    for n in NAMES:
        f = ref["features"][n]
        want = np.sort(sample[n].dropna().to_numpy())
        np.testing.assert_array_equal(f["sample"], want)
        assert f["null_share"] == pytest.approx(sample[n].isna().mean(), abs=1e-12)
        assert sum(f["shares"]) == pytest.approx(1.0)
    assert ref["n_population"] == 1000 and ref["n_sample"] == 400


def _scores(spark, runs: dict[str, tuple[dt.datetime, np.ndarray]]):
    rows = []
    for rid, (t, s) in runs.items():
        for i, v in enumerate(s):
            band = "auto" if v >= 0.9 else "review" if v >= 0.6 else "none"
            rows.append({"account_id": f"a{i:04d}", "snapshot_date": t.date(), "score": float(v), "novelty": None,
                         "band": band, "model_name": "m", "model_version": "1", "model_run_id": "r",
                         "feature_table_version": 1, "scoring_run_id": rid, "reasons": [], "scored_at": t})
    return spark.createDataFrame(rows, SCORES)


def test_score_drift_and_band_volumes_equal_numpy(spark):
    rng = np.random.default_rng(5)
    t0 = dt.datetime(2026, 11, 1, 2, 0)
    runs = {f"s{d}": (t0 + dt.timedelta(days=d), rng.beta(1, 6, 300)) for d in range(4)}
    runs["s4"] = (t0 + dt.timedelta(days=4), rng.beta(3, 2, 300))       # scores moved up
    cfg = MonitoringConfig(score_runs=3, min_history_runs=3)
    sdf = _scores(spark, runs)
    order = recent_runs(sdf, 4)
    assert [r for r, _ in order] == ["s4", "s3", "s2", "s1"]
    earlier = ["s3", "s2", "s1"]
    got = score_drift(score_histograms(sdf, ["s4", *earlier], cfg.score_bins), "s4", earlier, cfg)

    def hist(x):
        return np.histogram(x, bins=np.linspace(0, 1, cfg.score_bins + 1))[0]
    cur = hist(runs["s4"][1]) / 300
    prev = sum(hist(runs[r][1]) for r in earlier) / 900
    c, p = np.maximum(cur, cfg.psi_epsilon), np.maximum(prev, cfg.psi_epsilon)
    psi = float(np.sum((c - p) * np.log(c / p)))

    def vol(r, b):
        s = runs[r][1]
        return float({"auto": (s >= 0.9).sum(), "review": ((s >= 0.6) & (s < 0.9)).sum(), "none": (s < 0.6).sum()}[b])
    want = [{"kind": "score", "subject": "score", "metric": "psi", "value": psi, "reference": 0.0,
             "threshold": cfg.score_psi_threshold, "breached": psi > cfg.score_psi_threshold}]
    for b in ("auto", "review", "none"):
        v, ref = vol("s4", b), float(np.mean([vol(r, b) for r in earlier]))
        want.append({"kind": "band", "subject": b, "metric": "volume", "value": v, "reference": ref,
                     "threshold": cfg.band_volume_ratio,
                     "breached": bool((ref > 0 and (v > 3 * ref or v < ref / 3)) or (ref == 0 and v > 0 and b != "none"))})
    pd.testing.assert_frame_equal(got, pd.DataFrame(want), check_dtype=False, rtol=1e-9)
    assert got.loc[0, "breached"]                   # the moved scores are flagged
    # with too little history nothing is judged
    few = score_drift(score_histograms(sdf, ["s4", "s3"], cfg.score_bins), "s4", ["s3"], cfg)
    assert few["breached"].isna().all()


def test_band_precision_equals_pandas_oracle(spark):
    t0 = dt.datetime(2026, 11, 1, 2, 0)
    rng = np.random.default_rng(9)
    runs = {"r1": (t0, rng.uniform(size=60)), "r2": (t0 + dt.timedelta(days=1), rng.uniform(size=60))}
    sdf = _scores(spark, runs)
    dec = []
    for i in range(60):
        if i % 3 == 0:
            continue                                   # never reviewed
        when = t0 + dt.timedelta(hours=int(rng.integers(1, 60)))
        dec.append({"decision_id": f"d{i}", "kind": "review", "account_id": f"a{i:04d}",
                    "decision": "confirm" if i % 2 else "clear", "moderator_id": "m", "note": None, "decided_at": when,
                    "applied": True, "not_applied_reason": None, "prior_status": None, "source_file": "f",
                    "record_no": i, "import_run_id": "imp", "imported_at": when})
        if i % 7 == 0:                                 # a later decision on the same account: only the first counts
            dec.append({**dec[-1], "decision_id": f"e{i}", "decision": "clear" if i % 2 else "confirm",
                        "decided_at": when + dt.timedelta(days=3)})
    ddf = spark.createDataFrame(dec, DECISIONS)
    got = band_precision(sdf, ddf, ["r1", "r2"], "confirm", "clear")

    d = pd.DataFrame(dec)
    rows = []
    for rid, (t, s) in runs.items():
        sc = pd.DataFrame({"account_id": [f"a{i:04d}" for i in range(len(s))],
                           "band": np.where(s >= 0.9, "auto", np.where(s >= 0.6, "review", "none"))})
        after = d[d.decided_at >= t].sort_values(["decided_at", "decision"]).groupby("account_id").head(1)
        m = sc.merge(after, on="account_id", how="left")
        m["delay"] = (m.decided_at - t).dt.total_seconds() / 3600
        for b, g in m.groupby("band"):
            rev = g.decision.notna().sum()
            conf = (g.decision == "confirm").sum()
            rows.append({"scoring_run_id": rid, "band": b, "scored": len(g), "reviewed": rev, "confirmed": conf,
                         "precision": conf / rev if rev else np.nan})
    want = pd.DataFrame(rows).sort_values(["scoring_run_id", "band"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got.drop(columns="delay_hours").sort_values(["scoring_run_id", "band"])
                                  .reset_index(drop=True), want, check_dtype=False)
    assert got["delay_hours"].between(1, 60).all()


def test_monitoring_rows_one_per_figure_and_keys_unique(spark):
    ref = drift_reference(_frame(1000, 1, False), NAMES, CFG, seed=3, source="test")
    feats = feature_drift(_spark_frame(spark, _frame(300, 2, True)), ref, CFG)
    scores = pd.DataFrame([{"kind": "band", "subject": "auto", "metric": "volume", "value": 5.0, "reference": 4.0,
                            "threshold": 3.0, "breached": None}])
    prec = pd.DataFrame([{"scoring_run_id": "old", "band": "review", "scored": 10, "reviewed": 4, "confirmed": 3,
                          "precision": 0.75, "delay_hours": 30.0}])
    now = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
    rows = monitoring_rows(RunKey("run", dt.date(2026, 12, 4), "m", "3"), feats, scores, prec, CFG, "mon-1", now)
    got = to_spark(spark, rows).toPandas()
    assert len(got) == 3 * len(NAMES) + 1 + 5
    assert not got.duplicated(["scoring_run_id", "model_version", "kind", "subject", "metric"]).any()
    f = got[got.kind == "feature"].set_index(["subject", "metric"])
    assert f.loc[("shifted", "psi"), "breached"] and not f.loc[("smooth", "psi"), "breached"]
    assert f.loc[("empty_now", "psi"), "breached"] is None      # not measured: not judged
    assert set(got.loc[got.kind == "precision", "scoring_run_id"]) == {"old"}
    assert (got.computed_at == pd.Timestamp("2026-12-05 12:00")).all()      # session time zone UTC
