"""Exploration: a share of moderator capacity goes to the most novel accounts the model did not flag,
spread through the queue (enforcement/policy.exploration_candidates, enforcement/review.interleave_rank)."""

from __future__ import annotations

import random

import pandas as pd

from genuine.enforcement.policy import ROUTE_EXPLORATION, ROUTE_REVIEW_BAND, decide
from genuine.enforcement.review import interleave_rank
from tests.enforcement._data import (
    account_row,
    accounts_df,
    score_row,
    scores_df,
    scores_with_novelty,
    status_df,
    status_row,
    with_queue,
)


def _routes(decisions) -> dict[str, tuple[str, str]]:
    return {r.account_id: (r.outcome, r.route_reason)
            for r in decisions.select("account_id", "outcome", "route_reason").collect()}


def test_the_most_novel_unseen_band_none_accounts_fill_the_exploration_slots(spark, cfg):
    rng = random.Random(3)
    e = with_queue(cfg, capacity=40, exploration_share=0.25, exploration_min_novelty=0.5)   # 10 slots
    rows, novelty = [], {}
    for i in range(60):
        aid = f"n{i:02d}"
        rows.append(score_row(aid, rng.random() * 0.3, "none", []))
        novelty[aid] = rng.choice([None, rng.random()])
    rows.append(score_row("flagged", 0.8, "review", []))
    novelty["flagged"] = 0.99
    seen = {"n00": "cleared", "n01": "pending_review", "n02": "actioned"}
    for aid in seen:
        novelty[aid] = 1.0                      # the most novel of all, but someone already looked
    status = status_df(spark, [status_row(a, s, []) for a, s in seen.items()])
    accounts = accounts_df(spark, [account_row(r[0]) for r in rows])

    got = _routes(decide(scores_with_novelty(spark, rows, novelty), accounts, [], e, status)[0])

    pool = sorted(((v, a) for a, v in novelty.items() if a.startswith("n") and a not in seen
                   and v is not None and v >= 0.5), key=lambda t: (-t[0], t[1]))
    want = {a: ("review", ROUTE_EXPLORATION) for _, a in pool[:10]} | {"flagged": ("review", ROUTE_REVIEW_BAND)}
    assert got == want


def test_no_exploration_without_novelty_or_without_slots(spark, cfg):
    rows = [score_row("flagged", 0.8, "review", []), score_row("quiet", 0.1, "none", [])]
    accounts = accounts_df(spark, [account_row(r[0]) for r in rows])
    legacy = decide(scores_df(spark, rows), accounts, [], with_queue(cfg, capacity=10, exploration_share=0.5), None)[0]
    off = decide(scores_with_novelty(spark, rows, {"quiet": 1.0}), accounts, [],
                 with_queue(cfg, capacity=10, exploration_share=0.0), None)[0]
    assert _routes(legacy) == _routes(off) == {"flagged": ("review", ROUTE_REVIEW_BAND)}


def test_interleaved_rank_gives_exploration_its_share_of_every_prefix(spark):
    rng = random.Random(5)
    rows = [(f"a{i:03d}", rng.random(), rng.random(), ROUTE_EXPLORATION if i % 4 == 0 else ROUTE_REVIEW_BAND)
            for i in range(80)]
    df = spark.createDataFrame(rows, "account_id string, priority double, score double, route_reason string")
    got = interleave_rank(df, 0.2).toPandas().sort_values("queue_rank")

    # oracle: each stream in priority order, the k-th of a stream at k / its share
    pdf = pd.DataFrame(rows, columns=["account_id", "priority", "score", "route_reason"])
    pdf["explore"] = pdf.route_reason == ROUTE_EXPLORATION
    pdf = pdf.sort_values(["priority", "score", "account_id"], ascending=[False, False, True])
    pdf["pos"] = pdf.groupby("explore").cumcount().add(1) / pdf.explore.map({True: 0.2, False: 0.8})
    want = pdf.sort_values(["pos", "explore", "account_id"], ascending=[True, False, True])
    assert got.account_id.tolist() == want.account_id.tolist()
    assert got.queue_rank.tolist() == list(range(1, 81))
    first_50 = got.head(50)
    assert (first_50.route_reason == ROUTE_EXPLORATION).sum() == 10
