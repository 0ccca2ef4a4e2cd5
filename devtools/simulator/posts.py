"""Pass 1 of the simulator: accounts and posts of one chunk, and the index of every post that pass 2 targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator import text as T
from genuine.devtools.simulator.encode import Ids, hex16, mix64
from genuine.devtools.simulator.population import (
    INTERESTS,
    S_FEED,
    S_POSTS,
    S_TEXT,
    Population,
    rng_for,
    strategy_table,
)
from genuine.devtools.simulator.schema import EXPORT_SCHEMAS
from genuine.devtools.simulator.timeline import Timeline, lognormal, segment_positions

_POOL_IMAGE = np.uint64(1 << 61)


def accounts_columns(pop: Population, chunk: int, seed: int, ids: Ids) -> dict[str, pa.Array]:
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
           ids: Ids) -> pa.Array:
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
    aigc_share = strategy_table({s: P.ACCOUNTS[s].aigc_media for s in P.STRATEGIES})[rcodes]
    aigc = (rng.random(row.size) < aigc_share) | (declared[row] & (rng.random(row.size) < 0.8))
    items = pa.StructArray.from_arrays([hex16(phash), pa.array(aigc)], fields=list(T_MEDIA_FIELDS))
    offsets = np.zeros(actor.size + 1, dtype=np.int32)
    np.cumsum(count, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=EXPORT_SCHEMAS["posts"].field("media").type)


T_MEDIA_FIELDS = tuple(EXPORT_SCHEMAS["posts"].field("media").type.value_type)


def _topics(rng: np.random.Generator, pop: Population, actor: np.ndarray, zh: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(topics list per post, main topic name per post) from the author's interests."""
    codes = pop.strategy[actor]
    lo = strategy_table({s: P.ACCOUNTS[s].topics[0] for s in P.STRATEGIES}, np.int64)[codes]
    hi = strategy_table({s: P.ACCOUNTS[s].topics[1] for s in P.STRATEGIES}, np.int64)[codes]
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


def taken_over_style(pop: Population, actor: np.ndarray, t: np.ndarray, style: np.ndarray) -> np.ndarray:
    """After its takeover, a hijacked account writes in the script's style (HIJACK_TEXT, by account)."""
    after = (pop.strategy[actor] == P.STRATEGIES.index("hijacked")) & (t >= pop.switch_ms[actor])
    script = np.array([T.STYLE[s] for s in P.HIJACK_TEXT])[pop.template[actor].astype(np.int64) % len(P.HIJACK_TEXT)]
    return np.where(after, script, style)


def post_columns(pop: Population, chunk: int, seed: int, tl: Timeline,
                 ids: Ids) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray]:
    rng = rng_for(seed, chunk, S_POSTS)
    m = tl.e_kind == P.POST
    actor, t, client = tl.e_actor[m], tl.e_time[m], tl.e_client[m]
    order = np.lexsort((actor, t))
    actor, t, client = actor[order], t[order], client[order]
    n = actor.size
    codes = pop.strategy[actor]
    declared_share = strategy_table({s: P.ACCOUNTS[s].declared_post_share for s in P.STRATEGIES})[codes]
    declared = pop.declared[actor] & (rng.random(n) < declared_share)
    style = np.array([T.STYLE[P.ACCOUNTS[s].text] for s in P.STRATEGIES])[codes]
    style = np.where(declared, np.array([T.STYLE[P.ACCOUNTS[s].declared_text] for s in P.STRATEGIES])[codes], style)
    style = taken_over_style(pop, actor, t, style)
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
