"""Run report: Spark counts and precision/recall against a per-account pandas oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genuine.enforcement.run_report import outcome_counts, recorded_decisions, summarize, write_report

STRATEGIES = {"ordinary": "human", "night_shift": "unusual_human", "brand": "unusual_human",
              "engagement_farm": "ai", "humanized": "ai"}


@pytest.fixture(scope="module")
def accounts() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 600
    strategy = rng.choice(list(STRATEGIES), n, p=[0.5, 0.1, 0.1, 0.2, 0.1])
    band = rng.choice(["none", "review", "auto"], n, p=[0.6, 0.25, 0.15])
    df = pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "strategy": strategy,
                       "population": [STRATEGIES[s] for s in strategy], "band": band})
    flagged = df.band != "none"
    df["outcome"] = np.where(df.band == "auto", rng.choice(["auto_action", "review", "no_change"], n),
                             np.where(flagged, rng.choice(["review", "no_change"], n), None))
    df["held"] = flagged & (df.band == "auto") & (rng.random(n) < 0.2)
    df.loc[df.held, "outcome"] = "review"
    return df


def _frames(spark, acc: pd.DataFrame):
    scores = spark.createDataFrame(acc[["account_id", "band"]])
    dec = acc[acc.band != "none"][["account_id", "outcome", "held"]].rename(columns={"held": "held_by_breaker"})
    decisions = spark.createDataFrame(dec, "account_id string, outcome string, held_by_breaker boolean")
    truth = spark.createDataFrame(acc[["account_id", "population", "strategy"]])
    return scores, decisions, truth


def _oracle_final(acc: pd.DataFrame) -> pd.Series:
    return pd.Series(np.select([acc.held, acc.outcome.eq("auto_action"), acc.outcome.eq("review")],
                               ["held_by_breaker", "actioned", "queued"], "none"), index=acc.index)


def test_precision_and_recall_match_a_per_account_oracle(spark, accounts):
    rep = summarize(outcome_counts(*_frames(spark, accounts)), breaker_reason="ok")
    acc = accounts.assign(final=_oracle_final(accounts))
    ai = acc.population.eq("ai")
    masks = {"band review or auto": acc.band.isin(["review", "auto"]), "band auto": acc.band.eq("auto"),
             "queued for review": acc.final.isin(["queued", "held_by_breaker"]),
             "actioned automatically": acc.final.eq("actioned")}
    want = pd.DataFrame([{"selection": k, "flagged": int(m.sum()), "true_ai": int((m & ai).sum()),
                          "precision": (m & ai).sum() / m.sum(), "recall": (m & ai).sum() / ai.sum()}
                         for k, m in masks.items()])
    pd.testing.assert_frame_equal(rep.selections, want, check_dtype=False)
    assert rep.summary == {"accounts_scored": 600, "band_none": int(acc.band.eq("none").sum()),
                           "band_review": int(acc.band.eq("review").sum()), "band_auto": int(acc.band.eq("auto").sum()),
                           "actioned": int(acc.final.eq("actioned").sum()),
                           "held_by_breaker": int(acc.final.eq("held_by_breaker").sum()),
                           "queued": int(acc.final.eq("queued").sum()), "breaker": "ok", "ground_truth": True}
    g = rep.groups.set_index("strategy")
    for s in STRATEGIES:
        sel = acc.strategy.eq(s)
        assert g.loc[s, "accounts"] == sel.sum()
        for k, m in masks.items():
            assert g.loc[s, k] == pytest.approx((m & sel).sum() / sel.sum(), abs=1e-12)
    assert g.loc["night_shift", "reads_as"] == "false-positive rate" and g.loc["humanized", "reads_as"] == "recall"


def test_without_truth_only_volumes(spark, accounts):
    scores, decisions, _ = _frames(spark, accounts)
    rep = summarize(outcome_counts(scores, decisions, None))
    assert rep.summary["ground_truth"] is False and rep.groups.empty
    assert list(rep.selections.columns) == ["selection", "flagged"]
    assert rep.selections.flagged.tolist()[:2] == [int(accounts.band.ne("none").sum()),
                                                  int(accounts.band.eq("auto").sum())]


def test_report_files_are_written(spark, accounts, tmp_path):
    rep = write_report(summarize(outcome_counts(*_frames(spark, accounts))), tmp_path, "demo run", {"run": "r1"})
    text = rep.markdown.read_text(encoding="utf-8")
    assert "# demo run" in text and "- run: r1" in text and "| ai | engagement_farm | recall |" in text
    assert rep.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_recorded_decisions_read_back_queue_and_action_log(spark):
    queue = spark.createDataFrame(
        [("r1", "a", False), ("r1", "b", True), ("r0", "c", False), ("r1", "d", None)],
        "scoring_run_id string, account_id string, held_by_breaker boolean")
    log = spark.createDataFrame(
        [("r1", "e", "policy"), ("r1", "e", "policy"), ("r1", "a", "moderator"), ("r0", "f", "policy")],
        "scoring_run_id string, account_id string, decision_source string")
    got = sorted(tuple(r) for r in recorded_decisions(queue, log, "r1").collect())
    assert got == [("a", "review", False), ("b", "review", True), ("d", "review", False), ("e", "auto_action", False)]
