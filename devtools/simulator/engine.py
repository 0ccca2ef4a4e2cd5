"""The platform simulator: writes a platform export (input contract) plus the ground truth.

Two passes over chunks of accounts keep memory bounded:
1. accounts and posts per chunk; only a compact index of every post (author, time) is kept;
2. interactions, sessions and reports per chunk, with targets drawn from the whole platform's posts
   (a popularity-weighted feed), so engagement crosses chunk boundaries like on a real platform.
Every step is vectorized over the events of a chunk; Python loops run over strategies, farms and rings
(tens per chunk), never over events.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator import text as T
from genuine.devtools.simulator.encode import hex16, ipv4, make_ids, mix64
from genuine.devtools.simulator.population import (
    INTERESTS,
    S_CAMPAIGNS,
    S_FEED,
    S_LABELS,
    S_POSTS,
    S_REPORTS,
    S_TARGETS,
    S_TEXT,
    Population,
    build_population,
    rng_for,
)
from genuine.devtools.simulator.schema import ENTITIES, EXPORT_SCHEMAS, TRUTH_DIR, TRUTH_FILE, TRUTH_SCHEMA
from genuine.devtools.simulator.timeline import (
    Timeline,
    build_timeline,
    device_number,
    farm_proxy_ip,
    lognormal,
    segment_positions,
)

logger = logging.getLogger(__name__)

PEOPLE = tuple(s for s, pop in P.STRATEGY_POPULATION.items() if pop != "ai")
_ENTITY_KEY = {"account": 1, "post": 2, "event": 3, "session": 4, "report": 5, "device": 6, "image": 7}
_POOL_IMAGE = np.uint64(1 << 61)


@dataclass
class SimulationSummary:
    """What a simulation wrote: rows and part files per entity, the truth file, and the time it took."""

    out_dir: Path
    n_accounts: int
    days: int
    seed: int
    start_date: str
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    truth_path: Path | None = None
    truth_rows: int = 0
    seconds: float = 0.0

    @property
    def events(self) -> int:
        """Rows across all entities of the export (the benchmark's event count)."""
        return sum(self.rows.values())


def _key(seed: int, entity: str) -> int:
    return int(mix64(np.array([seed * 16 + _ENTITY_KEY[entity]], dtype=np.uint64))[0])


class _Ids:
    """Keyed id encoders of one run (ids differ between seeds, never collide within a run)."""

    def __init__(self, seed: int) -> None:
        self.keys = {name: _key(seed, name) for name in _ENTITY_KEY}

    def account(self, idx: np.ndarray) -> pa.Array:
        return make_ids("u", idx, self.keys["account"])

    def post(self, number: np.ndarray) -> pa.Array:
        return make_ids("p", number, self.keys["post"])

    def of(self, entity: str, prefix: str, numbers: np.ndarray) -> pa.Array:
        return make_ids(prefix, numbers, self.keys[entity])


def _start_ms(start_date: str) -> int:
    dt = datetime.fromisoformat(start_date)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _strategy_table(values: Mapping[str, object], dtype: type = np.float64) -> np.ndarray:
    return np.array([values[s] for s in P.STRATEGIES], dtype=dtype)


def _write(out: Path, entity: str, part: int, columns: dict[str, pa.Array], schema: pa.Schema) -> tuple[str, int]:
    table = pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
    folder = out / entity
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{part:05d}.parquet"
    pq.write_table(table, path, compression="zstd")
    return str(path), table.num_rows


def _clear_previous(out: Path) -> None:
    """Remove part files of an earlier run in the same folder, so a smaller run leaves no stale parts."""
    for entity in ENTITIES:
        for old in sorted((out / entity).glob("part-*.parquet")):
            old.unlink()
    truth = out / TRUTH_DIR / TRUTH_FILE
    if truth.exists():
        truth.unlink()


# --- pass 1: accounts and posts -------------------------------------------------------------------------


def _accounts_columns(pop: Population, chunk: int, seed: int, ids: _Ids) -> dict[str, pa.Array]:
    rng = rng_for(seed, chunk, S_TEXT)
    lo, hi = pop.chunk_bounds(chunk)
    idx = np.arange(lo, hi, dtype=np.int64)
    codes = pop.strategy[lo:hi]
    zh = rng.random(idx.size) < pop.zh_share[lo:hi]
    nick_style = np.array([T.STYLE[P.ACCOUNTS[s].nickname] for s in P.STRATEGIES])[codes]
    # an account that kept its default name kept an empty or boilerplate bio; others write in their style
    bio_style = np.array([T.STYLE[a.nickname if a.nickname in ("default", "brand", "farm") else a.text]
                          for a in (P.ACCOUNTS[s] for s in P.STRATEGIES)])[codes]
    topic = T.topic_names(pop.interests[lo:hi, 0].astype(np.int64), zh)
    return {
        "account_id": ids.account(idx),
        "created_at": pa.array(pop.created_at[lo:hi]),
        "nickname": T.nicknames(rng, nick_style, zh),
        "bio": T.bios(rng, bio_style, zh, topic),
        "verified": pa.array(pop.verified[lo:hi]),
        "declared_ai_assisted": pa.array(pop.declared[lo:hi]),
        "region": pa.array(list(P.REGIONS)).take(pa.array(pop.region[lo:hi].astype(np.int64))),
    }


def _media(rng: np.random.Generator, pop: Population, chunk: int, actor: np.ndarray, declared: np.ndarray,
           ids: _Ids) -> pa.Array:
    """Images per post: unique perceptual hashes, except farm/ring pools shared by their members."""
    codes = pop.strategy[actor]
    cum = np.cumsum(np.array([P.ACCOUNTS[s].media for s in P.STRATEGIES], dtype=np.float64), axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(actor.size)
    count = np.minimum((u[:, None] > cum[codes]).sum(axis=1), 9).astype(np.int64)
    row = np.repeat(np.arange(actor.size), count)
    j = segment_positions(count)
    number = (np.uint64(chunk) << np.uint64(40)) | (row.astype(np.uint64) << np.uint64(4)) | j.astype(np.uint64)
    phash = mix64(number ^ np.uint64(ids.keys["image"]))
    cluster = pop.cluster[actor[row]]
    rcodes = codes[row]
    farm = rcodes == P.STRATEGIES.index("engagement_farm")
    ring = (rcodes == P.STRATEGIES.index("device_ring")) & (rng.random(row.size) < P.RING_PHASH_SHARE)
    pooled = (farm | ring) & (cluster >= 0)
    lo, hi = P.FARM_PHASH_POOL
    pool_size = lo + cluster.astype(np.int64) % (hi - lo + 1)
    slot = rng.integers(0, 1 << 20, size=row.size) % np.maximum(pool_size, 1)
    pool_number = _POOL_IMAGE | (np.maximum(cluster, 0).astype(np.uint64) << np.uint64(8)) | slot.astype(np.uint64)
    pool_hash = mix64(pool_number ^ np.uint64(ids.keys["image"]))   # bit 61 set: never a post's own image
    flip = rng.random(row.size) < P.FARM_PHASH_FLIP
    pool_hash = np.where(flip, pool_hash ^ (np.uint64(1) << rng.integers(0, 64, row.size).astype(np.uint64)),
                         pool_hash)
    phash = np.where(pooled, pool_hash, phash)
    aigc_share = _strategy_table({s: P.ACCOUNTS[s].aigc_media for s in P.STRATEGIES})[rcodes]
    aigc = (rng.random(row.size) < aigc_share) | (declared[row] & (rng.random(row.size) < 0.8))
    items = pa.StructArray.from_arrays([hex16(phash), pa.array(aigc)], fields=list(T_MEDIA_FIELDS))
    offsets = np.zeros(actor.size + 1, dtype=np.int32)
    np.cumsum(count, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=EXPORT_SCHEMAS["posts"].field("media").type)


T_MEDIA_FIELDS = tuple(EXPORT_SCHEMAS["posts"].field("media").type.value_type)


def _topics(rng: np.random.Generator, pop: Population, actor: np.ndarray, zh: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(topics list per post, main topic name per post) from the author's interests."""
    codes = pop.strategy[actor]
    lo = _strategy_table({s: P.ACCOUNTS[s].topics[0] for s in P.STRATEGIES}, np.int64)[codes]
    hi = _strategy_table({s: P.ACCOUNTS[s].topics[1] for s in P.STRATEGIES}, np.int64)[codes]
    width = np.where(hi > 3, INTERESTS, 3)
    rot = rng.integers(0, 1 << 20, size=actor.size) % width
    count = lo + rng.integers(0, 1 << 20, size=actor.size) % (hi - lo + 1)
    row = np.repeat(np.arange(actor.size), count)
    j = segment_positions(count)
    topic_idx = pop.interests[actor[row], (rot[row] + j) % width[row]].astype(np.int64)
    names = T.topic_names(topic_idx, zh[row])
    offsets = np.zeros(actor.size + 1, dtype=np.int32)
    np.cumsum(count, out=offsets[1:])
    main = T.topic_names(pop.interests[actor, rot].astype(np.int64), zh)
    return pa.ListArray.from_arrays(pa.array(offsets), names), main


def _posts(pop: Population, chunk: int, seed: int, tl: Timeline,
           ids: _Ids) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray]:
    rng = rng_for(seed, chunk, S_POSTS)
    m = tl.e_kind == P.POST
    actor, t, client = tl.e_actor[m], tl.e_time[m], tl.e_client[m]
    order = np.lexsort((actor, t))
    actor, t, client = actor[order], t[order], client[order]
    n = actor.size
    codes = pop.strategy[actor]
    declared = pop.declared[actor] & (rng.random(n) < P.DECLARED_POST_SHARE)
    style = np.array([T.STYLE[P.ACCOUNTS[s].text] for s in P.STRATEGIES])[codes]
    style = np.where(declared, T.STYLE["ai"], style)
    zh = rng.random(n) < pop.zh_share[actor]
    topics, main_topic = _topics(rng, pop, actor, zh)
    title, body = T.post_texts(rng, style, zh, main_topic, pop.template[actor].astype(np.int64))
    number = (np.int64(chunk) << np.int64(32)) | np.arange(n, dtype=np.int64)
    cols = {
        "post_id": ids.post(number),
        "account_id": ids.account(actor),
        "created_at": pa.array(t),
        "title": title,
        "body": body,
        "client": pa.array(list(P.CLIENTS)).take(pa.array(client.astype(np.int64))),
        "topics": topics,
        "media": _media(rng, pop, chunk, actor, declared, ids),
        "declared_ai": pa.array(declared),
    }
    return cols, actor, t


# --- the platform's posts, for targeting ----------------------------------------------------------------


@dataclass
class PostIndex:
    """Every post of the platform: by author (latest post before t) and as a popularity-weighted feed.

    A post is known here by its position in chunk order; its id number is (chunk << 32) | rank in chunk.
    About 56 bytes per post; worker processes share it copy-on-write (fork).
    """

    author: np.ndarray        # int32 account number per post position
    time: np.ndarray          # int64 created_at per post position
    chunk_start: np.ndarray   # first position of each chunk's posts
    sorted_post: np.ndarray   # positions sorted by (author, time)
    sorted_key: np.ndarray    # (author << time_bits) | (time - base), same order
    feed_post: np.ndarray     # the feed: positions repeated by appeal, sorted by time
    feed_time: np.ndarray
    feed_author: np.ndarray
    base: int
    time_bits: int

    @classmethod
    def build(cls, pop: Population, authors: list[np.ndarray], times: list[np.ndarray], seed: int) -> PostIndex:
        author = np.concatenate(authors).astype(np.int32) if authors else np.empty(0, np.int32)
        when = np.concatenate(times).astype(np.int64) if times else np.empty(0, np.int64)
        sizes = np.array([a.size for a in authors], dtype=np.int64)
        base = pop.start_ms - P.DAY_MS
        time_bits = int(pop.end_ms - base).bit_length() + 1
        by_author = np.lexsort((when, author)).astype(np.int32)
        rng = rng_for(seed, 0, S_FEED)
        weight = pop.popularity[author] * lognormal(rng, 1.0, P.FEED_QUALITY_SIGMA, author.size)
        lam = P.FEED_ENTRIES_PER_POST * weight / max(float(weight.mean()), 1e-12) if author.size else weight
        entries = np.repeat(np.arange(author.size, dtype=np.int32), rng.poisson(lam))
        entries = entries[np.argsort(when[entries], kind="stable")]
        return cls(author, when, np.cumsum(sizes) - sizes, by_author,
                   (author[by_author].astype(np.int64) << time_bits) | (when[by_author] - base),
                   entries, when[entries], author[entries], base, time_bits)

    def number(self, pos: np.ndarray) -> np.ndarray:
        """Post id numbers of index positions."""
        chunk = np.searchsorted(self.chunk_start, pos, side="right") - 1
        return (chunk.astype(np.int64) << 32) | (pos - self.chunk_start[chunk])

    def _key(self, author: np.ndarray, when: np.ndarray) -> np.ndarray:
        return (author.astype(np.int64) << self.time_bits) | (when - self.base)

    def latest_before(self, author: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The author's latest post created strictly before t: (position, found)."""
        if self.sorted_key.size == 0:
            return np.zeros(t.size, np.int64), np.zeros(t.size, bool)
        p = np.searchsorted(self.sorted_key, self._key(author, t), side="left") - 1
        post = self.sorted_post[np.maximum(p, 0)].astype(np.int64)
        return post, (p >= 0) & (self.author[post] == author)

    def posts_of(self, author: int) -> np.ndarray:
        lo = np.searchsorted(self.sorted_key, int(author) << self.time_bits)
        hi = np.searchsorted(self.sorted_key, (int(author) + 1) << self.time_bits)
        return np.asarray(self.sorted_post[lo:hi], dtype=np.int64)

    def from_feed(self, rng: np.random.Generator, actor: np.ndarray, t: np.ndarray, lag_median_s: float,
                  lag_sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """A feed post seen about `lag` before t (popular posts appear more often): (position, found)."""
        lag = lognormal(rng, lag_median_s * 1000, lag_sigma, t.size).astype(np.int64)
        if self.feed_time.size == 0:
            return np.zeros(t.size, np.int64), np.zeros(t.size, bool)
        hi = np.searchsorted(self.feed_time, t, side="left")
        j = np.minimum(np.searchsorted(self.feed_time, t - lag, side="left"), hi - 1)
        ok = hi > 0
        j = np.maximum(j, 0)
        own = ok & (self.feed_author[j] == actor) & (j > 0)
        j = np.where(own, j - 1, j)
        return self.feed_post[j].astype(np.int64), ok


# --- pass 2: interactions, sessions, reports --------------------------------------------------------------


@dataclass
class _Events:
    actor: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)
    target: list[np.ndarray] = field(default_factory=list)   # target account
    post: list[np.ndarray] = field(default_factory=list)     # target post number, -1 for follows
    time: list[np.ndarray] = field(default_factory=list)
    farm_base: list[np.ndarray] = field(default_factory=list)  # near-duplicate comment base, -1 otherwise

    def add(self, actor: np.ndarray, kind: np.ndarray | int, target: np.ndarray, post: np.ndarray | int,
            t: np.ndarray, farm_base: np.ndarray | int = -1) -> None:
        n = actor.size
        self.actor.append(actor.astype(np.int64))
        self.kind.append(np.broadcast_to(np.asarray(kind, dtype=np.int8), n).copy())
        self.target.append(target.astype(np.int64))
        self.post.append(np.broadcast_to(np.asarray(post, dtype=np.int64), n).copy())
        self.time.append(t.astype(np.int64))
        self.farm_base.append(np.broadcast_to(np.asarray(farm_base, dtype=np.int64), n).copy())

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(np.concatenate(x) if x else np.empty(0, np.int64)
                     for x in (self.actor, self.kind, self.target, self.post, self.time, self.farm_base))


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


def _engagements(rng: np.random.Generator, pop: Population, idx: PostIndex, ev: _Events, actor: np.ndarray,
                 kind: np.ndarray, t: np.ndarray, lo: int, hi: int) -> None:
    """Likes, collects, comments and shares initiated by the actor: choose the post they act on."""
    if idx.feed_post.size == 0:   # nothing posted yet on the whole platform: nothing to engage with
        return
    codes = pop.strategy[actor]
    people = np.isin(codes, [P.STRATEGIES.index(s) for s in PEOPLE])
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


def _follows(rng: np.random.Generator, pop: Population, ev: _Events, actor: np.ndarray, t: np.ndarray,
             lo: int, hi: int, popular_cdf: np.ndarray) -> None:
    """Follows (community, popular accounts, ring mates), follow-backs by humans, and unfollows."""
    codes = pop.strategy[actor]
    people = np.isin(codes, [P.STRATEGIES.index(s) for s in PEOPLE])
    spam = np.isin(codes, [P.STRATEGIES.index("jittered_scheduler"), P.STRATEGIES.index("fixed_interval")])
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
    tcodes = pop.strategy[target]
    back_p = np.where(actor // P.COMMUNITY_SIZE == target // P.COMMUNITY_SIZE, P.RECIPROCITY_COMMUNITY,
                      P.RECIPROCITY_OTHER)
    back = np.isin(tcodes, [P.STRATEGIES.index(s) for s in PEOPLE]) & (rng.random(actor.size) < back_p)
    tb = t + lognormal(rng, P.FOLLOW_BACK_MEDIAN_S * 1000, P.FOLLOW_BACK_SIGMA, actor.size).astype(np.int64)
    back &= (tb < pop.end_ms) & (tb >= pop.t0[target])
    ev.add(target[back], P.FOLLOW, actor[back], -1, tb[back])
    # unfollows: follow-for-follow accounts drop most of theirs
    churn = _strategy_table({s: P.ACCOUNTS[s].churn for s in P.STRATEGIES})[pop.strategy[actor]]
    tu = t + lognormal(rng, P.UNFOLLOW_MEDIAN_S * 1000, P.UNFOLLOW_SIGMA, actor.size).astype(np.int64)
    drop = (rng.random(actor.size) < churn) & (tu < pop.end_ms)
    ev.add(actor[drop], P.UNFOLLOW, target[drop], -1, tu[drop])


def _campaigns(pop: Population, chunk: int, seed: int, idx: PostIndex, ev: _Events,
               sessions: list[tuple[np.ndarray, ...]]) -> None:
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


def _reports(pop: Population, chunk: int, seed: int, tg: _Targets) -> tuple[np.ndarray, ...]:
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
    rep = np.concatenate([rep, *b_rep]).astype(np.int64)
    target = np.concatenate([target, *b_target]).astype(np.int64)
    when = np.concatenate([when, *b_time]).astype(np.int64)
    reason = np.concatenate([reason, *b_reason]).astype(np.int8)
    ok = (rep != target) & (when < pop.end_ms) & (when >= pop.t0[rep]) & (when >= pop.t0[target])
    return rep[ok], target[ok], when[ok], reason[ok]


_REASON_BY_STRATEGY = {   # spam, fake_account, ai_generated, harassment, misinformation, other
    "fixed_interval": (0.6, 0.2, 0.2, 0, 0, 0), "jittered_scheduler": (0.6, 0.2, 0.2, 0, 0, 0),
    "engagement_farm": (0.5, 0.4, 0, 0, 0, 0.1), "device_ring": (0.3, 0.6, 0, 0, 0, 0.1),
    "humanized": (0, 0.4, 0.5, 0, 0, 0.1),
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


def _pass2(ctx: _Context, chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    """Interactions, sessions and reports of one chunk. Returns what was written and, per account that
    acted, its earliest action (moderator labels come after it)."""
    pop, seed, ids, out, tg = ctx.pop, ctx.seed, ctx.ids, ctx.out, ctx.targets()
    idx = ctx.index
    if idx is None:
        raise RuntimeError("pass 2 needs the post index built after pass 1")
    lo, hi = pop.chunk_bounds(chunk)
    tl = build_timeline(pop, chunk, seed)
    order = np.argsort(tl.e_time, kind="stable")   # time-sorted queries make the searchsorted calls cheap
    e_actor, e_time, e_kind = tl.e_actor[order], tl.e_time[order], tl.e_kind[order]
    rng = rng_for(seed, chunk, S_TARGETS)
    ev = _Events()
    engage = np.isin(e_kind, [P.LIKE, P.COLLECT, P.COMMENT, P.SHARE])
    _engagements(rng, pop, idx, ev, e_actor[engage], e_kind[engage], e_time[engage], lo, hi)
    fol = e_kind == P.FOLLOW
    _follows(rng, pop, ev, e_actor[fol], e_time[fol], lo, hi, tg.popular_cdf)
    extra_sessions: list[tuple[np.ndarray, ...]] = []
    _campaigns(pop, chunk, seed, idx, ev, extra_sessions)
    actor, kind, target, post, t, farm_base = ev.arrays()
    order = _events_order(t)
    actor, kind, target, post, t, farm_base = (a[order] for a in (actor, kind, target, post, t, farm_base))
    written: dict[str, tuple[str, int]] = {}
    trng = rng_for(seed, chunk, S_TEXT + 100)
    c = np.flatnonzero(kind == P.COMMENT)
    zh = trng.random(c.size) < pop.zh_share[actor[c]]
    cstyle = np.array([T.STYLE[P.ACCOUNTS[s].comment] for s in P.STRATEGIES])[pop.strategy[actor[c]]]
    topic = T.topic_names(pop.interests[actor[c], 0].astype(np.int64), zh)
    texts = T.comment_texts(trng, cstyle, zh, topic, farm_base[c])
    slot = np.full(kind.size, -1, np.int64)
    slot[c] = np.arange(c.size)
    has_post = post >= 0
    number = (np.int64(chunk) << np.int64(40)) | np.arange(kind.size, dtype=np.int64)
    written["interactions"] = _write(out, "interactions", chunk, {
        "event_id": ids.of("event", "e", number),
        "actor_id": ids.account(actor),
        "kind": pa.array(list(P.KINDS)).take(pa.array(kind.astype(np.int64))),
        "target_account_id": ids.account(target),
        "target_post_id": _mask_strings(ids.post(idx.number(np.maximum(post, 0))), ~has_post),
        "created_at": pa.array(t),
        "body": texts.take(pa.array(slot, mask=slot < 0)),
    }, EXPORT_SCHEMAS["interactions"])
    s_parts = [(tl.s_actor, tl.s_start, tl.s_client, tl.s_device, tl.s_ip), *extra_sessions]
    s_actor, s_start, s_client, s_device, s_ip = (np.concatenate([p[i] for p in s_parts]) for i in range(5))
    order = _events_order(s_start)
    s_actor, s_start, s_client, s_device, s_ip = (a[order] for a in (s_actor, s_start, s_client, s_device, s_ip))
    number = (np.int64(chunk) << np.int64(40)) | np.arange(s_actor.size, dtype=np.int64)
    written["sessions"] = _write(out, "sessions", chunk, {
        "session_id": ids.of("session", "s", number),
        "account_id": ids.account(s_actor),
        "device_id": ids.of("device", "d", s_device.astype(np.uint64)),
        "ip": ipv4(s_ip.astype(np.uint32)),
        "started_at": pa.array(s_start.astype(np.int64)),
        "client": pa.array(list(P.CLIENTS)).take(pa.array(s_client.astype(np.int64))),
    }, EXPORT_SCHEMAS["sessions"])
    rep, rtarget, rtime, reason = _reports(pop, chunk, seed, tg)
    order = _events_order(rtime)
    rep, rtarget, rtime, reason = rep[order], rtarget[order], rtime[order], reason[order]
    zh = trng.random(rep.size) < pop.zh_share[rep]
    number = (np.int64(chunk) << np.int64(40)) | np.arange(rep.size, dtype=np.int64)
    written["reports"] = _write(out, "reports", chunk, {
        "report_id": ids.of("report", "r", number),
        "reporter_id": ids.account(rep),
        "reported_account_id": ids.account(rtarget),
        "reason": pa.array(list(P.REPORT_REASONS)).take(pa.array(reason.astype(np.int64))),
        "created_at": pa.array(rtime),
        "body": T.report_bodies(trng, reason, zh, P.REPORT_REASONS),
    }, EXPORT_SCHEMAS["reports"])
    seen_acc, seen_t = _earliest(np.concatenate([actor, s_actor, rep]), np.concatenate([t, s_start, rtime]))
    return written, seen_acc, seen_t


def _earliest(acc: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct account, its earliest time."""
    order = np.lexsort((t, acc))
    acc, t = acc[order], t[order]
    first = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]]) if acc.size else np.empty(0, np.int64)
    return acc[first], t[first]


def _mask_strings(values: pa.Array, null: np.ndarray) -> pa.Array:
    """Set rows to null where `null` is true."""
    return pc.if_else(pa.array(null), pa.scalar(None, pa.string()), values)


# --- labels and truth -------------------------------------------------------------------------------------


def _labels(pop: Population, seed: int, sim: P.SimParams, first_seen: np.ndarray, ids: _Ids) -> dict[str, pa.Array]:
    """Moderator labels for a stratified sample (every strategy represented), ~1 % of them wrong."""
    rng = rng_for(seed, 0, S_LABELS)
    chosen = []
    for code in range(len(P.STRATEGIES)):
        members = np.flatnonzero(pop.strategy == code)
        if members.size == 0 or sim.label_fraction <= 0:
            continue
        k = min(members.size, max(1, int(round(sim.label_fraction * members.size))))
        chosen.append(rng.choice(members, size=k, replace=False))
    acc = np.sort(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)
    is_ai = np.array([P.STRATEGY_POPULATION[s] == "ai" for s in P.STRATEGIES])[pop.strategy[acc]]
    wrong = rng.random(acc.size) < sim.moderator_error_rate
    label = np.where(is_ai ^ wrong, "ai_managed", "human")
    seen = np.where(first_seen[acc] < np.iinfo(np.int64).max, first_seen[acc], pop.t0[acc])
    seen = np.minimum(seen, pop.end_ms - 2)
    span = pop.end_ms - 2 - seen          # decided in (seen, end): late in what is left of the period
    decided = seen + 1 + (rng.uniform(0.4, 1.0, acc.size) * span).astype(np.int64)
    return {
        "account_id": ids.account(acc),
        "label": pa.array(label, type=pa.string()),
        "source": pa.array(np.full(acc.size, "moderator"), type=pa.string()),
        "decided_at": pa.array(decided.astype(np.int64)),
    }


def _truth(pop: Population, ids: _Ids) -> pa.Table:
    acc = np.arange(pop.n, dtype=np.int64)
    strategy = pa.array(list(P.STRATEGIES)).take(pa.array(pop.strategy.astype(np.int64)))
    population = pa.array([P.STRATEGY_POPULATION[s] for s in P.STRATEGIES]).take(pa.array(pop.strategy.astype(np.int64)))
    names = pa.array(pop.cluster_names + [""], type=pa.string())
    cl = pop.cluster.astype(np.int64)
    cluster = names.take(pa.array(np.where(cl >= 0, cl, 0), mask=cl < 0))
    return pa.Table.from_arrays([ids.account(acc), population, strategy, cluster], schema=TRUTH_SCHEMA)


# --- orchestration -----------------------------------------------------------------------------------------


@dataclass
class _Targets:
    """Whole-platform samplers used by every chunk: whom people follow, report, brigade."""

    popular_cdf: np.ndarray
    ai_idx: np.ndarray
    ai_cum: np.ndarray
    people_idx: np.ndarray
    people_cdf: np.ndarray

    @classmethod
    def of(cls, pop: Population) -> _Targets:
        ai_codes = [P.STRATEGIES.index(s) for s, p in P.STRATEGY_POPULATION.items() if p == "ai"]
        is_ai = np.isin(pop.strategy, ai_codes)
        ai_idx = np.flatnonzero(is_ai)
        weights = _strategy_table({s: P.ACCOUNTS[s].report_weight for s in P.STRATEGIES})
        people_idx = np.flatnonzero(~is_ai)
        return cls(np.cumsum(pop.popularity), ai_idx, np.cumsum(weights[pop.strategy[ai_idx]]), people_idx,
                   np.cumsum(pop.popularity[people_idx]))


@dataclass
class _Context:
    """What a chunk job needs. Forked workers inherit it (and the post index) without copying."""

    pop: Population
    seed: int
    out: Path
    index: PostIndex | None = None
    _targets: _Targets | None = None

    @property
    def ids(self) -> _Ids:
        return _Ids(self.seed)

    def targets(self) -> _Targets:
        if self._targets is None:
            self._targets = _Targets.of(self.pop)
        return self._targets


def _pass1(ctx: _Context, chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    """Accounts and posts of one chunk; returns the compact (author, time) of its posts."""
    pop, seed, ids = ctx.pop, ctx.seed, ctx.ids
    written = {"accounts": _write(ctx.out, "accounts", chunk, _accounts_columns(pop, chunk, seed, ids),
                                  EXPORT_SCHEMAS["accounts"])}
    cols, author, when = _posts(pop, chunk, seed, build_timeline(pop, chunk, seed), ids)
    written["posts"] = _write(ctx.out, "posts", chunk, cols, EXPORT_SCHEMAS["posts"])
    return written, author.astype(np.int32), when


_FORKED: dict[str, _Context] = {}   # set just before forking; read by the pool's jobs


def _job1(chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    return _pass1(_FORKED["ctx"], chunk)


def _job2(chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    return _pass2(_FORKED["ctx"], chunk)


def _chunks(ctx: _Context, n_chunks: int, workers: int, job: Callable[[int], Any],
            inline: Callable[[_Context, int], Any]) -> Iterator[Any]:
    """Run one pass over all chunks, in chunk order, in this process or in a fork pool."""
    if workers <= 1:
        for chunk in range(n_chunks):
            yield inline(ctx, chunk)
        return
    _FORKED["ctx"] = ctx
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(job, range(n_chunks))
    finally:
        _FORKED.clear()


def default_workers(n_chunks: int) -> int:
    """One process per core, at most one per chunk (a single chunk is not worth a pool); one where the
    platform cannot fork."""
    if "fork" not in mp.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, n_chunks))


def simulate(n_accounts: int, days: int, seed: int, out_dir: str | Path, start_date: str = "2026-10-01",
             label_fraction: float = 0.3, progress: Callable[[int, int], None] | None = None, *,
             shares: Mapping[str, float] | None = None, chunk_accounts: int = P.CHUNK_ACCOUNTS,
             moderator_error_rate: float = P.MODERATOR_ERROR_RATE, workers: int | None = None) -> SimulationSummary:
    """Write a simulated platform export (input contract) and its ground truth to `out_dir`.

    Same arguments, same bytes, whatever `workers` is: every random draw comes from a stream keyed by
    (seed, chunk, purpose) and each chunk writes its own part files. `progress(done, total)` is called
    after each step (two per chunk, one for labels and truth). `shares` overrides DEFAULT_SHARES (missing
    strategies get 0, the rest is renormalized).
    """
    if n_accounts < 1 or days < 1:
        raise ValueError("n_accounts and days must be >= 1")
    began = time.perf_counter()
    sim = P.SimParams(dict(shares) if shares is not None else dict(P.DEFAULT_SHARES), chunk_accounts,
                      label_fraction, moderator_error_rate).validated()
    start_ms = _start_ms(start_date)
    end_ms = start_ms + days * P.DAY_MS
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    pop = build_population(n_accounts, seed, start_ms, end_ms, sim)
    ctx = _Context(pop, seed, out)
    n_chunks = pop.n_chunks
    workers = default_workers(n_chunks) if workers is None else max(1, min(workers, n_chunks))
    if workers > 1 and "fork" not in mp.get_all_start_methods():
        logger.warning("this platform cannot fork: simulating with one process")
        workers = 1
    total, step = 2 * n_chunks + 1, 0
    summary = SimulationSummary(out, n_accounts, days, seed, start_date)
    first_seen = np.full(pop.n, np.iinfo(np.int64).max, dtype=np.int64)

    def record(written: dict[str, tuple[str, int]]) -> None:
        nonlocal step
        for entity, (path, rows) in written.items():
            summary.files.setdefault(entity, []).append(path)
            summary.rows[entity] = summary.rows.get(entity, 0) + rows
        step += 1
        if progress is not None:
            progress(step, total)

    authors, times = [], []
    for chunk, (written, author, when) in enumerate(_chunks(ctx, n_chunks, workers, _job1, _pass1)):
        record(written)
        np.minimum.at(first_seen, author, when)
        authors.append(author)
        times.append(when)
        logger.info("simulate pass 1 chunk %d/%d: %d posts", chunk + 1, n_chunks, author.size)
    ctx.index = PostIndex.build(pop, authors, times, seed)
    ctx.targets()   # built once here, inherited by the workers
    del authors, times
    for chunk, (written, seen_acc, seen_t) in enumerate(_chunks(ctx, n_chunks, workers, _job2, _pass2)):
        record(written)
        np.minimum.at(first_seen, seen_acc, seen_t)
        logger.info("simulate pass 2 chunk %d/%d", chunk + 1, n_chunks)
    ctx.index = None
    ids = ctx.ids
    labels = _write(out, "labels", 0, _labels(pop, seed, sim, first_seen, ids), EXPORT_SCHEMAS["labels"])
    truth = _truth(pop, ids)
    (out / TRUTH_DIR).mkdir(exist_ok=True)
    summary.truth_path = out / TRUTH_DIR / TRUTH_FILE
    pq.write_table(truth, summary.truth_path, compression="zstd")
    summary.truth_rows = truth.num_rows
    record({"labels": labels})
    summary.seconds = time.perf_counter() - began
    logger.info("simulated %d accounts x %d days with %d worker(s): %s rows in %.1f s", n_accounts, days, workers,
                summary.rows, summary.seconds)
    return summary
