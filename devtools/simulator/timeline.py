"""When accounts act: sessions and self-initiated actions of one chunk of accounts.

The timeline is a pure function of (seed, chunk): the posts pass and the interactions pass both rebuild
it, which keeps memory bounded without spilling intermediate events to disk. Actions whose timing is set
by someone else's post (farm, loose-ring and sleeper campaigns, fan reactions, replies, follow-backs) are
added later, in the interactions pass, once every post of the platform is known. This module holds the
session processes and the parts of the first nine strategies; strategies.py the later ones and
build_timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.network import (
    BROADBAND,
    CLOUD,
    POOL_OFFICE,
    POOL_RING,
    device_number,
    farm_proxy_ip,
    home_ip,
    mobile_ip,
    office_device,
    pool_ip,
    random_ip,
    ring_device,
)
from genuine.devtools.simulator.population import Population

HUMAN_CLIENTS = np.array([P.IOS, P.ANDROID, P.WEB, P.MINI], dtype=np.int8)


@dataclass
class Timeline:
    """Sessions and actor-initiated actions (global account numbers, epoch ms)."""

    s_actor: np.ndarray
    s_start: np.ndarray
    s_client: np.ndarray
    s_device: np.ndarray   # uint64 device number (hashed into device_id at write time)
    s_ip: np.ndarray       # uint32
    e_actor: np.ndarray
    e_time: np.ndarray
    e_kind: np.ndarray
    e_client: np.ndarray   # client of the session the action happened in

    @staticmethod
    def empty() -> Timeline:
        i64, i8 = np.empty(0, np.int64), np.empty(0, np.int8)
        return Timeline(i64, i64, i8, np.empty(0, np.uint64), np.empty(0, np.uint32), i64, i64, i8, i8)

    @staticmethod
    def concat(parts: list[Timeline]) -> Timeline:
        if not parts:
            return Timeline.empty()
        return Timeline(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Timeline)))

    def before(self, until: np.ndarray) -> Timeline:
        """Only what happens before each actor's `until` (indexed by global account number)."""
        s = self.s_start < until[self.s_actor]
        e = self.e_time < until[self.e_actor]
        return Timeline(self.s_actor[s], self.s_start[s], self.s_client[s], self.s_device[s], self.s_ip[s],
                        self.e_actor[e], self.e_time[e], self.e_kind[e], self.e_client[e])


# --- small vectorized helpers ----------------------------------------------------------------------


def segment_positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each segment of length c, concatenated."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)


def segment_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each segment."""
    cs = np.cumsum(values)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return cs - cs[first] + values[first]


def lognormal(rng: np.random.Generator, median: float | np.ndarray, sigma: float | np.ndarray,
              size: int | tuple[int, ...]) -> np.ndarray:
    return np.exp(np.log(median) + sigma * rng.standard_normal(size))


def profile_at(profile: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Linear interpolation of a 24-value daily profile at fractional hours."""
    h0 = np.floor(hour).astype(np.int64) % 24
    frac = hour - np.floor(hour)
    return profile[h0] * (1 - frac) + profile[(h0 + 1) % 24] * frac


