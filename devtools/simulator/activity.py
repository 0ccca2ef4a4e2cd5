"""Pass 2 of the simulator: interactions, sessions and reports of one chunk.

Targets are drawn from the whole platform's posts (posts.PostIndex: a popularity-weighted feed) and
accounts (Targets), so engagement crosses chunk boundaries like on a real platform. The campaigns of the
groups added in issue 12 are in coordination.py, replies to comments in replies.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator import text as T
from genuine.devtools.simulator.coordination import plant
from genuine.devtools.simulator.encode import Ids, ipv4, mask_strings, mix64
from genuine.devtools.simulator.events import Events, ExtraSessions, SessionIndex
from genuine.devtools.simulator.network import device_number, farm_proxy_ip
from genuine.devtools.simulator.population import (
    S_CAMPAIGNS,
    S_REPLY_TEXT,
    S_REPORTS,
    S_TARGETS,
    S_TEXT,
    Population,
    rng_for,
    strategy_table,
)
from genuine.devtools.simulator.posts import PostIndex, taken_over_style
from genuine.devtools.simulator.replies import add_replies
from genuine.devtools.simulator.schema import write_part
from genuine.devtools.simulator.strategies import build_timeline
from genuine.devtools.simulator.timeline import lognormal

PEOPLE = tuple(s for s, pop in P.STRATEGY_POPULATION.items() if pop != "ai")


@dataclass
class Targets:
    """Whole-platform samplers used by every chunk: whom people follow, report, brigade."""

    popular_cdf: np.ndarray
    ai_idx: np.ndarray
    ai_cum: np.ndarray
    people_idx: np.ndarray
    people_cdf: np.ndarray

    @classmethod
    def of(cls, pop: Population) -> Targets:
        ai_codes = [P.STRATEGIES.index(s) for s, p in P.STRATEGY_POPULATION.items() if p == "ai"]
        is_ai = np.isin(pop.strategy, ai_codes)
        ai_idx = np.flatnonzero(is_ai)
        weights = strategy_table({s: P.ACCOUNTS[s].report_weight for s in P.STRATEGIES})
        people_idx = np.flatnonzero(~is_ai)
        return cls(np.cumsum(pop.popularity), ai_idx, np.cumsum(weights[pop.strategy[ai_idx]]), people_idx,
                   np.cumsum(pop.popularity[people_idx]))


def _acts_human(pop: Population, actor: np.ndarray, t: np.ndarray) -> np.ndarray:
    """People, and hijacked accounts while their owner still runs them."""
    codes = pop.strategy[actor]
    people = np.isin(codes, [P.STRATEGIES.index(s) for s in PEOPLE])
    return people | ((codes == P.STRATEGIES.index("hijacked")) & (t < pop.switch_ms[actor]))


def _community_member(rng: np.random.Generator, pop: Population, actor: np.ndarray) -> np.ndarray:
    member = (actor // P.COMMUNITY_SIZE) * P.COMMUNITY_SIZE + rng.integers(0, P.COMMUNITY_SIZE, actor.size)
    member = np.minimum(member, pop.n - 1)
    return np.where(member == actor, (member + 1) % pop.n, member)


def _ring_member(rng: np.random.Generator, pop: Population, actor: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """A random account of the actor's ring (rings live inside one chunk)."""
    chunk_idx = np.arange(lo, hi)
    ring_acc = chunk_idx[(pop.cluster[lo:hi] >= 0)
                         & (pop.strategy[lo:hi] == P.STRATEGIES.index("device_ring"))]
    ring_acc = ring_acc[np.argsort(pop.cluster[ring_acc], kind="stable")]
    ring_of = pop.cluster[ring_acc]
    g = pop.cluster[actor]
    first = np.searchsorted(ring_of, g, side="left")
    last = np.searchsorted(ring_of, g, side="right")
    pick = first + rng.integers(0, 1 << 30, actor.size) % np.maximum(last - first, 1)
    return ring_acc[np.minimum(pick, ring_acc.size - 1)] if ring_acc.size else actor


