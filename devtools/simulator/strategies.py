"""Timeline parts of the strategies added in issue 12, and build_timeline over every strategy of a chunk.

Each added strategy draws from its own stream (S_OWN + its code), so adding one never moves the draws
of another. Their pass-2 actions (campaigns, fan reactions, replies) are in coordination.py and
replies.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.encode import mix64
from genuine.devtools.simulator.network import (
    BROADBAND,
    CLOUD,
    HOSTING,
    POOL_HIJACK,
    POOL_OFFICE,
    device_number,
    office_device,
    pool_ip,
)
from genuine.devtools.simulator.population import S_OWN, S_SHIFT_TIMELINE, S_TIMELINE, Population, rng_for
from genuine.devtools.simulator.timeline import (
    RhythmDraws,
    Timeline,
    brand_schedule_part,
    circadian_part,
    draw_rhythm,
    ring_part,
    schedule_part,
    ticker_part,
)

K_ROSTER, K_BATCH = 0x5D1F7, 0xBA7C4
_ROTATIONS = np.array([r + (r[-1],) * (3 - len(r)) for r in P.SHIFT_ROTATIONS], dtype=np.float64)
_ROTATION_LEN = np.array([len(r) for r in P.SHIFT_ROTATIONS], dtype=np.int64)

Mentors = tuple[np.ndarray, RhythmDraws]   # the chunk's ordinary accounts and their rhythm draws


def shift_phase_ms(accounts: np.ndarray, local_day: np.ndarray, seed: int) -> np.ndarray:
    """Shift of a shift worker's daily profile on a local day: its roster (SHIFT_ROTATIONS) moves one
    step per calendar week (weeks start on Monday; epoch day 0 was a Thursday). A hash of the account,
    so the replies pass knows the roster without the timeline."""
    h = mix64(np.asarray(accounts).astype(np.uint64) ^ np.uint64(K_ROSTER + seed))
    rotation = (h % np.uint64(_ROTATIONS.shape[0])).astype(np.int64)
    start = ((h >> np.uint64(16)) % np.uint64(6)).astype(np.int64)
    week = (np.asarray(local_day, dtype=np.int64) + 3) // 7
    step = (week + start) % _ROTATION_LEN[rotation]
    return (_ROTATIONS[rotation, step] * P.HOUR_MS).astype(np.int64)


def _hijacked_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int, _: Mentors | None) -> Timeline:
    """The owner's ordinary life until the takeover; from it on, a script on a new device, a new client
    and the batch's /24 (cloud or proxy hosting), which the owner never used."""
    owner = circadian_part(rng, pop, "hijacked", acc, seed).before(pop.switch_ms)
    script = ticker_part(rng, pop, P.HIJACK_TICKER, acc, seed, after=pop.switch_ms[acc])
    counts = np.zeros((acc.size, len(P.CLIENTS)), np.int64)
    np.add.at(counts, (np.searchsorted(acc, owner.s_actor), owner.s_client.astype(np.int64)), 1)
    least = counts[:, :4] + rng.random((acc.size, 4))        # an app the owner never (or least) used
    other_app = least.argmin(axis=1).astype(np.int8)
    api = rng.random(acc.size) < P.HIJACK_API_SHARE
    pos = np.searchsorted(acc, script.s_actor)
    client = np.where(api[pos], script.s_client, other_app[pos]).astype(np.int8)
    e_pos = np.searchsorted(acc, script.e_actor)
    e_client = np.where(api[e_pos], script.e_client, other_app[e_pos]).astype(np.int8)
    batch = pop.link[script.s_actor].astype(np.uint64)
    h = mix64(batch ^ np.uint64(K_BATCH + seed))
    lo, hi = P.HIJACK_PROXY_IPS
    slot = rng.integers(0, 1 << 20, size=batch.size) % (lo + (h >> np.uint64(8)) % np.uint64(hi - lo + 1))
    cloud = (h % np.uint64(1000)).astype(np.float64) / 1000 < P.HIJACK_CLOUD_SHARE
    key = batch + POOL_HIJACK
    ip = np.where(cloud, pool_ip(key, slot, seed, CLOUD), pool_ip(key, slot, seed, HOSTING)).astype(np.uint32)
    script = Timeline(script.s_actor, script.s_start, client, device_number(script.s_actor, 3), ip,
                      script.e_actor, script.e_time, script.e_kind, e_client)
    return Timeline.concat([owner, script])


def _sleeper_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int, _: Mentors | None) -> Timeline:
    """A post or a like every 1-3 weeks until the cell wakes (the campaign itself is in pass 2)."""
    return circadian_part(rng, pop, "dormant_sleeper", acc, seed).before(pop.switch_ms)


def _persona_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int,
                  mentors: Mentors | None) -> Timeline:
    """Sessions on the rhythm of a real person (rate x LLM_PERSONA_RATE_FACTOR, phase, weekend habit,
    skipped days): the persona's region is its mentor's, so the local hours match too."""
    draws = draw_rhythm(rng, P.RHYTHMS["ordinary"], acc.size)
    if mentors is not None and mentors[0].size:
        ord_acc, ord_draws = mentors
        mentor = pop.link[acc]
        at = np.clip(np.searchsorted(ord_acc, mentor), 0, ord_acc.size - 1)
        found = ord_acc[at] == mentor
        copied = ord_draws.take(at)
        draws = RhythmDraws(*(np.where(found, getattr(copied, f), getattr(draws, f))
                              for f in ("rate", "phase_ms", "weekend", "skip")))
    draws.rate = draws.rate * P.LLM_PERSONA_RATE_FACTOR
    return circadian_part(rng, pop, "llm_persona", acc, seed, draws)


