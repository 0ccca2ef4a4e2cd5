"""Pass-2 actions of the groups added in issue 12, timed by someone else's posts: sleeper cells woken for
a campaign, loose amplification rings, and fan communities (organic bursts, a trap for coordination
detectors). Each strategy draws from its own stream (S_OWN_PASS2 + its code).
"""

from __future__ import annotations

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator import text as T
from genuine.devtools.simulator.events import Events, ExtraSessions, SessionIndex, first_per_pair
from genuine.devtools.simulator.network import BROADBAND, POOL_CELL, POOL_LOOSE, device_number, pool_ip
from genuine.devtools.simulator.population import S_OWN_PASS2, Population, rng_for
from genuine.devtools.simulator.posts import PostIndex
from genuine.devtools.simulator.timeline import lognormal

_KIND = {"comment": P.COMMENT, "collect": P.COLLECT, "share": P.SHARE}


def _groups(pop: Population, lo: int, hi: int, strategy: str) -> list[np.ndarray]:
    """The chunk's clusters of a strategy, by cluster number."""
    acc = np.arange(lo, hi)
    acc = acc[(pop.strategy[lo:hi] == P.STRATEGIES.index(strategy)) & (pop.cluster[lo:hi] >= 0)]
    return [acc[pop.cluster[acc] == g] for g in np.unique(pop.cluster[acc])]


def _burst(rng: np.random.Generator, pop: Population, idx: PostIndex, ev: Events, who: np.ndarray,
           post: np.ndarray, t_like: np.ndarray, extra: dict[str, float], delay_s: tuple[float, float],
           follow: float, base: np.ndarray | int = -1, style: int = -1) -> np.ndarray:
    """A like per (member, post), some extra actions shortly after, a follow of the author the first time.
    Returns the rows kept (inside the window, after the member exists, not on its own post)."""
    author = idx.author[post]
    ok = (t_like < pop.end_ms) & (t_like >= pop.t0[who]) & (who != author)
    who, post, author, t_like = who[ok], post[ok], author[ok], t_like[ok]
    base = base[ok] if isinstance(base, np.ndarray) else base
    ev.add(who, P.LIKE, author, post, t_like)
    for name, share in extra.items():
        te = t_like + (rng.uniform(*delay_s, size=who.size) * 1000).astype(np.int64)
        use = (rng.random(who.size) < share) & (te < pop.end_ms)
        comment = name == "comment"
        ev.add(who[use], _KIND[name], author[use], post[use], te[use],
               base[use] if comment and isinstance(base, np.ndarray) else -1, style if comment else -1)
    f = first_per_pair(who, author, t_like, pop.n)
    tf = t_like[f] + (rng.uniform(5, 120, size=f.size) * 1000).astype(np.int64)
    use = (rng.random(f.size) < follow) & (tf < pop.end_ms)
    ev.add(who[f][use], P.FOLLOW, author[f][use], -1, tf[use])
    return np.flatnonzero(ok)


def _sessions(rng: np.random.Generator, who: np.ndarray, t: np.ndarray, pop: Population,
              where: tuple[np.ndarray, np.ndarray, np.ndarray], sessions: ExtraSessions) -> None:
    start = np.maximum(t - (rng.uniform(1, 30, size=who.size) * 1000).astype(np.int64), pop.t0[who])
    sessions.append((who, start, *where))


