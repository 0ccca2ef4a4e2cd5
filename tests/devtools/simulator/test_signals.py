"""Each population plants the signals docs/simulator.md says it does, measured from the export alone."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from views import CONNECTORS, EMOJI, UTC_OFFSET_H, night_share

from genuine.devtools.simulator import DEFAULT_SHARES, STRATEGIES
from genuine.devtools.simulator import banks as B
from genuine.devtools.simulator.params import SimParams
from genuine.devtools.simulator.population import build_population


def test_shares_are_exact_per_chunk(export):
    counts = export.truth.strategy.value_counts()
    assert counts["ordinary"] == 640
    assert all(counts[s] == 40 for s in STRATEGIES if s != "ordinary")


def test_default_shares_hold_on_a_larger_population():
    pop = build_population(50_000, 3, 0, 30 * 86_400_000, SimParams().validated())
    got = np.bincount(pop.strategy, minlength=len(STRATEGIES)) / 50_000
    for code, name in enumerate(STRATEGIES):
        assert abs(got[code] - DEFAULT_SHARES[name]) <= 3 / 50_000, name
    sizes = pd.Series(pop.cluster[pop.cluster >= 0]).value_counts()
    farm_sizes = sizes[[pop.cluster_names[c].startswith("farm") for c in sizes.index]]
    assert farm_sizes.between(10, 60 + 9).all() and len(farm_sizes) > 10


def test_fixed_interval_acts_every_exact_n_minutes(export, actions):
    fixed = actions[actions.strategy == "fixed_interval"]
    gaps = fixed.groupby("account_id").created_at.diff().dropna()
    per_account = gaps.groupby(fixed.loc[gaps.index, "account_id"])
    assert per_account.size().min() >= 20
    assert (per_account.std() == 0).all(), "fixed_interval gaps must not vary at all"
    assert (per_account.first() % 60_000 == 0).all() and (fixed.created_at % 60_000 == 0).all()
    assert set(fixed.kind) == {"post", "like"}
    fixed_posts = export["posts"][export["posts"].account_id.map(actions.groupby("account_id").strategy.first())
                                  == "fixed_interval"]
    assert set(fixed_posts.client) == {"open_api"}


def test_jittered_scheduler_is_regular_but_not_exact_and_reuses_a_template(export, actions, strategy_of):
    jit = actions[actions.strategy == "jittered_scheduler"]
    gaps = jit.groupby("account_id").created_at.diff().dropna()
    acc = jit.loc[gaps.index, "account_id"]
    med = gaps.groupby(acc).median()
    mad = (gaps - acc.map(med)).abs().groupby(acc).median()
    assert (mad / med < 0.1).all(), "scheduler gaps should cluster tightly around the interval"
    assert (gaps.groupby(acc).std() > 0).all(), "jitter must make gaps differ"
    posts = export["posts"][export["posts"].account_id.map(strategy_of) == "jittered_scheduler"]
    posts = posts[~posts.declared_ai]   # an honest scheduler that declares AI writes its declared posts freely
    topics = "|".join(sorted(map(re.escape, B.TOPICS_ZH + B.TOPICS_EN), key=len, reverse=True))
    skeleton = posts.body.str.replace(topics, "", regex=True).str.replace(r"\d+", "", regex=True)
    assert skeleton.groupby(posts.account_id).nunique().max() <= 2
    assert set(posts.client) <= {"open_api", "scheduler"}


def test_engagement_farm_members_hit_the_same_posts_within_seconds(export, strategy_of):
    truth = export.truth.set_index("account_id")
    inter = export["interactions"]
    likes = inter[(inter.kind == "like") & (inter.actor_id.map(strategy_of) == "engagement_farm")].assign(
        farm=lambda d: d.actor_id.map(truth.cluster_id))
    groups = likes.groupby(["farm", "target_post_id"]).created_at.agg(["size", "min", "max"])
    campaigns = groups[groups["size"] >= 5]
    farms = truth.loc[truth.strategy == "engagement_farm", "cluster_id"].nunique()
    assert campaigns.index.get_level_values("farm").nunique() == farms
    assert len(campaigns) >= 10
    assert ((campaigns["max"] - campaigns["min"]) <= 20_000).mean() >= 0.9
    in_campaign = likes.set_index(["farm", "target_post_id"]).index.isin(campaigns.index)
    assert likes[in_campaign].actor_id.nunique() >= 0.9 * (truth.strategy == "engagement_farm").sum()
    # near-duplicate comments: one base text per campaign
    comments = inter[(inter.kind == "comment") & (inter.actor_id.map(strategy_of) == "engagement_farm")]
    bases = B.FARM_COMMENT_ZH + B.FARM_COMMENT_EN
    base = comments.body.map(lambda b: next((x for x in bases if x in b), None))
    assert base.notna().all()
    top_share = base.groupby(comments.target_post_id.values).agg(lambda s: s.value_counts().iloc[0] / len(s))
    big = comments.groupby("target_post_id").size()
    assert top_share[big[big >= 4].index].median() >= 0.6


def test_farm_media_are_shared_and_human_media_are_not(export, strategy_of):
    posts = export["posts"].assign(strategy=lambda d: d.account_id.map(strategy_of))
    media = posts[["account_id", "strategy", "media"]].explode("media").dropna(subset=["media"])
    media["phash"] = media.media.map(lambda m: m["phash"])
    owners = media.groupby("phash").account_id.nunique()
    farm = media[media.strategy == "engagement_farm"]
    assert (farm.phash.map(owners) >= 2).mean() > 0.5
    people = media[media.strategy.isin(["ordinary", "prolific_creator", "night_shift", "brand"])]
    assert (people.phash.map(owners) == 1).all()


def test_farm_accounts_are_registered_in_one_batch(export):
    acc = export["accounts"].merge(export.truth, on="account_id")
    farms = acc[acc.strategy == "engagement_farm"].groupby("cluster_id").created_at
    assert ((farms.max() - farms.min()) <= 2 * 3_600_000).all()


def test_device_ring_accounts_share_a_few_devices_and_ips(export):
    sess = export["sessions"].merge(export.truth, on="account_id")
    rings = sess[sess.strategy == "device_ring"].groupby("cluster_id")
    assert (rings.device_id.nunique() <= 4).all() and (rings.ip.nunique() <= 3).all()
    assert (rings.account_id.nunique() / rings.device_id.nunique() >= 2).all()
    people = sess[(sess.population != "ai") & (sess.strategy != "smm_manager")]   # smm: one office for all
    assert (people.groupby("device_id").account_id.nunique() == 1).all()


def test_humanized_replies_at_a_stable_delay_and_keeps_a_human_day(export, actions, strategy_of):
    inter, posts = export["interactions"], export["posts"]
    c = inter[inter.kind == "comment"].merge(posts[["post_id", "created_at"]], left_on="target_post_id",
                                             right_on="post_id", suffixes=("", "_post"))
    c["latency"] = c.created_at - c.created_at_post
    c["strategy"] = c.actor_id.map(strategy_of)
    stats = c.groupby("actor_id").agg(n=("latency", "size"), cv=("latency", lambda x: x.std() / x.mean()),
                                      strategy=("strategy", "first"))
    stats = stats[stats.n >= 3]
    humanized, ordinary = stats[stats.strategy == "humanized"], stats[stats.strategy == "ordinary"]
    assert len(humanized) >= 20 and (humanized.cv < 0.15).all()
    assert ordinary.cv.median() > 0.5
    assert abs(night_share(actions, "humanized") - night_share(actions, "ordinary")) < 0.06
    assert night_share(actions, "fixed_interval") > 0.15


def test_night_shift_workers_are_active_at_night(actions):
    assert night_share(actions, "night_shift") > 2.5 * night_share(actions, "ordinary")


def test_brand_posts_leave_the_scheduler_at_fixed_times(export, strategy_of):
    acc = export["accounts"].set_index("account_id")
    posts = export["posts"][export["posts"].account_id.map(strategy_of) == "brand"]
    sched = posts[posts.client == "scheduler"]
    assert len(sched) >= 0.8 * len(posts)
    assert (sched.created_at % 60_000 < 3_000).all()
    offset = sched.account_id.map(acc.region.map(UTC_OFFSET_H)) * 60
    minute_of_day = (sched.created_at // 60_000 + offset) % 1440
    assert minute_of_day.groupby(sched.account_id).nunique().max() <= 3
    brands = acc[acc.index.map(strategy_of) == "brand"]
    assert brands.verified.any()


def test_prolific_creators_post_a_lot_with_varied_text(export, strategy_of):
    posts = export["posts"][export["posts"].account_id.map(strategy_of) == "prolific_creator"]
    per_day = posts.groupby("account_id").size() / 14
    assert per_day.median() >= 2.5
    assert posts.body.nunique() / len(posts) > 0.9
    assert not posts.client.isin(["open_api", "scheduler"]).any()


def test_ai_text_is_longer_and_formal_human_text_is_short_and_casual(export, strategy_of):
    posts = export["posts"].assign(strategy=lambda d: d.account_id.map(strategy_of))
    ai = posts[posts.strategy.isin(["fixed_interval", "humanized"]) & ~posts.declared_ai]
    human = posts[(posts.strategy == "ordinary") & ~posts.declared_ai]
    assert ai.body.str.len().mean() > 2 * human.body.str.len().mean()
    fixed = posts[posts.strategy == "fixed_interval"]
    assert fixed.body.map(lambda b: any(c in b for c in CONNECTORS)).mean() > 0.9
    assert human.body.map(lambda b: any(c in b for c in CONNECTORS)).mean() < 0.05
    assert human.body.str.contains(EMOJI).mean() > 0.3
    assert not fixed.body.str.contains(EMOJI).any()


def test_follow_graph_is_reciprocal_among_people(export, strategy_of):
    f = export["interactions"]
    f = f[f.kind == "follow"][["actor_id", "target_account_id"]].drop_duplicates()
    pairs = set(zip(f.actor_id, f.target_account_id, strict=True))
    f["back"] = [(b, a) in pairs for a, b in zip(f.actor_id, f.target_account_id, strict=True)]
    by = f.groupby(f.actor_id.map(strategy_of)).back.mean()
    assert by["ordinary"] > 0.2
    assert by["ordinary"] > 3 * by["jittered_scheduler"]


def test_bots_are_reported_more_and_aigc_labels_go_undeclared(export, strategy_of):
    truth = export.truth
    reported = export["reports"].reported_account_id.map(strategy_of).map(
        dict(zip(truth.strategy, truth.population, strict=False))).value_counts()
    n = truth.population.value_counts()
    assert reported.get("ai", 0) / n["ai"] > 2 * reported.get("human", 0) / n["human"]
    posts = export["posts"].assign(strategy=lambda d: d.account_id.map(strategy_of))
    media = posts[~posts.declared_ai][["strategy", "media"]].explode("media").dropna(subset=["media"])
    aigc = media.media.map(lambda m: m["aigc_label"]).groupby(media.strategy).mean()
    assert aigc["humanized"] > 0.25 and aigc["ordinary"] < 0.05
    declared_accounts = set(export["accounts"].loc[export["accounts"].declared_ai_assisted, "account_id"])
    assert set(posts.loc[posts.declared_ai, "account_id"]) <= declared_accounts