def _engagements(rng: np.random.Generator, pop: Population, idx: PostIndex, ev: Events, actor: np.ndarray,
                 kind: np.ndarray, t: np.ndarray, lo: int, hi: int) -> None:
    """Likes, collects, comments and shares initiated by the actor: choose the post they act on."""
    if idx.feed_post.size == 0:   # nothing posted yet on the whole platform: nothing to engage with
        return
    codes = pop.strategy[actor]
    people = _acts_human(pop, actor, t)
    ring = codes == P.STRATEGIES.index("device_ring")
    humanized_reply = (codes == P.STRATEGIES.index("humanized")) & (kind == P.COMMENT)
    post, ok = idx.from_feed(rng, actor, t, P.ENGAGE_LAG_MEDIAN_S, P.ENGAGE_LAG_SIGMA)
    friend = people & (rng.random(actor.size) < P.COMMUNITY_ENGAGE_SHARE)
    boost = ring & (rng.random(actor.size) < P.RING_INNER_ENGAGE)
    social = friend | boost
    author = np.where(boost, _ring_member(rng, pop, actor, lo, hi), _community_member(rng, pop, actor))
    fpost, fok = idx.latest_before(author, t)
    use = social & fok
    post, ok = np.where(use, fpost, post), ok | use
    when = t.copy()
    h = np.flatnonzero(humanized_reply)
    if h.size:   # reply a fixed, personal delay after the post it answers
        u = (mix64(actor[h].astype(np.uint64) ^ np.uint64(0xA11CE)) >> np.uint64(11)).astype(np.float64) / 2**53
        delay = P.HUMANIZED_REPLY_S[0] + u * (P.HUMANIZED_REPLY_S[1] - P.HUMANIZED_REPLY_S[0])
        delay_ms = (delay * 1000 * (1 + P.HUMANIZED_REPLY_CV * rng.standard_normal(h.size))).astype(np.int64)
        j = np.searchsorted(idx.feed_time, t[h] - delay_ms, side="right") - 1
        found = j >= 0
        j = np.maximum(j, 0)
        j = np.where((idx.feed_author[j] == actor[h]) & (j > 0), j - 1, j)
        post[h] = idx.feed_post[j]
        when[h] = idx.time[post[h]] + delay_ms
        ok[h] = found & (when[h] >= pop.t0[actor[h]])
    ok &= (idx.time[post] < when) & (idx.author[post] != actor)   # nobody engages with their own post
    ev.add(actor[ok], kind[ok], idx.author[post[ok]], post[ok], when[ok])


def _follows(rng: np.random.Generator, pop: Population, ev: Events, actor: np.ndarray, t: np.ndarray,
             lo: int, hi: int, popular_cdf: np.ndarray) -> None:
    """Follows (community, popular accounts, ring mates), follow-backs by humans, and unfollows."""
    codes = pop.strategy[actor]
    people = _acts_human(pop, actor, t)
    spam = np.isin(codes, [P.STRATEGIES.index("jittered_scheduler"), P.STRATEGIES.index("fixed_interval")])
    spam |= (codes == P.STRATEGIES.index("hijacked")) & ~people   # the script follows for follows
    ring = codes == P.STRATEGIES.index("device_ring")
    popular = np.minimum(np.searchsorted(popular_cdf, rng.random(actor.size) * popular_cdf[-1]), pop.n - 1)
    target = np.where(people & (rng.random(actor.size) < P.COMMUNITY_FOLLOW_SHARE),
                      _community_member(rng, pop, actor), popular)
    target = np.where(spam, rng.integers(0, pop.n, actor.size), target)
    target = np.where(ring & (rng.random(actor.size) < P.RING_INNER_FOLLOW), _ring_member(rng, pop, actor, lo, hi),
                      target)
    target = np.where(target == actor, (target + 1) % pop.n, target)
    ok = pop.created_at[target] < t
    actor, target, t = actor[ok], target[ok], t[ok]
    order = np.lexsort((t, actor * pop.n + target))
    _, first = np.unique((actor * pop.n + target)[order], return_index=True)
    keep = np.sort(order[first])
    actor, target, t = actor[keep], target[keep], t[keep]
    ev.add(actor, P.FOLLOW, target, -1, t)
    # follow-backs: people return follows from their community, rarely from strangers
    back_p = np.where(actor // P.COMMUNITY_SIZE == target // P.COMMUNITY_SIZE, P.RECIPROCITY_COMMUNITY,
                      P.RECIPROCITY_OTHER)
    back = rng.random(actor.size) < back_p
    tb = t + lognormal(rng, P.FOLLOW_BACK_MEDIAN_S * 1000, P.FOLLOW_BACK_SIGMA, actor.size).astype(np.int64)
    back &= _acts_human(pop, target, tb)
    back &= (tb < pop.end_ms) & (tb >= pop.t0[target])
    ev.add(target[back], P.FOLLOW, actor[back], -1, tb[back])
    # unfollows: follow-for-follow accounts drop most of theirs
    churn = strategy_table({s: P.ACCOUNTS[s].churn for s in P.STRATEGIES})[pop.strategy[actor]]
    tu = t + lognormal(rng, P.UNFOLLOW_MEDIAN_S * 1000, P.UNFOLLOW_SIGMA, actor.size).astype(np.int64)
    drop = (rng.random(actor.size) < churn) & (tu < pop.end_ms)
    ev.add(actor[drop], P.UNFOLLOW, target[drop], -1, tu[drop])