def _sleeper_campaigns(rng: np.random.Generator, pop: Population, idx: PostIndex, ev: Events,
                       sessions: ExtraSessions, cells: list[np.ndarray], seed: int) -> None:
    """Each cell wakes at once (population.switch_ms) and boosts posts that a few popular accounts made
    since the day before: likes, comments, shares and follows of most members within hours of each other."""
    for members in cells:
        wake = int(pop.switch_ms[members[0]])
        since, until = wake - P.DAY_MS, pop.end_ms - 2 * P.HOUR_MS
        n_targets = int(rng.integers(P.SLEEPER_TARGET_ACCOUNTS[0], P.SLEEPER_TARGET_ACCOUNTS[1] + 1))
        authors = np.unique(idx.feed_author[rng.integers(0, idx.feed_post.size, n_targets)])
        cand = np.concatenate([idx.posts_of(a) for a in authors])
        cand = cand[(idx.time[cand] >= since) & (idx.time[cand] < until)]
        if cand.size == 0:   # the targets posted nothing lately: boost the feed's latest posts instead
            a, b = np.searchsorted(idx.feed_time, [since, until])
            cand = np.unique(idx.feed_post[a:b]).astype(np.int64)
        if cand.size == 0:
            continue
        n_posts = int(rng.integers(P.SLEEPER_TARGET_POSTS[0], P.SLEEPER_TARGET_POSTS[1] + 1))
        posts = np.sort(rng.choice(cand, size=min(n_posts, cand.size), replace=False))
        go = np.maximum(idx.time[posts], wake) + lognormal(rng, P.SLEEPER_GO_MEDIAN_S * 1000, P.SLEEPER_GO_SIGMA,
                                                          posts.size).astype(np.int64)
        ci, mi = np.nonzero(rng.random((posts.size, members.size)) < P.SLEEPER_PARTICIPATION)
        who, post = members[mi], posts[ci]
        t_like = go[ci] + (rng.random(ci.size) * P.SLEEPER_SPREAD_S * 1000).astype(np.int64)
        kept = _burst(rng, pop, idx, ev, who, post, t_like, P.SLEEPER_EXTRA, P.SLEEPER_EXTRA_DELAY_S,
                      P.SLEEPER_FOLLOW)
        who, t_like = who[kept], t_like[kept]
        cell = np.uint64(pop.cluster[members[0]]) + POOL_CELL
        lo, hi = P.SLEEPER_PROXY_IPS
        n_ip = lo + int(pop.cluster[members[0]]) % (hi - lo + 1)
        ip = pool_ip(np.full(who.size, cell), rng.integers(0, n_ip, size=who.size), seed, BROADBAND)
        _sessions(rng, who, t_like, pop, (np.full(who.size, P.ANDROID, np.int8), device_number(who, 0), ip),
                  sessions)


def _loose_campaigns(rng: np.random.Generator, pop: Population, idx: PostIndex, ev: Events,
                     sessions: ExtraSessions, rings: list[np.ndarray], near: SessionIndex, seed: int) -> None:
    """Customers' posts boosted by a random part of the ring (each member joins with its own probability)
    over minutes, each comment a paraphrase of the campaign's talking point, from the members' own phones
    and networks, some through the ring's few proxy /24s."""
    for members in rings:
        propensity = rng.uniform(*P.LOOSE_PARTICIPATION, size=members.size)
        n_cust = int(rng.integers(P.LOOSE_CUSTOMERS[0], P.LOOSE_CUSTOMERS[1] + 1))
        customers = np.unique(idx.feed_author[rng.integers(0, idx.feed_post.size, n_cust)])
        cand = np.concatenate([idx.posts_of(c) for c in customers])
        cand = cand[idx.time[cand] < pop.end_ms - P.HOUR_MS]
        n_camp = min(cand.size, int(round(pop.days * rng.uniform(*P.LOOSE_CAMPAIGNS_PER_DAY))))
        if n_camp == 0:
            continue
        posts = np.sort(rng.choice(cand, size=n_camp, replace=False))
        go = idx.time[posts] + lognormal(rng, P.LOOSE_DELAY_MEDIAN_S * 1000, P.LOOSE_DELAY_SIGMA,
                                         n_camp).astype(np.int64)
        point = rng.integers(0, 1 << 20, n_camp)
        ci, mi = np.nonzero(rng.random((n_camp, members.size)) < propensity[None, :])
        who, post = members[mi], posts[ci]
        t_like = go[ci] + (rng.uniform(*P.LOOSE_SPREAD_S, size=ci.size) * 1000).astype(np.int64)
        kept = _burst(rng, pop, idx, ev, who, post, t_like, P.LOOSE_EXTRA, P.LOOSE_EXTRA_DELAY_S, P.LOOSE_FOLLOW,
                      base=point[ci], style=T.STYLE["paraphrase"])
        who, t_like = who[kept], t_like[kept]
        client, device, ip = near.near(who, t_like, seed)
        ring = np.uint64(pop.cluster[members[0]]) + POOL_LOOSE
        lo, hi = P.LOOSE_PROXY_IPS
        n_ip = lo + int(pop.cluster[members[0]]) % (hi - lo + 1)
        proxy = pool_ip(np.full(who.size, ring), rng.integers(0, n_ip, size=who.size), seed, BROADBAND)
        ip = np.where(rng.random(who.size) < P.LOOSE_PROXY_SHARE, proxy, ip).astype(np.uint32)
        _sessions(rng, who, t_like, pop, (client, device, ip), sessions)


