"""Separation report: Spark AUCs from value counts vs sklearn's roc_auc_score on the same accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from genuine.features.registry import Feature
from genuine.features.separation import SeparationConfig, separation_aucs, write_report

GROUPS = {  # strategy -> population
    "ordinary": "human",
    "farm": "ai",
    "scheduler": "ai",
    "night": "unusual_human",
    "empty": "ai",            # all its values null for `x_sparse`: AUC must be null there
}


def _synthetic(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sizes = {"ordinary": 400, "farm": 60, "scheduler": 45, "night": 30, "empty": 12}
    rows, truth = [], []
    k = 0
    for g, n in sizes.items():
        shift = {"ordinary": 0.0, "farm": 1.0, "scheduler": -0.7, "night": 0.3, "empty": 0.5}[g]
        for _ in range(n):
            aid = f"a{k:05d}"
            k += 1
            x_cont = rng.normal(shift, 1.0)
            x_ties = float(rng.integers(0, 4) + (1 if g == "farm" else 0))          # heavy ties
            x_count = int(rng.poisson(3 + 2 * (g == "scheduler")))                  # long column
            x_sparse = None if g == "empty" or rng.random() < 0.3 else rng.normal(shift, 1)
            if x_sparse is not None and rng.random() < 0.05:
                x_sparse = float("nan")                                              # NaN counts as missing
            rows.append((aid, x_cont, x_ties, x_count, x_sparse, None))
            truth.append((aid, g, GROUPS[g]))
    rows.append(("not_in_truth", 99.0, 99.0, 99, 99.0, None))                       # ignored
    truth.append(("not_in_snapshot", "farm", "ai"))                                  # ignored
    snap = pd.DataFrame(rows, columns=["account_id", "x_cont", "x_ties", "x_count", "x_sparse", "x_null"])
    return snap, pd.DataFrame(truth, columns=["account_id", "strategy", "population"])


def _expected(snap: pd.DataFrame, truth: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    df = snap.merge(truth, on="account_id")
    out = []
    labelled = [(g, df[df.strategy == g]) for g in df.strategy.unique() if g != "ordinary"]
    labelled += [(f"all {p}", df[(df.population == p) & (df.strategy != "ordinary")])
                 for p in df[df.strategy != "ordinary"].population.unique()]
    base = df[df.strategy == "ordinary"]
    for f in features:
        b = base[f].astype(float).dropna()
        for g, sub in labelled:
            pos = sub[f].astype(float).dropna()
            auc = (roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(b))], np.r_[pos, b])
                   if len(pos) and len(b) else None)
            out.append((f, g, len(sub), len(base), len(pos), len(b), auc))
    return pd.DataFrame(out, columns=["feature", "group", "n_group", "n_baseline", "m_group", "m_baseline", "auc"])


def test_aucs_equal_sklearn_exactly(spark):
    snap, truth = _synthetic()
    features = ["x_cont", "x_ties", "x_count", "x_sparse", "x_null"]
    sdf = spark.createDataFrame(snap, "account_id string, x_cont double, x_ties double, x_count long, "
                                      "x_sparse double, x_null double")
    got = separation_aucs(sdf, spark.createDataFrame(truth), features, baseline="ordinary").toPandas()
    want = _expected(snap, truth, features)
    key = ["feature", "group"]
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    assert list(got[key].itertuples(index=False)) == list(want[key].itertuples(index=False))
    for col in ("n_group", "n_baseline", "m_group", "m_baseline"):
        assert got[col].tolist() == want[col].tolist(), col
    both = want.auc.notna()
    assert got.auc.isna().tolist() == (~both).tolist()
    np.testing.assert_allclose(got.auc[both].astype(float), want.auc[both].astype(float), rtol=0, atol=1e-12)
    # the null cases are the ones we built: an all-null feature and a group without any value
    assert set(map(tuple, got[got.auc.isna()][key].to_numpy())) == (
        {("x_null", g) for g in want.group.unique()} | {("x_sparse", "empty")})
    assert set(got.population[got.group == "all ai"]) == {"ai"}


def test_auc_orientation_and_perfect_separation(spark):
    snap = pd.DataFrame({"account_id": ["b1", "b2", "b3", "g1", "g2"], "x": [1.0, 2.0, 3.0, 10.0, 20.0]})
    truth = pd.DataFrame({"account_id": ["b1", "b2", "b3", "g1", "g2"], "strategy": ["o", "o", "o", "g", "g"],
                          "population": ["human"] * 3 + ["ai"] * 2})
    got = separation_aucs(spark.createDataFrame(snap), spark.createDataFrame(truth), ["x"],
                          baseline="o").toPandas().set_index("group")
    assert got.auc.to_dict() == {"g": 1.0, "all ai": 1.0}
    got_low = separation_aucs(spark.createDataFrame(snap.assign(x=-snap.x)), spark.createDataFrame(truth), ["x"],
                              baseline="o", population_column=None).toPandas()
    assert got_low[["group", "auc"]].to_dict("records") == [{"group": "g", "auc": 0.0}]


def test_missing_feature_is_an_error(spark):
    snap = spark.createDataFrame(pd.DataFrame({"account_id": ["a"], "x": [1.0]}))
    truth = spark.createDataFrame(pd.DataFrame({"account_id": ["a"], "strategy": ["o"], "population": ["h"]}))
    with pytest.raises(ValueError, match="lacks column"):
        separation_aucs(snap, truth, ["x", "y"], baseline="o")


def test_report_files_written(spark, tmp_path):
    snap, truth = _synthetic(5)
    features = ["x_cont", "x_ties", "x_count", "x_sparse", "x_null"]
    sdf = spark.createDataFrame(snap, "account_id string, x_cont double, x_ties double, x_count long, "
                                      "x_sparse double, x_null double")
    table = separation_aucs(sdf, spark.createDataFrame(truth), features, baseline="ordinary").toPandas()
    registry = [Feature("x_cont", "behaviour", "u", "m"), Feature("x_ties", "content", "u", "m"),
                Feature("x_count", "network", "u", "m"), Feature("x_sparse", "reports", "u", "m"),
                Feature("x_null", "reports", "u", "m")]
    rep = write_report(table, registry, tmp_path / "rep", SeparationConfig(), "synthetic")
    assert rep.markdown == tmp_path / "rep" / "separation.md"
    assert sorted(p.name for p in rep.heatmaps) == ["separation_ai.png", "separation_unusual_human.png"]
    for p in rep.heatmaps:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = rep.markdown.read_text(encoding="utf-8")
    # every (feature, group) AUC appears in the per-population tables, rounded as printed
    ai_row = next(line for line in text.splitlines() if line.startswith("| network | `x_count` |")
                  and "scheduler" not in line)
    want = table[(table.feature == "x_count")].set_index("group")
    for g in ("empty", "farm", "scheduler", "all ai"):
        assert f"{want.auc[g]:.2f} (" in ai_row
    assert "## Features that would hurt the unusual humans" in text
    assert "| all ai | ai | 117 |" in text   # 60 + 45 + 12 accounts pooled


def test_empty_comparison_writes_a_note(tmp_path):
    empty = pd.DataFrame(columns=["feature", "group", "population", "n_group", "n_baseline", "m_group",
                                  "m_baseline", "auc"])
    rep = write_report(empty, [], tmp_path, SeparationConfig(), "nothing")
    assert rep.heatmaps == [] and "nothing to compare" in rep.markdown.read_text(encoding="utf-8")