def _campaigns(pop: Population, chunk: int, seed: int, idx: PostIndex, ev: Events, sessions: ExtraSessions) -> None:
    """Engagement farms: members hit the same customer posts within seconds, with near-duplicate comments."""
    rng = rng_for(seed, chunk, S_CAMPAIGNS)
    lo, hi = pop.chunk_bounds(chunk)
    accounts = np.arange(lo, hi)
    farm_acc = accounts[(pop.strategy[lo:hi] == P.STRATEGIES.index("engagement_farm")) & (pop.cluster[lo:hi] >= 0)]
    if farm_acc.size == 0 or idx.feed_post.size == 0:
        return
    days = pop.days
    for farm in np.unique(pop.cluster[farm_acc]):
        members = farm_acc[pop.cluster[farm_acc] == farm]
        n_cust = int(rng.integers(P.FARM_CUSTOMERS[0], P.FARM_CUSTOMERS[1] + 1))
        customers = np.unique(idx.feed_author[rng.integers(0, idx.feed_post.size, n_cust)])
        cand = np.concatenate([idx.posts_of(c) for c in customers])
        cand = cand[idx.time[cand] < pop.end_ms - P.HOUR_MS]
        n_camp = min(cand.size, int(round(days * rng.uniform(*P.FARM_CAMPAIGNS_PER_DAY))))
        if n_camp == 0:
            continue
        posts = np.sort(rng.choice(cand, size=n_camp, replace=False))
        go = idx.time[posts] + lognormal(rng, P.FARM_DELAY_MEDIAN_S * 1000, P.FARM_DELAY_SIGMA, n_camp).astype(np.int64)
        base = rng.integers(0, 1 << 20, n_camp)
        ci, mi = np.nonzero(rng.random((n_camp, members.size)) < P.FARM_PARTICIPATION)
        who, post = members[mi], posts[ci]
        author = idx.author[post]
        t_like = go[ci] + (rng.random(ci.size) * P.FARM_SPREAD_S * 1000).astype(np.int64)
        ok = (t_like < pop.end_ms) & (t_like >= pop.t0[who]) & (who != author)
        ci, who, post, author, t_like = ci[ok], who[ok], post[ok], author[ok], t_like[ok]
        ev.add(who, P.LIKE, author, post, t_like)
        for name, share in P.FARM_EXTRA.items():
            use = rng.random(who.size) < share
            dt = (rng.uniform(*P.FARM_EXTRA_DELAY_S, size=who.size) * 1000).astype(np.int64)
            te = t_like + dt
            use &= te < pop.end_ms
            kind = {"comment": P.COMMENT, "collect": P.COLLECT, "share": P.SHARE}[name]
            ev.add(who[use], kind, author[use], post[use], te[use], base[ci[use]] if name == "comment" else -1)
        # each member follows a customer the first time it works for them
        key = who * pop.n + author
        order = np.lexsort((t_like, key))
        _, first = np.unique(key[order], return_index=True)
        f = order[first]
        tf = t_like[f] + (rng.uniform(5, 60, size=f.size) * 1000).astype(np.int64)
        fok = tf < pop.end_ms
        ev.add(who[f][fok], P.FOLLOW, author[f][fok], -1, tf[fok])
        start = np.maximum(t_like - (rng.uniform(1, 8, size=who.size) * 1000).astype(np.int64), pop.t0[who])
        sessions.append((who, start, np.full(who.size, P.ANDROID, np.int8), device_number(who, 0),
                         farm_proxy_ip(rng, np.full(who.size, farm, np.int64), seed)))


