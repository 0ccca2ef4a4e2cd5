"""The simulated export honours the input contract: schema, enums, referential integrity, time order."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from genuine.devtools.simulator import ENTITIES

# Written out by hand from the contract (docs/input-contract.md), not imported from the simulator.
EXPECTED_TYPES = {
    "accounts": {"account_id": "string", "created_at": "int64", "nickname": "string", "bio": "string",
                 "verified": "bool", "declared_ai_assisted": "bool", "region": "string"},
    "posts": {"post_id": "string", "account_id": "string", "created_at": "int64", "title": "string",
              "body": "string", "client": "string", "topics": "list<element: string>",
              "media": "list<element: struct<phash: string, aigc_label: bool>>", "declared_ai": "bool"},
    "interactions": {"event_id": "string", "actor_id": "string", "kind": "string", "target_account_id": "string",
                     "target_post_id": "string", "created_at": "int64", "body": "string"},
    "sessions": {"session_id": "string", "account_id": "string", "device_id": "string", "ip": "string",
                 "started_at": "int64", "client": "string"},
    "reports": {"report_id": "string", "reporter_id": "string", "reported_account_id": "string", "reason": "string",
                "created_at": "int64", "body": "string"},
    "labels": {"account_id": "string", "label": "string", "source": "string", "decided_at": "int64"},
}
TRUTH_TYPES = {"account_id": "string", "population": "string", "strategy": "string", "cluster_id": "string"}
CLIENTS = {"ios", "android", "web", "mini_program", "open_api", "scheduler"}
KINDS = {"like", "collect", "comment", "share", "follow", "unfollow"}
POST_KINDS = {"like", "collect", "comment", "share"}
REASONS = {"spam", "fake_account", "ai_generated", "harassment", "misinformation", "other"}
REGIONS = {"CN", "HK", "TW", "SG", "MY", "US", "GB", "AU", "JP"}
START = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)


def test_every_part_file_has_exactly_the_contract_schema(export):
    assert set(ENTITIES) == set(EXPECTED_TYPES)
    for entity, expected in EXPECTED_TYPES.items():
        files = sorted((export.path / entity).glob("part-*.parquet"))
        assert files, entity
        for f in files:
            schema = pq.read_schema(f)
            assert {field.name: str(field.type) for field in schema} == expected, f
            assert schema.names == list(expected), f   # column order too
    truth = pq.read_schema(export.path / "_truth" / "accounts.parquet")
    assert {f.name: str(f.type) for f in truth} == TRUTH_TYPES


def test_two_chunks_write_one_part_per_chunk_and_summary_counts_rows(export):
    for entity in ("accounts", "posts", "interactions", "sessions", "reports"):
        assert [p.name for p in sorted((export.path / entity).glob("*.parquet"))] == [
            "part-00000.parquet", "part-00001.parquet"]
    assert export.summary.rows == {e: len(export[e]) for e in EXPECTED_TYPES}
    assert export.summary.truth_rows == len(export.truth) == len(export["accounts"])


def test_ids_are_unique(export):
    for entity, key in [("accounts", "account_id"), ("posts", "post_id"), ("interactions", "event_id"),
                        ("sessions", "session_id"), ("reports", "report_id"), ("labels", "account_id")]:
        assert export[entity][key].is_unique, entity
        assert export[entity][key].notna().all(), entity


def test_enums_and_formats(export):
    acc, posts, inter, sess, rep, lab = (export[e] for e in EXPECTED_TYPES)
    assert set(acc.region) <= REGIONS and (acc.region == "CN").mean() > 0.6
    assert set(posts.client) <= CLIENTS and set(sess.client) <= CLIENTS
    assert set(inter.kind) == KINDS
    assert set(rep.reason) <= REASONS
    assert set(lab.label) == {"ai_managed", "human"} and set(lab.source) == {"moderator"}
    phashes = [m["phash"] for media in posts.media for m in media]
    assert phashes and all(re.fullmatch(r"[0-9a-f]{16}", p) for p in phashes)
    for ip in sess.ip:
        octets = ip.split(".")
        assert len(octets) == 4 and all(o.isdigit() and str(int(o)) == o and int(o) <= 255 for o in octets), ip
    assert posts.topics.map(len).max() >= 3 and posts.media.map(len).max() >= 5
    for col in ("title", "body"):
        assert posts[col].notna().all() and (posts[col].str.len() > 0).all()
    assert acc.nickname.notna().all() and acc.bio.notna().all()


def test_post_targets_and_bodies_follow_the_kind(export):
    inter = export["interactions"]
    on_post = inter.kind.isin(POST_KINDS)
    assert inter.loc[on_post, "target_post_id"].notna().all()
    assert inter.loc[~on_post, "target_post_id"].isna().all()
    assert inter.target_account_id.notna().all()
    comment = inter.kind == "comment"
    assert inter.loc[comment, "body"].notna().all() and (inter.loc[comment, "body"].str.len() > 0).all()
    assert inter.loc[~comment, "body"].isna().all()


def test_referential_integrity(export):
    acc, posts, inter, sess, rep, lab = (export[e] for e in EXPECTED_TYPES)
    ids = set(acc.account_id)
    for df, col in [(posts, "account_id"), (inter, "actor_id"), (inter, "target_account_id"), (sess, "account_id"),
                    (rep, "reporter_id"), (rep, "reported_account_id"), (lab, "account_id")]:
        missing = set(df[col]) - ids
        assert not missing, (col, list(missing)[:3])
    assert set(export.truth.account_id) == ids
    on_post = inter[inter.kind.isin(POST_KINDS)].merge(
        posts[["post_id", "account_id", "created_at"]], left_on="target_post_id", right_on="post_id",
        how="left", suffixes=("", "_post"), validate="many_to_one")
    assert on_post.post_id.notna().all(), "orphan target_post_id"
    assert (on_post.created_at > on_post.created_at_post).all(), "interaction before the post it targets"
    # the target account is the post's author, except for a reply: a comment by the post's author whose
    # target is an account that commented on that post before
    reply = (on_post.kind == "comment") & (on_post.actor_id == on_post.account_id)
    assert (on_post.loc[~reply, "target_account_id"] == on_post.loc[~reply, "account_id"]).all(), \
        "target account is not the post's author"
    replies = on_post[reply]
    assert len(replies) > 0
    comments = on_post[(on_post.kind == "comment") & ~reply]
    first = comments.groupby(["target_post_id", "actor_id"]).created_at.min()
    answered = first.reindex(pd.MultiIndex.from_arrays([replies.target_post_id, replies.target_account_id]))
    assert answered.notna().all(), "a reply to an account that did not comment on the post"
    assert (replies.created_at.to_numpy() > answered.to_numpy()).all(), "a reply before the comment it answers"
    assert (inter.actor_id != inter.target_account_id).all(), "self-engagement or self-follow"
    assert (rep.reporter_id != rep.reported_account_id).all()


def test_time_order(export):
    acc, posts, inter, sess, rep, lab = (export[e] for e in EXPECTED_TYPES)
    end = START + 14 * 86_400_000
    created = acc.set_index("account_id").created_at
    assert created.max() < end and created.min() > START - 3651 * 86_400_000
    first_act = {}
    for df, who, when in [(posts, "account_id", "created_at"), (inter, "actor_id", "created_at"),
                          (sess, "account_id", "started_at"), (rep, "reporter_id", "created_at")]:
        assert df[when].between(START, end - 1).all(), who
        assert (df[when].to_numpy() > created.loc[df[who]].to_numpy()).all(), f"{who} acts before it exists"
        first_act[who] = df.groupby(who)[when].min()
    # a follow or report concerns an account that exists already
    assert (inter.created_at.to_numpy() > created.loc[inter.target_account_id].to_numpy()).all()
    assert (rep.created_at.to_numpy() > created.loc[rep.reported_account_id].to_numpy()).all()
    # labels: after the account's activity starts, within the period
    first = pd.concat(first_act.values()).groupby(level=0).min()
    lab = lab.set_index("account_id")
    assert lab.decided_at.between(START, end - 1).all()
    acted = lab.index.intersection(first.index)
    assert (lab.loc[acted, "decided_at"] > first.loc[acted]).all()
    # unfollows come after a follow of the same pair by the same actor
    fol = inter[inter.kind == "follow"].groupby(["actor_id", "target_account_id"]).created_at.min()
    unf = inter[inter.kind == "unfollow"].set_index(["actor_id", "target_account_id"]).created_at
    assert len(unf) > 0
    assert (unf.to_numpy() > fol.reindex(unf.index).to_numpy()).all()


def test_labels_are_a_stratified_sample_with_rare_errors(export):
    lab = export["labels"].merge(export.truth, on="account_id")
    per = lab.groupby("strategy").size()
    all_per = export.truth.groupby("strategy").size()
    assert set(per.index) == set(all_per.index), "a strategy has no moderator label"
    expected = np.maximum(1, np.round(0.3 * all_per))
    assert (per == expected.loc[per.index]).all()
    wrong = (lab.label == "ai_managed") != (lab.population == "ai")
    assert wrong.mean() <= 0.05


def test_truth_populations_and_clusters(export):
    truth = export.truth
    assert set(truth.population) == {"human", "unusual_human", "ai"}
    pop_of = {"ordinary": "human", "prolific_creator": "unusual_human", "brand": "unusual_human",
              "night_shift": "unusual_human", "fan_community": "unusual_human", "smm_manager": "unusual_human",
              "ai_assisted_creator": "unusual_human", "shift_worker": "unusual_human", "fixed_interval": "ai",
              "jittered_scheduler": "ai", "engagement_farm": "ai", "device_ring": "ai", "humanized": "ai",
              "hijacked": "ai", "dormant_sleeper": "ai", "loose_ring": "ai", "llm_persona": "ai"}
    assert set(truth.strategy) == set(pop_of)
    assert (truth.strategy.map(pop_of) == truth.population).all()
    prefix = {"engagement_farm": "farm-", "device_ring": "ring-", "dormant_sleeper": "cell-", "loose_ring": "loose-",
              "fan_community": "fan-", "smm_manager": "smm-"}
    clustered = truth.cluster_id.notna()
    assert set(truth.loc[clustered, "strategy"]) == set(prefix)
    for strategy, head in prefix.items():
        assert truth.loc[truth.strategy == strategy, "cluster_id"].str.startswith(head).all(), strategy
    assert truth.groupby("cluster_id").strategy.nunique().max() == 1, "a cluster mixes strategies"
