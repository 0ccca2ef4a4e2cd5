"""Who is on the platform: one compact row of attributes per account, for the whole account base.

Everything here is a small fixed-width numpy array (about 50 bytes per account), so a million accounts
fit in memory while events are generated chunk by chunk: later chunks need to know every account's
popularity, creation time and strategy to pick targets, follow back, or be reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.text import N_TOPICS

INTERESTS = 6   # topics per account; humans post about the first three, bots stuff up to six


def rng_for(seed: int, chunk: int, stream: int) -> np.random.Generator:
    """Independent, reproducible random stream per (seed, chunk, purpose)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, chunk, stream])


# stream ids: a new purpose gets a new id so existing streams (and outputs) never shift
S_POPULATION, S_TIMELINE, S_POSTS, S_TARGETS, S_TEXT, S_REPORTS, S_LABELS, S_FEED, S_CAMPAIGNS = range(9)
S_GROUPS, S_REPLIES, S_REPLY_TEXT = 9, 10, 11   # groups of the issue-12 strategies; replies; their texts
S_SHIFT, S_SHIFT_TIMELINE = 12, 13   # a shifted platform (params.Shift): new accounts' start; retimed ticks
S_OWN = 64                    # + strategy code: the timeline of a strategy added in issue 12
S_OWN_PASS2 = 128             # + strategy code: its pass-2 actions (campaigns, reactions)