def _reports(pop: Population, chunk: int, seed: int, tg: Targets) -> tuple[np.ndarray, ...]:
    """User reports: reliable and unreliable reporters, plus brigades against real people."""
    people_idx, people_cdf = tg.people_idx, tg.people_cdf
    rng = rng_for(seed, chunk, S_REPORTS)
    lo, hi = pop.chunk_bounds(chunk)
    accounts = np.arange(lo, hi)
    people_code = [P.STRATEGIES.index(s) for s in PEOPLE]
    is_people = np.isin(pop.strategy[lo:hi], people_code)
    reporters = accounts[is_people & (rng.random(accounts.size) < P.REPORTER_SHARE)]
    reliability = rng.beta(*P.REPORTER_RELIABILITY, size=reporters.size)
    per = 1 + rng.poisson(P.REPORTS_PER_REPORTER, reporters.size)
    rep = np.repeat(reporters, per)
    rel = np.repeat(reliability, per)
    ai_idx, ai_cum = tg.ai_idx, tg.ai_cum
    bad = (rng.random(rep.size) < rel) & (ai_idx.size > 0)
    ai_pick = ai_idx[np.minimum(np.searchsorted(ai_cum, rng.random(rep.size) * (ai_cum[-1] if ai_cum.size else 0)),
                                max(ai_idx.size - 1, 0))] if ai_idx.size else np.zeros(rep.size, np.int64)
    human_pick = people_idx[rng.integers(0, people_idx.size, rep.size)]
    target = np.where(bad, ai_pick, human_pick)
    reason = _report_reason(rng, pop.strategy[target])
    # brigades: many reporters against one (often popular) person within an hour
    n_brig = rng.poisson(P.BRIGADES_PER_10K * accounts.size / 10_000)
    b_rep, b_target, b_time, b_reason = [], [], [], []
    for _ in range(n_brig):
        victim = people_idx[min(np.searchsorted(people_cdf, rng.random() * people_cdf[-1]), people_idx.size - 1)]
        size = min(int(rng.integers(P.BRIGADE_SIZE[0], P.BRIGADE_SIZE[1] + 1)), accounts.size)
        members = rng.choice(accounts, size=size, replace=False)
        t_lo = max(pop.start_ms, int(pop.t0[victim]))
        at = t_lo + int(rng.random() * max(pop.end_ms - t_lo - P.BRIGADE_WINDOW_S * 1000, 1))
        b_rep.append(members)
        b_target.append(np.full(size, victim))
        b_time.append(at + (rng.random(size) * P.BRIGADE_WINDOW_S * 1000).astype(np.int64))
        why = rng.choice(len(_BRIGADE_REASONS), p=[p for _, p in _BRIGADE_REASONS])
        b_reason.append(np.full(size, P.REPORT_REASONS.index(_BRIGADE_REASONS[why][0]), np.int8))
    t_lo = np.maximum(pop.t0[rep], pop.t0[target])
    when = t_lo + (rng.random(rep.size) * np.maximum(pop.end_ms - t_lo, 0)).astype(np.int64)
    # a taken-over account or a woken sleeper is reported once it misbehaves
    switch = pop.switch_ms[target]
    after = np.minimum(switch, pop.end_ms)
    late = after + (rng.random(rep.size) * (pop.end_ms - after)).astype(np.int64)
    when = np.where(switch < pop.end_ms, np.maximum(when, late), when)
    rep = np.concatenate([rep, *b_rep]).astype(np.int64)
    target = np.concatenate([target, *b_target]).astype(np.int64)
    when = np.concatenate([when, *b_time]).astype(np.int64)
    reason = np.concatenate([reason, *b_reason]).astype(np.int8)
    ok = (rep != target) & (when < pop.end_ms) & (when >= pop.t0[rep]) & (when >= pop.t0[target])
    return rep[ok], target[ok], when[ok], reason[ok]