def _fan_reactions(rng: np.random.Generator, pop: Population, idx: PostIndex, ev: Events,
                   sessions: ExtraSessions, clubs: list[np.ndarray], near: SessionIndex, seed: int) -> None:
    """Fans see their celebrity's post (a push notification) and react within minutes, unless asleep;
    from their own phones and networks, with short emoji-heavy cheers."""
    for members in clubs:
        celeb = int(pop.link[members[0]])
        if celeb < 0:
            continue
        posts = idx.posts_of(celeb)
        posts = posts[idx.time[posts] < pop.end_ms]
        if posts.size == 0:
            continue
        react = rng.uniform(*P.FAN_REACT, size=members.size)
        ci, mi = np.nonzero(rng.random((posts.size, members.size)) < react[None, :])
        who, post = members[mi], posts[ci]
        t_like = idx.time[post] + lognormal(rng, P.FAN_DELAY_MEDIAN_S * 1000, P.FAN_DELAY_SIGMA,
                                            ci.size).astype(np.int64) + 1
        hour = ((t_like + pop.utc_offset_ms(who)) % P.DAY_MS) // P.HOUR_MS
        asleep = (hour >= P.FAN_NIGHT[0]) & (hour < P.FAN_NIGHT[1]) & (rng.random(ci.size) < P.FAN_NIGHT_SKIP)
        who, post, t_like = who[~asleep], post[~asleep], t_like[~asleep]
        kept = _burst(rng, pop, idx, ev, who, post, t_like, P.FAN_EXTRA, P.FAN_EXTRA_DELAY_S, P.FAN_FOLLOW,
                      style=T.STYLE["fan"])
        who, t_like = who[kept], t_like[kept]
        _sessions(rng, who, t_like, pop, near.near(who, t_like, seed), sessions)


def plant(pop: Population, chunk: int, seed: int, idx: PostIndex, ev: Events, sessions: ExtraSessions,
          near: SessionIndex) -> None:
    """Sleeper campaigns, loose-ring campaigns and fan reactions of one chunk."""
    if idx.feed_post.size == 0:
        return
    lo, hi = pop.chunk_bounds(chunk)

    def stream(strategy: str) -> np.random.Generator:
        return rng_for(seed, chunk, S_OWN_PASS2 + P.STRATEGIES.index(strategy))

    _sleeper_campaigns(stream("dormant_sleeper"), pop, idx, ev, sessions, _groups(pop, lo, hi, "dormant_sleeper"),
                       seed)
    _loose_campaigns(stream("loose_ring"), pop, idx, ev, sessions, _groups(pop, lo, hi, "loose_ring"), near, seed)
    _fan_reactions(stream("fan_community"), pop, idx, ev, sessions, _groups(pop, lo, hi, "fan_community"), near,
                   seed)
