from __future__ import annotations

import math
import random
import re
from datetime import datetime, timedelta

import pandas as pd

from genuine.enforcement.config import enforcement_config
from genuine.enforcement.ids import stable_id_py
from genuine.enforcement.policy import decide
from genuine.enforcement.review import review_queue
from tests.enforcement._data import (
    NOW,
    RUN,
    SNAP,
    account_row,
    accounts_df,
    clusters_df,
    post_row,
    posts_df,
    reach_df,
    reason,
    score_row,
    scores_df,
    with_breaker,
)

AUTO_THRESHOLD = 0.9


def _oracle(scores, reach, posts, clusters, q, queued_ids) -> pd.DataFrame:
    """Brute force over plain Python lists: the spec of priority, ordering and evidence."""
    reach_of = {}
    for acc, r in reach:
        reach_of[acc] = max(reach_of.get(acc, r), r)
    cluster_of = {}
    for acc, cid in clusters:
        cluster_of[acc] = min(cluster_of.get(acc, cid), cid)
    members = {}
    for acc, cid in set(clusters):
        members.setdefault(cid, set()).add(acc)
    rows = []
    for acc, score in scores:
        if acc not in queued_ids:
            continue
        r = reach_of.get(acc)
        harm = score * math.log(1 + (r or 0)) / math.log(1 + q.reach_scale)
        unc = max(0.0, 1 - abs(score - AUTO_THRESHOLD) / q.uncertainty_band)
        cutoff = datetime.combine(SNAP + timedelta(days=1), datetime.min.time())
        mine = sorted([p for p in posts if p[1] == acc and p[2] is not None and p[2] < cutoff],
                      key=lambda p: (-p[2].timestamp(), p[0]))[:q.max_sample_posts]
        sample = [(p[0], p[2], re.sub(r"\s+", " ", " ".join(x for x in (p[3], p[4]) if x is not None)).strip()
                   [:q.snippet_chars]) for p in mine]
        cid = cluster_of.get(acc)
        others = sorted(members[cid] - {acc}) if cid else []
        rows.append({"account_id": acc, "reach": r, "expected_harm": harm, "uncertainty": unc,
                     "priority": q.harm_weight * harm + q.uncertainty_weight * unc, "score": score,
                     "sample_posts": sample, "cluster_id": cid,
                     "cluster_size": len(members[cid]) if cid else None,
                     "cluster_members": others[:q.max_cluster_members],
                     "cluster_members_truncated": len(others) > q.max_cluster_members,
                     "queue_id": stable_id_py(["queue", RUN, acc])})
    df = pd.DataFrame(rows).sort_values(["priority", "score", "account_id"], ascending=[False, False, True])
    df["queue_rank"] = range(1, len(df) + 1)
    return df.drop(columns="score").reset_index(drop=True)


def test_queue_priority_order_and_evidence_match_oracle(spark, cfg):
    e = enforcement_config(cfg)
    q = e.queue.model_copy(update={"max_sample_posts": 2, "max_cluster_members": 3, "snippet_chars": 12})
    e = with_breaker(e, floor=1000).model_copy(update={"queue": q})
    rnd = random.Random(3)
    one_family = [reason("behaviour", 99.9)]
    scores = [(f"q{i:02d}", round(rnd.uniform(0.55, 0.99), 4)) for i in range(14)]
    scores.append(("tie_a", 0.8))
    scores.append(("tie_b", 0.8))            # same score, same reach: account_id breaks the tie
    score_rows = [score_row(a, s, "auto" if s >= AUTO_THRESHOLD else "review", one_family) for a, s in scores]
    score_rows.append(score_row("acted", 0.99, "auto", [reason("behaviour", 99.9), reason("content", 99.9)]))
    score_rows.append(score_row("ignored", 0.2, "none", one_family))
    accs = [account_row(r[0]) for r in score_rows]
    reach = [(a, rnd.choice([0, 10, 5000, 2_000_000])) for a, _ in scores[:10]] + [("q00", 7), ("tie_a", 100),
                                                                                   ("tie_b", 100)]
    base = datetime(2026, 10, 5, 12, 0)
    posts = [post_row("p1", "q00", base, "Title", "body   with\nspaces and more words"),
             post_row("p2", "q00", base, None, "same time, higher id"),
             post_row("p0", "q00", base - timedelta(hours=1), "older", None),
             post_row("late", "q00", base + timedelta(days=2), "after the snapshot", "x"),
             post_row("nul", "q00", None, "no time", "x"),
             post_row("z1", "q01", base - timedelta(days=3), "长文本中文内容测试一二三四五六七八九十", None),
             post_row("n1", "not_queued", base, "x", "y")]
    big = [(f"m{i}", "C1") for i in range(6)] + [("q00", "C1"), ("q01", "C2"), ("m0", "C2"),
                                                  ("q02", "C1"), ("q02", "C9")]
    decisions, _ = decide(scores_df(spark, score_rows), accounts_df(spark, accs), [], e)
    got = review_queue(decisions, posts_df(spark, posts), clusters_df(spark, big), reach_df(spark, reach), e,
                       auto_threshold=AUTO_THRESHOLD, job_run_id="job-1", enqueued_at=NOW).toPandas()

    queued_ids = {a for a, _ in scores}
    expected = _oracle(scores, reach, posts, big, q, queued_ids)
    cols = list(expected.columns)
    got = got.sort_values("queue_rank").reset_index(drop=True)
    got["sample_posts"] = got["sample_posts"].map(lambda ps: [(p["post_id"], p["created_at"], p["snippet"])
                                                              for p in ps])
    got["cluster_members"] = got["cluster_members"].map(list)
    pd.testing.assert_frame_equal(got[cols], expected, check_dtype=False, check_exact=False, rtol=1e-9)
    assert set(got.route_reason) == {"review_band", "insufficient_families"}
    assert "acted" not in set(got.account_id) and "ignored" not in set(got.account_id)
    assert list(got.loc[got.account_id == "q00", "reason_codes"].iloc[0]) == ["behaviour.behaviour_signal"]
    assert set(got.enqueued_run_id) == {"job-1"}