_REASON_BY_STRATEGY = {   # spam, fake_account, ai_generated, harassment, misinformation, other
    "fixed_interval": (0.6, 0.2, 0.2, 0, 0, 0), "jittered_scheduler": (0.6, 0.2, 0.2, 0, 0, 0),
    "engagement_farm": (0.5, 0.4, 0, 0, 0, 0.1), "device_ring": (0.3, 0.6, 0, 0, 0, 0.1),
    "humanized": (0, 0.4, 0.5, 0, 0, 0.1), "hijacked": (0.6, 0.2, 0.1, 0, 0, 0.1),
    "dormant_sleeper": (0.2, 0.3, 0.1, 0, 0.3, 0.1), "loose_ring": (0.4, 0.4, 0.1, 0, 0, 0.1),
    "llm_persona": (0.1, 0.3, 0.5, 0, 0, 0.1),
}
_REASON_PEOPLE = (0.25, 0.2, 0.15, 0.15, 0.1, 0.15)
_BRIGADE_REASONS = (("harassment", 0.4), ("misinformation", 0.3), ("spam", 0.2), ("fake_account", 0.1))


def _report_reason(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    table = np.array([_REASON_BY_STRATEGY.get(s, _REASON_PEOPLE) for s in P.STRATEGIES], dtype=np.float64)
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(codes.size)
    return np.minimum((u[:, None] > cum[codes]).sum(axis=1), 5).astype(np.int8)


def _events_order(t: np.ndarray) -> np.ndarray:
    """Rows in time order (export order); ties keep generation order, which is deterministic."""
    return np.argsort(t, kind="stable")


def _comment_bodies(rng: np.random.Generator, pop: Population, actor: np.ndarray, t: np.ndarray, base: np.ndarray,
                    style: np.ndarray) -> pa.Array:
    """Comment texts in the actor's comment style, unless the event set one (style >= 0)."""
    zh = rng.random(actor.size) < pop.zh_share[actor]
    own = np.array([T.STYLE[P.ACCOUNTS[s].comment] for s in P.STRATEGIES])[pop.strategy[actor]]
    cstyle = taken_over_style(pop, actor, t, np.where(style >= 0, style, own))
    topic = T.topic_names(pop.interests[actor, 0].astype(np.int64), zh)
    return T.comment_texts(rng, cstyle, zh, topic, base).cast(pa.string())


def write_activity(pop: Population, seed: int, ids: Ids, out: Path, idx: PostIndex, tg: Targets,
                   chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    """Interactions, sessions and reports of one chunk. Returns what was written and, per account that
    acted, its earliest action (moderator labels come after it)."""
    lo, hi = pop.chunk_bounds(chunk)
    tl = build_timeline(pop, chunk, seed)
    order = np.argsort(tl.e_time, kind="stable")   # time-sorted queries make the searchsorted calls cheap
    e_actor, e_time, e_kind = tl.e_actor[order], tl.e_time[order], tl.e_kind[order]
    rng = rng_for(seed, chunk, S_TARGETS)
    ev = Events()
    engage = np.isin(e_kind, [P.LIKE, P.COLLECT, P.COMMENT, P.SHARE])
    _engagements(rng, pop, idx, ev, e_actor[engage], e_kind[engage], e_time[engage], lo, hi)
    fol = e_kind == P.FOLLOW
    _follows(rng, pop, ev, e_actor[fol], e_time[fol], lo, hi, tg.popular_cdf)
    extra_sessions: ExtraSessions = []
    _campaigns(pop, chunk, seed, idx, ev, extra_sessions)
    plant(pop, chunk, seed, idx, ev, extra_sessions, SessionIndex(tl, pop))
    add_replies(pop, chunk, seed, idx, ev)
    actor, kind, target, post, t, base, style, reply = ev.arrays()
    order = _events_order(t)
    actor, kind, target, post, t, base, style, reply = (
        a[order] for a in (actor, kind, target, post, t, base, style, reply))
    written: dict[str, tuple[str, int]] = {}
    trng = rng_for(seed, chunk, S_TEXT + 100)
    c = np.flatnonzero((kind == P.COMMENT) & ~reply)
    r = np.flatnonzero(reply)   # replies: their own stream, so they move no other text
    texts = pa.concat_arrays([_comment_bodies(trng, pop, actor[c], t[c], base[c], style[c]),
                              _comment_bodies(rng_for(seed, chunk, S_REPLY_TEXT), pop, actor[r], t[r], base[r],
                                              style[r])])
    slot = np.full(kind.size, -1, np.int64)
    slot[np.concatenate([c, r])] = np.arange(c.size + r.size)
    has_post = post >= 0
    number = (np.int64(chunk) << np.int64(40)) | np.arange(kind.size, dtype=np.int64)
    written["interactions"] = write_part(out, "interactions", chunk, {
        "event_id": ids.of("event", "e", number),
        "actor_id": ids.account(actor),
        "kind": pa.array(list(P.KINDS)).take(pa.array(kind.astype(np.int64))),
        "target_account_id": ids.account(target),
        "target_post_id": mask_strings(ids.post(idx.number(np.maximum(post, 0))), ~has_post),
        "created_at": pa.array(t),
        "body": texts.take(pa.array(slot, mask=slot < 0)),
    })
    s_parts = [(tl.s_actor, tl.s_start, tl.s_client, tl.s_device, tl.s_ip), *extra_sessions]
    s_actor, s_start, s_client, s_device, s_ip = (np.concatenate([p[i] for p in s_parts]) for i in range(5))
    order = _events_order(s_start)
    s_actor, s_start, s_client, s_device, s_ip = (a[order] for a in (s_actor, s_start, s_client, s_device, s_ip))
    number = (np.int64(chunk) << np.int64(40)) | np.arange(s_actor.size, dtype=np.int64)
    written["sessions"] = write_part(out, "sessions", chunk, {
        "session_id": ids.of("session", "s", number),
        "account_id": ids.account(s_actor),
        "device_id": ids.of("device", "d", s_device.astype(np.uint64)),
        "ip": ipv4(s_ip.astype(np.uint32)),
        "started_at": pa.array(s_start.astype(np.int64)),
        "client": pa.array(list(P.CLIENTS)).take(pa.array(s_client.astype(np.int64))),
    })
    rep, rtarget, rtime, reason = _reports(pop, chunk, seed, tg)
    order = _events_order(rtime)
    rep, rtarget, rtime, reason = rep[order], rtarget[order], rtime[order], reason[order]
    zh = trng.random(rep.size) < pop.zh_share[rep]
    number = (np.int64(chunk) << np.int64(40)) | np.arange(rep.size, dtype=np.int64)
    written["reports"] = write_part(out, "reports", chunk, {
        "report_id": ids.of("report", "r", number),
        "reporter_id": ids.account(rep),
        "reported_account_id": ids.account(rtarget),
        "reason": pa.array(list(P.REPORT_REASONS)).take(pa.array(reason.astype(np.int64))),
        "created_at": pa.array(rtime),
        "body": T.report_bodies(trng, reason, zh, P.REPORT_REASONS),
    })
    seen_acc, seen_t = _earliest(np.concatenate([actor, s_actor, rep]), np.concatenate([t, s_start, rtime]))
    return written, seen_acc, seen_t


def _earliest(acc: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct account, its earliest time."""
    order = np.lexsort((t, acc))
    acc, t = acc[order], t[order]
    first = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]]) if acc.size else np.empty(0, np.int64)
    return acc[first], t[first]