def _shift_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int, _: Mentors | None) -> Timeline:
    return circadian_part(rng, pop, "shift_worker", acc, seed,
                          day_phase=lambda a, day: shift_phase_ms(acc[a], day, seed))


def _smm_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int, _: Mentors | None) -> Timeline:
    """Office-hours sessions on the manager's shared devices, and each brand's posts published through
    the scheduler from the office at the manager's slot times (each account uses 1-3 of them)."""
    work = circadian_part(rng, pop, "smm_manager", acc, seed)
    group = pop.cluster[acc]
    groups, gpos = np.unique(group, return_inverse=True)
    n_slots = rng.integers(P.SMM_SLOTS[0], P.SMM_SLOTS[1] + 1, size=groups.size)
    hours = rng.integers(P.BRAND_SLOT_HOURS[0], P.BRAND_SLOT_HOURS[1] + 1, size=(groups.size, P.SMM_SLOTS[1]))
    minutes = rng.choice(np.asarray(P.BRAND_SLOT_MINUTES), size=(groups.size, P.SMM_SLOTS[1]))
    manager_ms = hours * P.HOUR_MS + minutes * P.MINUTE_MS
    draw = rng.random((acc.size, P.SMM_SLOTS[1]))
    draw[np.arange(P.SMM_SLOTS[1])[None, :] >= n_slots[gpos][:, None]] = 2.0
    pick = np.argsort(draw, axis=1)[:, :3]
    slot_ms = manager_ms[gpos[:, None], pick]
    k = np.minimum(rng.integers(1, 4, size=acc.size), n_slots[gpos])

    def office(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = group[a]
        return office_device(g, 0), pool_ip(np.asarray(g, np.uint64) + POOL_OFFICE, 0, seed, BROADBAND)

    return Timeline.concat([work, schedule_part(rng, pop, acc, k, slot_ms, office)])


def _own_rhythm(name: str) -> Callable[..., Timeline]:
    def part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int, _: Mentors | None) -> Timeline:
        return circadian_part(rng, pop, name, acc, seed)
    return part


ADDED: dict[str, Callable[[np.random.Generator, Population, np.ndarray, int, Mentors | None], Timeline]] = {
    "hijacked": _hijacked_part,
    "dormant_sleeper": _sleeper_part,
    "loose_ring": _own_rhythm("loose_ring"),
    "llm_persona": _persona_part,
    "fan_community": _own_rhythm("fan_community"),
    "smm_manager": _smm_part,
    "ai_assisted_creator": _own_rhythm("ai_assisted_creator"),
    "shift_worker": _shift_part,
}


def _retimed(before: Timeline, pop: Population, chunk: int, acc: np.ndarray, seed: int, shift: P.Shift) -> Timeline:
    """A ticker strategy's ticks cut at the shift, then ticks with the timing of `shift.retimed_as`
    (interval, jitter, quiet window) but the strategy's own action mix and clients. Drawn from a stream
    of its own, after the unshifted ticks were drawn as before: the other strategies' draws do not move."""
    own, timing = P.TICKERS[shift.retimed_strategy or ""], P.TICKERS[shift.retimed_as]
    tk = replace(timing, mix=own.mix, client_weights=own.client_weights, first_tick_after_ms=0)
    at = np.full(pop.n, shift.at_ms(pop.start_ms), dtype=np.int64)
    after = ticker_part(rng_for(seed, chunk, S_SHIFT_TIMELINE), pop, tk, acc, seed,
                        after=np.maximum(at[acc], pop.t0[acc]))
    return Timeline.concat([before.before(at), after])


def build_timeline(pop: Population, chunk: int, seed: int) -> Timeline:
    """All sessions and self-initiated actions of one chunk; a pure function of (pop, chunk, seed)."""
    rng = rng_for(seed, chunk, S_TIMELINE)
    lo, hi = pop.chunk_bounds(chunk)
    idx = np.arange(lo, hi, dtype=np.int64)
    parts: list[Timeline] = []
    mentors: Mentors | None = None
    for code, name in enumerate(P.STRATEGIES):
        acc = idx[pop.strategy[lo:hi] == code]
        if acc.size == 0:
            continue
        if name in ADDED:
            parts.append(ADDED[name](rng_for(seed, chunk, S_OWN + code), pop, acc, seed, mentors))
        elif name in P.TICKERS:
            part = ticker_part(rng, pop, P.TICKERS[name], acc, seed)
            if pop.shift is not None and pop.shift.retimed_strategy == name:
                part = _retimed(part, pop, chunk, acc, seed, pop.shift)
            parts.append(part)
        elif name == "device_ring":
            parts.append(ring_part(rng, pop, acc, seed))
        else:
            draws = draw_rhythm(rng, P.RHYTHMS[name], acc.size) if name == "ordinary" else None
            if draws is not None:
                mentors = (acc, draws)
            parts.append(circadian_part(rng, pop, name, acc, seed, draws))
            if name == "brand":
                parts.append(brand_schedule_part(rng, pop, acc, seed))
    return Timeline.concat(parts)
