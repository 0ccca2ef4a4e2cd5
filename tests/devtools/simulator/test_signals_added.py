"""The strategies and traps added for issue 12 plant the signals docs/simulator.md says they do, measured
from the export alone (the truth file only says who is who)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from views import (
    CONNECTORS,
    DAY_MS,
    HOUR_MS,
    gap_cv,
    local_ms,
    night_share,
    replies,
    sessions_by_account,
)

from genuine.devtools.simulator import banks as B
from genuine.devtools.simulator import simulate

START = 1_790_812_800_000          # 2026-10-01 UTC, the fixture's start
DAYS = 14
END = START + DAYS * DAY_MS
API = {"open_api", "scheduler"}
MOBILE_FIRST_OCTETS = {"36", "39", "111", "112", "117", "120", "223"}


@pytest.fixture(scope="module")
def sessions(export, strategy_of) -> pd.DataFrame:
    return sessions_by_account(export, strategy_of)


@pytest.fixture(scope="module")
def reply_table(export, strategy_of) -> pd.DataFrame:
    return replies(export, strategy_of)


def members(export, strategy: str) -> pd.Series:
    """cluster_id per account of a strategy."""
    t = export.truth
    return t[t.strategy == strategy].set_index("account_id").cluster_id


# --- hijacked ----------------------------------------------------------------------------------------------


def test_hijacked_accounts_switch_device_client_and_prefix_once(export, sessions, strategy_of):
    hij = sessions[sessions.strategy == "hijacked"]
    switched, api_after, splits = 0, 0, []
    for _, s in hij.groupby("account_id"):
        takeover_device = s.device_id.iloc[-1]
        on = (s.device_id == takeover_device).to_numpy()
        k = int(np.argmax(on))
        if k == 0:
            continue   # no session of the owner in the window
        switched += 1
        before, after = s.iloc[:k], s.iloc[k:]
        assert on[k:].all(), "after the takeover only the script's device is used"
        assert not set(before.device_id) & set(after.device_id)
        assert not set(before.net) & set(after.net), "the takeover comes from a /24 the owner never used"
        assert after.client.nunique() == 1
        script = after.client.iloc[0]
        assert script in API or (before.client == script).mean() < 0.5, "a new client, or another app"
        api_after += script in API
        splits.append(after.started_at.iloc[0])
    n = hij.account_id.nunique()
    assert n >= 30 and switched >= 0.5 * n   # the rest had no session before the takeover
    assert api_after >= 0.5 * switched
    splits = (np.array(splits) - START) / (END - START)
    assert splits.min() >= 0.25 and splits.max() <= 0.75 + 3 * HOUR_MS / (END - START)
    # a batch shares its takeover /24; each batch only one
    nets = hij.groupby("account_id").net.last()
    assert nets.value_counts().max() >= 2
    # and then it runs like a machine: many more actions per day
    posts = export["posts"][export["posts"].account_id.map(strategy_of) == "hijacked"]
    first_script = hij[hij.device_id == hij.groupby("account_id").device_id.transform("last")].groupby(
        "account_id").started_at.min()
    t_switch = posts.account_id.map(first_script)
    after = posts.created_at >= t_switch
    assert set(posts.loc[after, "client"]) <= API | {"ios", "android", "web", "mini_program"}
    before_rate = (~after).groupby(posts.account_id).sum() / ((first_script - START) / DAY_MS)
    after_rate = after.groupby(posts.account_id).sum() / ((END - first_script) / DAY_MS)
    assert after_rate.median() >= 5 * before_rate.median()
    late = posts[after]
    templates = "|".join(["每日", "干货", "Daily", "Top ", "Day ", "打卡", "好物分享"])
    assert (late.body.map(lambda b: any(c in b for c in CONNECTORS)) | late.body.str.contains(templates)).mean() > 0.8


# --- dormant sleepers ----------------------------------------------------------------------------------------


def test_sleeper_cells_wake_together_for_a_burst_at_the_end(export, actions):
    cell_of = members(export, "dormant_sleeper")
    assert cell_of.str.startswith("cell-").all() and cell_of.nunique() >= 2
    created = export["accounts"].set_index("account_id").created_at[cell_of.index]
    age_days = (START - created) / DAY_MS
    assert age_days.between(365, 6 * 365).all()
    inter = export["interactions"]
    likes = inter[(inter.kind == "like") & inter.actor_id.isin(cell_of.index)].assign(
        cell=lambda d: d.actor_id.map(cell_of))
    acts = actions[actions.account_id.isin(cell_of.index)].assign(cell=lambda d: d.account_id.map(cell_of))
    for cell, group in likes.groupby("cell"):
        size = (cell_of == cell).sum()
        per_post = group.groupby("target_post_id").agg(n=("actor_id", "nunique"), lo=("created_at", "min"),
                                                       hi=("created_at", "max"))
        targets = per_post[per_post.n >= 0.5 * size]
        assert len(targets) >= 2, cell
        assert (targets.hi - targets.lo <= 3 * HOUR_MS).all(), "a cell acts on a target within hours"
        wake = targets.lo.min()
        assert wake >= END - 5 * DAY_MS, "the campaign is in the last days of the window"
        mine = acts[acts.cell == cell]
        early = (mine.created_at < wake).sum() / ((wake - START) / DAY_MS) / size
        late = (mine.created_at >= wake).sum() / ((END - wake) / DAY_MS) / size
        assert early < 0.3, "nearly silent before the campaign (a post or like every 1-3 weeks)"
        assert late >= 10 * early


# --- loose rings ---------------------------------------------------------------------------------------------


def burst(t: pd.Series, window: int = 30 * 60_000) -> tuple[int, int]:
    """The most likes within `window` of each other: (count, spread from first to last of them)."""
    x = np.sort(t.to_numpy())
    end = np.searchsorted(x, x + window, side="right")
    i = int(np.argmax(end - np.arange(x.size)))
    return int(end[i] - i), int(x[end[i] - 1] - x[i])


def test_loose_rings_co_act_over_minutes_on_only_some_targets(export, sessions):
    ring_of = members(export, "loose_ring")
    size = ring_of.value_counts()
    inter = export["interactions"]
    likes = inter[(inter.kind == "like") & inter.actor_id.isin(ring_of.index)].assign(
        ring=lambda d: d.actor_id.map(ring_of))
    bursts = likes.groupby(["ring", "target_post_id"]).created_at.apply(burst)
    camp = pd.DataFrame(bursts.tolist(), index=bursts.index, columns=["n", "span"])
    camp = camp[camp.n >= 3]   # co-actions: 3+ members of the ring on one post within 30 minutes
    assert camp.index.get_level_values("ring").nunique() == ring_of.nunique()
    assert len(camp) >= 10 * ring_of.nunique()
    assert camp.span.median() >= 5 * 60_000, "a campaign is spread over minutes, not seconds"
    part = camp.n / camp.index.get_level_values("ring").map(size).to_numpy()
    assert part.max() < 1.0 and 0.2 <= part.mean() <= 0.65, "members join only some campaigns"
    joined = likes.merge(camp.reset_index()[["ring", "target_post_id"]]).groupby("actor_id").target_post_id.nunique()
    share = joined / joined.index.map(ring_of).map(camp.groupby(level=0).size()).to_numpy()
    assert 0.2 <= share.mean() <= 0.7 and (share < 1).mean() >= 0.9, "members join only some campaigns"
    # paraphrases: varied wording around one talking point per campaign
    comments = inter[(inter.kind == "comment") & inter.actor_id.isin(ring_of.index)].merge(
        camp.reset_index()[["target_post_id"]], on="target_post_id")
    liked = comments.merge(likes[["actor_id", "target_post_id", "created_at"]], on=["actor_id", "target_post_id"],
                           suffixes=("", "_like"))
    in_campaign = liked[(liked.created_at - liked.created_at_like).between(0, 3 * 60_000)].event_id
    comments = comments[comments.event_id.isin(in_campaign)]   # the comment a member adds to its campaign like
    points = B.PARAPHRASE_ZH + B.PARAPHRASE_EN
    point = comments.body.map(lambda b: next((i for i, p in enumerate(points) if any(x in b for x in p)), None))
    assert point.notna().mean() > 0.9
    comments, point = comments[point.notna()], point.dropna()
    big = comments.groupby("target_post_id").size()
    big = big[big >= 4].index
    top = point.groupby(comments.target_post_id.to_numpy()).agg(lambda s: s.value_counts().iloc[0] / len(s))
    assert top[big].median() >= 0.6
    assert comments.body.nunique() / len(comments) > 0.5
    # own phones; a few shared proxy /24s besides the members' own networks
    ring_sess = sessions[sessions.account_id.isin(ring_of.index)]
    assert (ring_sess.groupby("device_id").account_id.nunique() == 1).all()
    shared = ring_sess.assign(ring=ring_sess.account_id.map(ring_of)).groupby(["ring", "net"]).account_id.nunique()
    assert (shared.groupby(level=0).max() >= 3).all()


# --- LLM personas and replies --------------------------------------------------------------------------------


def test_llm_personas_answer_within_90_s_at_any_hour_people_take_longer(reply_table, actions, export, strategy_of):
    persona = reply_table[reply_table.strategy == "llm_persona"]
    assert len(persona) >= 50
    assert (persona.latency_s <= 90).all() and persona.latency_s.median() >= 20
    assert persona.local_hour.isin(range(0, 6)).sum() >= 5 and persona.local_hour.nunique() >= 20
    people = reply_table[reply_table.strategy.isin(["ordinary", "prolific_creator", "fan_community",
                                                    "ai_assisted_creator", "brand", "smm_manager"])]
    assert len(people) >= 200 and people.strategy.nunique() == 6
    assert (people.latency_s < 90).mean() < 0.02 and people.latency_s.median() > 600
    awake = people[~people.strategy.isin(["brand", "smm_manager"])]
    assert not awake.local_hour.isin(range(1, 7)).any(), "people do not answer in the small hours"
    office = people[people.strategy.isin(["brand", "smm_manager"])]
    assert office.local_hour.between(9, 17).all() and (office.weekday < 5).all()
    # what the persona starts itself (not its replies) keeps the rhythm of a person
    inter = export["interactions"]
    started = inter[~inter.event_id.isin(reply_table.event_id)]
    own = pd.concat([export["posts"][["account_id", "created_at"]],
                     started[["actor_id", "created_at"]].rename(columns={"actor_id": "account_id"})])
    own["strategy"] = own.account_id.map(strategy_of)
    own["local_hour"] = (local_ms(export["accounts"], own.account_id, own.created_at) // HOUR_MS) % 24
    assert abs(night_share(own, "llm_persona") - night_share(own, "ordinary")) < 0.06
    assert night_share(own, "llm_persona") < night_share(actions, "llm_persona"), "replies come at night too"
    posts = export["posts"][export["posts"].account_id.map(strategy_of) == "llm_persona"]
    assert len(posts) >= 100 and posts.body.nunique() / len(posts) > 0.95
    human = export["posts"][(export["posts"].account_id.map(strategy_of) == "ordinary") & ~export["posts"].declared_ai]
    assert posts.body.str.len().mean() > 2 * human.body.str.len().mean()
    assert posts.body.map(lambda b: any(c in b for c in CONNECTORS)).mean() < 0.3, "fluent, not connector-driven"


# --- traps -----------------------------------------------------------------------------------------------


def test_fans_react_to_their_celebrity_within_minutes(export, sessions):
    club_of = members(export, "fan_community")
    inter, posts = export["interactions"], export["posts"]
    likes = inter[(inter.kind == "like") & inter.actor_id.isin(club_of.index)].merge(
        posts[["post_id", "account_id", "created_at"]], left_on="target_post_id", right_on="post_id",
        suffixes=("", "_post"))
    likes["club"] = likes.actor_id.map(club_of)
    celeb = likes.groupby("club").account_id.agg(lambda a: a.value_counts().index[0])
    assert export["accounts"].set_index("account_id").verified[celeb.to_numpy()].all()
    for club, group in likes.groupby("club"):
        on_celeb = group[group.account_id == celeb[club]]
        delay = on_celeb.created_at - on_celeb.created_at_post
        assert len(on_celeb) >= 30
        assert (delay <= 10 * 60_000).mean() >= 0.7 and delay.median() <= 5 * 60_000
        burst = on_celeb[delay <= 10 * 60_000].groupby("target_post_id").actor_id.nunique()
        assert burst.median() >= 3, "several fans on one post within minutes: looks coordinated"
    # otherwise people: own phones, their own networks, human text around the cheers
    fan_sess = sessions[sessions.account_id.isin(club_of.index)]
    assert (fan_sess.groupby("device_id").account_id.nunique() == 1).all()
    assert not fan_sess.client.isin(API).any()
    cheers = inter[(inter.kind == "comment") & inter.actor_id.isin(club_of.index)].body
    assert cheers.map(lambda b: any(x in b for x in B.FAN_ZH + B.FAN_EN)).mean() > 0.3


def test_smm_manager_brands_share_one_office_device_and_ip(export, sessions, strategy_of):
    group_of = members(export, "smm_manager")
    smm = sessions[sessions.account_id.isin(group_of.index)].assign(group=lambda d: d.account_id.map(group_of))
    per = smm.groupby("group").agg(accounts=("account_id", "nunique"), devices=("device_id", "nunique"),
                                   ips=("ip", "nunique"))
    assert (per.accounts >= 3).all() and (per.devices <= 2).all() and (per.ips == 1).all()
    owners = sessions.groupby("device_id").account_id.agg(set)
    for g, devs in smm.groupby("group").device_id:
        assert set().union(*owners[devs.unique()]) <= set(group_of.index[group_of == g]), "devices stay in the group"
    posts = export["posts"][export["posts"].account_id.isin(group_of.index)]
    sched = posts[posts.client == "scheduler"]
    assert len(sched) >= 0.8 * len(posts) and (sched.created_at % 60_000 < 3_000).all()
    minute = (local_ms(export["accounts"], sched.account_id, sched.created_at) // 60_000) % 1440
    together = pd.DataFrame({"group": sched.account_id.map(group_of), "minute": minute, "acc": sched.account_id})
    assert (together.groupby(["group", "minute"]).acc.nunique().groupby(level=0).max() >= 2).all()
    assert posts.body.nunique() / len(posts) > 0.8, "human-written, varied promotion"


def test_ai_assisted_creators_declare_it_and_keep_a_human_day(export, actions, strategy_of):
    accounts = export["accounts"].set_index("account_id")
    who = export.truth.account_id[export.truth.strategy == "ai_assisted_creator"]
    assert accounts.declared_ai_assisted[who].all()
    posts = export["posts"][export["posts"].account_id.isin(who)]
    assert posts.declared_ai.mean() >= 0.7
    human = export["posts"][(export["posts"].account_id.map(strategy_of) == "ordinary") & ~export["posts"].declared_ai]
    assert posts[posts.declared_ai].body.str.len().mean() > 2 * human.body.str.len().mean()
    assert abs(night_share(actions, "ai_assisted_creator") - night_share(actions, "ordinary")) < 0.06
    mine = actions[actions.strategy == "ai_assisted_creator"]
    assert gap_cv(mine.created_at, mine.account_id).median() > 1.0, "bursty, like a person"
    assert not posts.client.isin(API).any()


def test_shift_workers_hour_profile_moves_between_weeks(tmp_path, read_export):
    simulate(800, 28, 5, tmp_path, workers=1, shares={"ordinary": 0.5, "shift_worker": 0.5})
    tables, truth = read_export(tmp_path)
    s = tables["sessions"].merge(truth, on="account_id")
    local = local_ms(tables["accounts"], s.account_id, s.started_at)
    s["night"] = (local // HOUR_MS) % 24 < 8
    s["week"] = (local // DAY_MS + 3) // 7                      # calendar weeks, starting on Monday
    weekly = s.groupby(["strategy", "account_id", "week"]).night.agg(["size", "mean"])
    weekly = weekly[weekly["size"] >= 5]["mean"]
    moved = weekly.groupby(level=[0, 1]).agg(lambda m: m.max() - m.min() if len(m) > 1 else np.nan).dropna()
    shift, ordinary = moved["shift_worker"], moved["ordinary"]
    assert len(shift) >= 50 and len(ordinary) >= 50
    assert shift.median() >= 2 * ordinary.median()
    assert (shift >= 0.4).mean() >= 3 * max((ordinary >= 0.4).mean(), 0.05)


# --- network prefixes -----------------------------------------------------------------------------------------


def test_network_prefixes_cgnat_shared_home_spread_pools_packed(export, sessions):
    people = sessions[sessions.strategy.isin(["ordinary", "prolific_creator", "night_shift", "fan_community",
                                              "shift_worker", "ai_assisted_creator"])]
    first = people.ip.str.split(".").str[0]
    mobile = people[first.isin(MOBILE_FIRST_OCTETS)]
    home = people[~first.isin(MOBILE_FIRST_OCTETS) & ~people.client.isin(API)]
    per_mobile = mobile.groupby("net").account_id.nunique()
    assert per_mobile.median() >= 5, "many unrelated people behind one carrier /24 (CGNAT)"
    per_home = home.groupby("net").account_id.nunique()
    assert (per_home == 1).mean() >= 0.95, "a household's broadband /24 is its own"
    for strategy in ("engagement_farm", "device_ring"):
        pools = sessions[sessions.strategy == strategy].merge(export.truth[["account_id", "cluster_id"]])
        assert (pools.groupby("cluster_id").net.nunique() <= 2).all(), strategy