@dataclass
class Population:
    """Per-account attributes, indexed by the account's global number 0..n-1."""

    n: int
    chunk_size: int
    start_ms: int
    end_ms: int
    strategy: np.ndarray        # int8 code into params.STRATEGIES
    cluster: np.ndarray         # int32 global cluster number, -1 when none
    cluster_names: list[str]    # name per cluster number ("farm-00001", "ring-00002")
    created_at: np.ndarray      # int64 epoch ms
    t0: np.ndarray              # int64: first instant the account may act
    region: np.ndarray          # int8 index into params.REGIONS
    popularity: np.ndarray      # float64
    zh_share: np.ndarray        # float32: share of its texts in Chinese
    verified: np.ndarray        # bool
    declared: np.ndarray        # bool: declared AI assistance
    interests: np.ndarray       # int8 (n, INTERESTS) topic indices
    template: np.ndarray        # int8: the account's text template (schedulers)
    switch_ms: np.ndarray       # int64: takeover (hijacked) or wake-up (dormant_sleeper); NEVER otherwise
    link: np.ndarray            # int32: mentor (llm_persona), celebrity (fan_community), batch (hijacked); -1
    shift: P.Shift | None = None  # strategies shifting mid-window (None: the platform does not shift)

    @property
    def days(self) -> int:
        return int(-(-(self.end_ms - self.start_ms) // P.DAY_MS))

    def chunk_bounds(self, chunk: int) -> tuple[int, int]:
        lo = chunk * self.chunk_size
        return lo, min(self.n, lo + self.chunk_size)

    @property
    def n_chunks(self) -> int:
        return max(1, -(-self.n // self.chunk_size))

    def utc_offset_ms(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(P.REGION_UTC_OFFSET_H, dtype=np.int64)[self.region[idx]] * P.HOUR_MS


NEVER = np.iinfo(np.int64).max


def strategy_table(values: Mapping[str, object], dtype: type = np.float64) -> np.ndarray:
    """A per-strategy value as an array indexed by strategy code (`table[pop.strategy]` per account)."""
    return np.array([values[s] for s in P.STRATEGIES], dtype=dtype)


def exact_counts(n: int, shares: dict[str, float]) -> np.ndarray:
    """Accounts per strategy for n accounts: largest remainder, so shares hold exactly per chunk."""
    raw = np.array([shares[s] for s in P.STRATEGIES]) * n
    counts = np.floor(raw).astype(np.int64)
    rest = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _partition(rng: np.random.Generator, m: int, size: tuple[int, int]) -> list[int]:
    """Split m accounts into groups of size[0]..size[1]; a short tail joins the previous group."""
    sizes: list[int] = []
    left = m
    while left > 0:
        s = min(int(rng.integers(size[0], size[1] + 1)), left)
        if s < size[0] and sizes:
            sizes[-1] += s
        else:
            sizes.append(s)
        left -= s
    return sizes


def build_population(n: int, seed: int, start_ms: int, end_ms: int, sim: P.SimParams,
                     shift: P.Shift | None = None) -> Population:
    """Assign strategies, clusters and account attributes, chunk by chunk (exact shares per chunk)."""
    cs = sim.chunk_accounts
    n_chunks = max(1, -(-n // cs))
    strategy = np.empty(n, dtype=np.int8)
    cluster = np.full(n, -1, dtype=np.int32)
    created = np.empty(n, dtype=np.int64)
    region = np.empty(n, dtype=np.int8)
    popularity = np.empty(n, dtype=np.float64)
    verified = np.empty(n, dtype=bool)
    declared = np.empty(n, dtype=bool)
    interests = np.empty((n, INTERESTS), dtype=np.int8)
    template = np.empty(n, dtype=np.int8)
    names: list[str] = []
    span = end_ms - start_ms
    specs = [P.ACCOUNTS[s] for s in P.STRATEGIES]
    for c in range(n_chunks):
        lo, hi = c * cs, min(n, (c + 1) * cs)
        m = hi - lo
        rng = rng_for(seed, c, S_POPULATION)
        codes = np.repeat(np.arange(len(P.STRATEGIES), dtype=np.int8), exact_counts(m, sim.shares))
        rng.shuffle(codes)
        strategy[lo:hi] = codes
        region[lo:hi] = rng.choice(len(P.REGIONS), size=m, p=np.asarray(P.REGION_SHARE) / sum(P.REGION_SHARE))
        age_med = np.array([s.age_median_days for s in specs])[codes]
        age_sig = np.array([s.age_sigma for s in specs])[codes]
        age_days = np.minimum(np.exp(np.log(age_med) + age_sig * rng.standard_normal(m)), P.MAX_ACCOUNT_AGE_DAYS)
        age_days = np.clip(age_days, np.array([s.age_range_days[0] for s in specs])[codes],
                           np.array([s.age_range_days[1] for s in specs])[codes])
        is_new = rng.random(m) < np.array([s.new_share for s in specs])[codes]
        born_in = start_ms + (rng.random(m) * 0.8 * span).astype(np.int64)
        created[lo:hi] = np.where(is_new, born_in, start_ms - (age_days * P.DAY_MS).astype(np.int64))
        pop_med = np.array([s.popularity for s in specs])[codes]
        popularity[lo:hi] = pop_med * np.exp(P.POPULARITY_SIGMA * rng.standard_normal(m))
        verified[lo:hi] = rng.random(m) < np.array([s.verified for s in specs])[codes]
        declared[lo:hi] = rng.random(m) < np.array([s.declared_ai for s in specs])[codes]
        interests[lo:hi] = np.argsort(rng.random((m, N_TOPICS)), axis=1)[:, :INTERESTS]
        template[lo:hi] = rng.integers(0, 12, size=m)
        for kind, size, prefix in (("engagement_farm", P.FARM_SIZE, "farm"), ("device_ring", P.RING_SIZE, "ring")):
            members = lo + np.flatnonzero(codes == P.STRATEGIES.index(kind))
            pos = 0
            for s in _partition(rng, members.size, size):
                group = members[pos:pos + s]
                pos += s
                number = len(names)
                names.append(f"{prefix}-{number:05d}")
                cluster[group] = number
                if kind == "engagement_farm":   # registered in one batch by the farm operator
                    batch = created[group].min()
                    created[group] = batch + (rng.random(group.size) * P.FARM_BATCH_CREATION_S * 1000).astype(
                        np.int64)
    t0 = np.maximum(created + P.NEW_ACCOUNT_OFFSET_MS, start_ms)
    if shift is not None and shift.new_strategy is not None:
        _start_after_shift(t0, strategy, seed, start_ms, shift)
    switch = np.full(n, NEVER, dtype=np.int64)
    link = np.full(n, -1, dtype=np.int32)
    for c in range(n_chunks):
        lo, hi = c * cs, min(n, (c + 1) * cs)
        groups = _Groups(rng_for(seed, c, S_GROUPS), lo, strategy[lo:hi], start_ms, end_ms, names, cluster)
        groups.hijack_batches(switch, link, t0, c)
        groups.sleeper_cells(switch, t0)
        groups.clusters("loose_ring", P.LOOSE_SIZE, "loose")
        groups.clusters("smm_manager", P.SMM_GROUP, "smm")
        groups.fan_clubs(link, popularity, verified)
        groups.persona_mentors(link, region)
    zh = np.asarray(P.REGION_ZH_SHARE, dtype=np.float32)[region]
    zh = np.clip(zh + np.array([P.ACCOUNTS[s].zh_bias for s in P.STRATEGIES], dtype=np.float32)[strategy], 0, 1)
    return Population(n, cs, start_ms, end_ms, strategy, cluster, names, created, t0, region, popularity,
                      zh, verified, declared, interests, template, switch, link, shift)


def _start_after_shift(t0: np.ndarray, strategy: np.ndarray, seed: int, start_ms: int, shift: P.Shift) -> None:
    """The new strategy's accounts act only from the shift on (within new_spread_days of it); created_at
    is left alone (aged accounts put to work). Own stream: no other draw moves."""
    assert shift.new_strategy is not None
    members = np.flatnonzero(strategy == P.STRATEGIES.index(shift.new_strategy))
    rng = rng_for(seed, 0, S_SHIFT)
    begin = shift.at_ms(start_ms) + (rng.random(members.size) * shift.new_spread_days * P.DAY_MS).astype(np.int64)
    t0[members] = np.maximum(t0[members], begin)


class _Groups:
    """Groups and per-account links of the strategies added in issue 12, for one chunk (own stream, so
    the draws of the earlier strategies do not move)."""

    def __init__(self, rng: np.random.Generator, lo: int, codes: np.ndarray, start_ms: int, end_ms: int,
                 names: list[str], cluster: np.ndarray) -> None:
        self.rng, self.lo, self.codes, self.start, self.end = rng, lo, codes, start_ms, end_ms
        self.names, self.cluster = names, cluster

    def members(self, strategy: str) -> np.ndarray:
        return self.lo + np.flatnonzero(self.codes == P.STRATEGIES.index(strategy))

    def clusters(self, strategy: str, size: tuple[int, int], prefix: str) -> list[np.ndarray]:
        """Partition the chunk's accounts of a strategy into named clusters (truth cluster_id)."""
        members, out, pos = self.members(strategy), [], 0
        for s in _partition(self.rng, members.size, size):
            group = members[pos:pos + s]
            pos += s
            self.cluster[group] = len(self.names)
            self.names.append(f"{prefix}-{len(self.names):05d}")
            out.append(group)
        return out

    def hijack_batches(self, switch: np.ndarray, link: np.ndarray, t0: np.ndarray, chunk: int) -> None:
        """Accounts taken over together: one batch number, takeover times within HIJACK_SPREAD_H."""
        members, pos, span = self.members("hijacked"), 0, self.end - self.start
        lo, hi = (self.start + int(f * span) for f in P.HIJACK_AT)
        spread = int(P.HIJACK_SPREAD_H * P.HOUR_MS)
        for b, s in enumerate(_partition(self.rng, members.size, P.HIJACK_BATCH)):
            group = members[pos:pos + s]
            pos += s
            at = lo + int(self.rng.random() * max(hi - lo - spread, 1))
            own = at + (self.rng.random(s) * min(spread, hi - lo)).astype(np.int64)
            switch[group] = np.clip(np.maximum(own, t0[group] + P.HOUR_MS), lo, hi - 1)
            link[group] = (chunk << 16) | b

    def sleeper_cells(self, switch: np.ndarray, t0: np.ndarray) -> None:
        """Cells woken together a few days before the end (never before mid-window)."""
        for group in self.clusters("dormant_sleeper", P.SLEEPER_CELL, "cell"):
            wake = self.end - int(self.rng.uniform(*P.SLEEPER_WAKE_DAYS) * P.DAY_MS)
            switch[group] = max(wake, (self.start + self.end) // 2, int(t0[group].max()))

    def fan_clubs(self, link: np.ndarray, popularity: np.ndarray, verified: np.ndarray) -> None:
        """Each club follows one popular verified account of the chunk: its most popular remaining
        prolific creator (else the most popular remaining human who is not a fan)."""
        clubs = self.clusters("fan_community", P.FAN_CLUB, "fan")
        if not clubs:
            return
        idx = self.lo + np.arange(self.codes.size)
        people = [P.STRATEGIES.index(s) for s, p in P.STRATEGY_POPULATION.items() if p != "ai"]
        creators = idx[self.codes == P.STRATEGIES.index("prolific_creator")]
        others = idx[np.isin(self.codes, people) & (self.codes != P.STRATEGIES.index("fan_community"))]
        ranked = [c[np.argsort(-popularity[c], kind="stable")] for c in (creators, others)]
        order = np.concatenate([ranked[0], ranked[1][~np.isin(ranked[1], ranked[0])]])
        for i, group in enumerate(clubs):
            celeb = order[i] if i < order.size else (order[0] if order.size else -1)
            link[group] = celeb
            if celeb >= 0:
                verified[celeb] = True

    def persona_mentors(self, link: np.ndarray, region: np.ndarray) -> None:
        """Each LLM persona copies the rhythm of an ordinary person of its chunk, region (local time) included."""
        personas = self.members("llm_persona")
        ordinary = self.members("ordinary")
        if personas.size == 0 or ordinary.size == 0:
            return
        mentor = ordinary[self.rng.integers(0, ordinary.size, size=personas.size)]
        link[personas] = mentor
        region[personas] = region[mentor]