def categorical(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One draw per row from per-row cumulative probabilities (rows sum to 1)."""
    u = rng.random((cum.shape[0],))
    return np.minimum((u[:, None] > cum).sum(axis=1), cum.shape[1] - 1).astype(np.int8)


def account_mix(rng: np.random.Generator, mix: tuple[float, ...], concentration: float, n: int) -> np.ndarray:
    """Per-account action mix around the population mean (Dirichlet), as cumulative probabilities."""
    g = rng.gamma(np.asarray(mix) * concentration + 1e-9, size=(n, len(mix)))
    g[:, np.asarray(mix) == 0] = 0.0
    return np.cumsum(g / g.sum(axis=1, keepdims=True), axis=1)


# --- session processes -----------------------------------------------------------------------------


@cache
def _minute_cdf(profile: str) -> np.ndarray:
    """Cumulative distribution of the local minute of day under a named daily profile."""
    values = np.asarray(P.HOURLY_PROFILE[profile], dtype=np.float64)
    density = profile_at(values, np.arange(1440) / 60.0)
    cdf = np.cumsum(density)
    return cdf / cdf[-1]


@dataclass
class RhythmDraws:
    """The personal parameters of a session process: what an LLM persona copies from a person."""

    rate: np.ndarray       # sessions per day
    phase_ms: np.ndarray   # personal shift of the daily profile (larks and owls)
    weekend: np.ndarray    # Saturday/Sunday multiplier
    skip: np.ndarray       # probability of not opening the app on a given day

    def take(self, pos: np.ndarray) -> RhythmDraws:
        return RhythmDraws(self.rate[pos], self.phase_ms[pos], self.weekend[pos], self.skip[pos])


def draw_rhythm(rng: np.random.Generator, r: P.Rhythm, n: int) -> RhythmDraws:
    rate = lognormal(rng, r.sessions_per_day, r.rate_sigma, n)
    phase_ms = ((r.phase_shift_h + r.phase_sd_h * rng.standard_normal(n)) * P.HOUR_MS).astype(np.int64)
    return RhythmDraws(rate, phase_ms, rng.uniform(*r.weekend, size=n), rng.uniform(*r.day_skip, size=n))


DayPhase = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (actor position, local day) -> extra phase ms


def circadian_sessions(rng: np.random.Generator, r: P.Rhythm, t0: np.ndarray, start: int, end: int,
                       offset_ms: np.ndarray, draws: RhythmDraws | None = None,
                       day_phase: DayPhase | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Session starts of n actors, sampled directly (no rejection): a Poisson count per local day whose
    mean follows the account's rate, mood of the day and weekday; a time of day drawn from the daily
    profile shifted by the account's personal phase (plus `day_phase` of that day: rotating shifts).
    `draws` replaces the personal parameters (drawn first from rng otherwise, in the same order).

    Returns (actor position 0..n-1, start ms), sorted by actor then time.
    """
    n = t0.size
    first_day = (start + offset_ms) // P.DAY_MS                        # local day of the period start
    days = int(-(-(end - start) // P.DAY_MS)) + 1
    dr = draw_rhythm(rng, r, n) if draws is None else draws
    rate, phase_ms, weekend, skip = dr.rate, dr.phase_ms, dr.weekend, dr.skip
    mood = lognormal(rng, 1.0, r.day_sigma, (n, days)) * (rng.random((n, days)) >= skip[:, None])
    mood /= np.maximum(mood.mean(axis=1, keepdims=True), 1e-12)
    local_day = first_day[:, None] + np.arange(days)[None, :]
    week = np.where((local_day + 3) % 7 >= 5, weekend[:, None], 1.0) / ((5 + 2 * weekend) / 7)[:, None]
    count = rng.poisson(rate[:, None] * mood * week)
    flat = np.repeat(np.arange(n * days), count.reshape(-1))
    a, d = flat // days, flat % days
    minute = np.searchsorted(_minute_cdf(r.profile), rng.random(a.size))
    in_day = minute * P.MINUTE_MS + (rng.random(a.size) * P.MINUTE_MS).astype(np.int64) + phase_ms[a]
    if day_phase is not None:
        in_day += day_phase(a, local_day[a, d])
    in_day %= P.DAY_MS
    t = local_day[a, d] * P.DAY_MS + in_day - offset_ms[a]
    keep = (t >= t0[a]) & (t >= start) & (t < end)
    a, t = a[keep], t[keep]
    order = np.lexsort((t, a))
    return a[order], t[order]


def session_actions(rng: np.random.Generator, r: P.Rhythm, s_start: np.ndarray,
                    actions_mean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Actions inside sessions: heavy-tailed count, lognormal gaps. Returns (session index, time)."""
    s = s_start.size
    if actions_mean is None:
        k = 1 + np.floor(lognormal(rng, r.actions_median, r.actions_sigma, s)).astype(np.int64)
    else:
        k = 1 + rng.poisson(actions_mean)
    ev = np.repeat(np.arange(s), k)
    gaps = (lognormal(rng, r.gap_median_s * 1000, r.gap_sigma, ev.size)).astype(np.int64) + 1
    return ev, s_start[ev] + segment_cumsum(gaps, k)


def _human_sessions(rng: np.random.Generator, pop: Population, name: str, acc: np.ndarray,
                    pos: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(client, device, ip) of each session of human-operated accounts (and their imitators)."""
    n_acc, s = acc.size, pos.size
    if name == "engagement_farm":   # one phone per account, a shared proxy pool per farm
        ip = farm_proxy_ip(rng, pop.cluster[acc[pos]], seed)
        return np.full(s, P.ANDROID, np.int8), device_number(acc[pos], 0), ip
    if name == "humanized":   # own phone, rotating residential proxies
        main = np.where(rng.random(n_acc) < 0.5, P.IOS, P.ANDROID).astype(np.int8)
        return main[pos], device_number(acc[pos], 0), random_ip(rng, BROADBAND, s)
    if name == "dormant_sleeper":   # one emulated phone per account, rotating residential proxies
        return np.full(s, P.ANDROID, np.int8), device_number(acc[pos], 0), random_ip(rng, BROADBAND, s)
    if name == "smm_manager":   # the manager's office computer (or phone), the office line, for every brand
        group = pop.cluster[acc[pos]]
        phone = rng.random(s) < P.SMM_PHONE_SHARE
        return (np.where(phone, P.IOS, P.WEB).astype(np.int8), office_device(group, phone.astype(np.uint64)),
                pool_ip(np.asarray(group, np.uint64) + POOL_OFFICE, 0, seed, BROADBAND))
    weights = (0.4, 0.0, 0.6, 0.0) if name == "brand" else P.HUMAN_CLIENT_WEIGHTS
    main = HUMAN_CLIENTS[rng.choice(4, size=n_acc, p=np.asarray(weights) / sum(weights))]
    other = HUMAN_CLIENTS[rng.integers(0, 4, size=s)]
    client = np.where(rng.random(s) < P.HUMAN_CLIENT_LOYALTY, main[pos], other).astype(np.int8)
    device = device_number(acc[pos], (rng.random(s) < P.SECOND_DEVICE_SHARE).astype(np.uint64))
    ip = np.where(rng.random(s) < P.HOME_IP_SHARE, home_ip(acc[pos], seed), mobile_ip(rng, acc[pos], seed))
    return client, device, ip.astype(np.uint32)


def circadian_part(rng: np.random.Generator, pop: Population, name: str, acc: np.ndarray, seed: int,
                   draws: RhythmDraws | None = None, day_phase: DayPhase | None = None) -> Timeline:
    """Sessions on the account's own network (by strategy) and the actions in them."""
    r = P.RHYTHMS[name]
    pos, s_start = circadian_sessions(rng, r, pop.t0[acc], pop.start_ms, pop.end_ms, pop.utc_offset_ms(acc),
                                      draws, day_phase)
    client, device, ip = _human_sessions(rng, pop, name, acc, pos, seed)
    ev, t = session_actions(rng, r, s_start)
    cum = account_mix(rng, r.mix, r.mix_concentration, acc.size)
    kind = categorical(rng, cum[pos[ev]])
    keep = t < pop.end_ms
    ev, t, kind = ev[keep], t[keep], kind[keep]
    return Timeline(acc[pos], s_start, client, device, ip, acc[pos[ev]], t, kind, client[ev])


def ticker_part(rng: np.random.Generator, pop: Population, tk: P.Ticker, acc: np.ndarray, seed: int,
                after: np.ndarray | None = None) -> Timeline:
    """A scheduled bot: ticks from `after` (default: the account's first instant) to the end."""
    n, end = acc.size, pop.end_ms
    step = rng.choice(np.asarray(tk.minutes), size=n, p=np.asarray(tk.minute_weights) / sum(tk.minute_weights))
    step = step.astype(np.int64) * P.MINUTE_MS
    base = pop.t0[acc] if after is None else after
    first = base + tk.first_tick_after_ms + (rng.random(n) * step).astype(np.int64)
    first = -(-first // P.MINUTE_MS) * P.MINUTE_MS          # on the minute, to the millisecond
    exact = tk.jitter_sd_s[1] <= 0
    count = np.maximum(0, -(-(end - first) // step)) + (0 if exact else 3)
    a = np.repeat(np.arange(n), count)
    k = segment_positions(count)
    if exact:
        t = first[a] + k * step[a]
    else:
        sd = rng.uniform(*tk.jitter_sd_s, size=n) * 1000
        gaps = np.maximum(step[a] + np.rint(rng.standard_normal(a.size) * sd[a]).astype(np.int64), P.MINUTE_MS)
        gaps[k == 0] = 0
        t = first[a] + segment_cumsum(gaps, count)
    keep = t < end
    if tk.quiet_share > 0:
        quiet = rng.random(n) < tk.quiet_share
        q0 = rng.uniform(0, 24, size=n)
        qlen = rng.uniform(*tk.quiet_hours, size=n)
        hour = ((t + pop.utc_offset_ms(acc)[a]) % P.DAY_MS) / P.HOUR_MS
        keep &= ~(quiet[a] & ((hour - q0[a]) % 24 < qlen[a]))
    a, t = a[keep], t[keep]
    kind = categorical(rng, account_mix(rng, tk.mix, 50.0, n)[a])
    client_main = np.where(rng.random(n) < tk.client_weights[0], P.OPEN_API, P.SCHEDULER).astype(np.int8)
    # one API session per account and UTC day, opened just before its first tick of the day
    key = a * 100_000 + (t - pop.start_ms) // P.DAY_MS
    _, first_of_day, session_of = np.unique(key, return_index=True, return_inverse=True)
    sa = a[first_of_day]
    s_start = t[first_of_day] - 1_000
    server = np.uint64(0x5E) + acc[sa].astype(np.uint64)
    ip = pool_ip(server, np.zeros(sa.size, np.uint64), seed, CLOUD)
    client = client_main[sa]
    return Timeline(acc[sa], s_start, client, device_number(acc[sa], 3), ip, acc[a], t, kind,
                    client[session_of.reshape(-1)])


def brand_schedule_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int) -> Timeline:
    """Posts queued in a scheduling tool: fixed local slots, published within seconds of the slot."""
    n = acc.size
    k = rng.integers(P.BRAND_SLOTS_PER_DAY[0], P.BRAND_SLOTS_PER_DAY[1] + 1, size=n)
    hours = rng.integers(P.BRAND_SLOT_HOURS[0], P.BRAND_SLOT_HOURS[1] + 1, size=(n, 3))
    minutes = rng.choice(np.asarray(P.BRAND_SLOT_MINUTES), size=(n, 3))
    slot_ms = hours * P.HOUR_MS + minutes * P.MINUTE_MS

    def tool(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:   # the tool's server publishes
        return device_number(acc[a], 2), pool_ip(acc[a].astype(np.uint64), np.ones(a.size, np.uint64), seed, CLOUD)

    return schedule_part(rng, pop, acc, k, slot_ms, tool)


def schedule_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, k: np.ndarray, slot_ms: np.ndarray,
                  where: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> Timeline:
    """Scheduled posts: the first k of 3 local slot times per account, ~BRAND_DAY_PROB of days, published
    through the scheduler client within seconds of the slot; `where(position)` gives (device, ip)."""
    n = acc.size
    days = pop.days
    off = pop.utc_offset_ms(acc)
    local_midnight = ((pop.start_ms + off) // P.DAY_MS) * P.DAY_MS - off          # (n,)
    d = np.arange(-1, days + 1)
    t = (local_midnight[:, None, None] + d[None, :, None] * P.DAY_MS + slot_ms[:, None, :]
         + rng.integers(0, P.BRAND_PUBLISH_DELAY_MS, size=(n, d.size, 3)))
    use = (np.arange(3)[None, None, :] < k[:, None, None]) & (rng.random((n, d.size, 3)) < P.BRAND_DAY_PROB)
    use &= (t >= pop.t0[acc][:, None, None]) & (t >= pop.start_ms) & (t < pop.end_ms)
    a = np.broadcast_to(np.arange(n)[:, None, None], t.shape)[use]
    t = t[use]
    order = np.lexsort((t, a))
    a, t = a[order], t[order]
    s = a.size
    client = np.full(s, P.SCHEDULER, np.int8)
    device, ip = where(a)
    s_start = np.maximum(t - 500, pop.start_ms)
    return Timeline(acc[a], s_start, client, device, ip, acc[a], t, np.full(s, P.POST, np.int8), client)


def ring_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int) -> Timeline:
    """One operator per ring walks through a subset of the ring's accounts on a few shared phones."""
    r = P.RHYTHMS["device_ring"]
    rings, ring_pos = np.unique(pop.cluster[acc], return_inverse=True)
    members = [acc[ring_pos == g] for g in range(rings.size)]
    ring_t0 = np.array([pop.t0[m].min() for m in members], dtype=np.int64)
    lead = np.array([m[0] for m in members])
    op, op_start = circadian_sessions(rng, r, ring_t0, pop.start_ms, pop.end_ms, pop.utc_offset_ms(lead))
    n_dev = rng.integers(P.RING_DEVICES[0], P.RING_DEVICES[1] + 1, size=rings.size)
    n_ip = rng.integers(P.RING_IPS[0], P.RING_IPS[1] + 1, size=rings.size)
    parts: list[Timeline] = []
    for g in range(rings.size):
        sess_t = op_start[op == g]
        mem = members[g]
        if sess_t.size == 0:
            continue
        size = mem.size
        take = np.ceil(size * rng.uniform(*P.RING_SUBSET, size=sess_t.size)).astype(np.int64)
        order = np.argsort(rng.random((sess_t.size, size)), axis=1)
        chosen = np.arange(size)[None, :] < take[:, None]
        sess_idx = np.broadcast_to(np.arange(sess_t.size)[:, None], order.shape)[chosen]
        member_pos = order[chosen]
        switch = (rng.uniform(*P.RING_SWITCH_S, size=sess_idx.size) * 1000).astype(np.int64)
        sub_start = sess_t[sess_idx] + segment_cumsum(switch, take)
        account = mem[member_pos]
        ok = sub_start >= pop.t0[account]
        sub_start, account, member_pos, sess_idx = sub_start[ok], account[ok], member_pos[ok], sess_idx[ok]
        ip_slot = rng.integers(0, n_ip[g], size=sess_t.size)[sess_idx]
        ip = pool_ip(np.full(account.size, rings[g], np.uint64) + POOL_RING, ip_slot, seed, BROADBAND)
        device = ring_device(np.full(account.size, rings[g]), member_pos % n_dev[g])
        client = np.full(account.size, P.ANDROID, np.int8)
        ev, t = session_actions(rng, r, sub_start, actions_mean=np.full(sub_start.size, P.RING_ACTIONS_MEAN))
        cum = np.cumsum(np.asarray(r.mix) / sum(r.mix))
        kind = categorical(rng, np.broadcast_to(cum, (ev.size, cum.size)))
        keep = t < pop.end_ms
        parts.append(Timeline(account, sub_start, client, device, ip, account[ev[keep]], t[keep], kind[keep],
                              client[ev[keep]]))
    return Timeline.concat(parts)
