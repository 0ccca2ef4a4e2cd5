"""When accounts act: sessions and self-initiated actions of one chunk of accounts.

The timeline is a pure function of (seed, chunk): the posts pass and the interactions pass both rebuild
it, which keeps memory bounded without spilling intermediate events to disk. Actions whose timing is set
by someone else's post (farm campaigns, humanized replies, follow-backs) are added later, in the
interactions pass, once every post of the platform is known.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.encode import mix64
from genuine.devtools.simulator.population import S_TIMELINE, Population, rng_for

# IPv4 /8 prefixes used for synthetic addresses (documentation only: they say which kind of network)
BROADBAND = np.array([58, 60, 114, 116, 121, 124, 183, 218, 222], dtype=np.uint64)
MOBILE = np.array([36, 39, 111, 112, 117, 120, 223], dtype=np.uint64)
CLOUD = np.array([47, 101, 106, 119, 139], dtype=np.uint64)
K_HOME, K_CLOUD, K_POOL = 0x51A7E, 0xC10D, 0x9001

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


def ip_from(prefixes: np.ndarray, h: np.ndarray) -> np.ndarray:
    """uint32 address: a /8 prefix chosen by the hash, low 24 bits from the hash."""
    h = np.asarray(h, dtype=np.uint64)
    prefix = prefixes[(h % np.uint64(prefixes.size)).astype(np.intp)]
    return ((prefix << np.uint64(24)) | ((h >> np.uint64(8)) & np.uint64(0xFFFFFF))).astype(np.uint32)


def home_ip(accounts: np.ndarray, seed: int) -> np.ndarray:
    return ip_from(BROADBAND, mix64(np.asarray(accounts, dtype=np.uint64) ^ np.uint64(K_HOME + seed)))


def pool_ip(group: np.ndarray, slot: np.ndarray, seed: int, prefixes: np.ndarray) -> np.ndarray:
    """The slot-th address of a group's (farm's, ring's, server's) small pool."""
    key = np.asarray(group, dtype=np.uint64) * np.uint64(64) + np.asarray(slot, dtype=np.uint64)
    return ip_from(prefixes, mix64(key ^ np.uint64(K_POOL + seed)))


def random_ip(rng: np.random.Generator, prefixes: np.ndarray, n: int) -> np.ndarray:
    return ip_from(prefixes, rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64))


def device_number(accounts: np.ndarray, slot: int | np.ndarray) -> np.ndarray:
    """Personal devices: 4 slots per account (0 phone, 1 second device, 2 scheduler, 3 server)."""
    return (np.asarray(accounts, dtype=np.uint64) << np.uint64(2)) | np.asarray(slot, dtype=np.uint64)


def ring_device(ring: np.ndarray, slot: np.ndarray) -> np.ndarray:
    return (np.uint64(1) << np.uint64(62)) | (np.asarray(ring, dtype=np.uint64) << np.uint64(4)) | np.asarray(
        slot, dtype=np.uint64)


# --- session processes -----------------------------------------------------------------------------


@cache
def _minute_cdf(profile: str) -> np.ndarray:
    """Cumulative distribution of the local minute of day under a named daily profile."""
    values = np.asarray(P.HOURLY_PROFILE[profile], dtype=np.float64)
    density = profile_at(values, np.arange(1440) / 60.0)
    cdf = np.cumsum(density)
    return cdf / cdf[-1]


def circadian_sessions(rng: np.random.Generator, r: P.Rhythm, t0: np.ndarray, start: int, end: int,
                       offset_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Session starts of n actors, sampled directly (no rejection): a Poisson count per local day whose
    mean follows the account's rate, mood of the day and weekday; a time of day drawn from the daily
    profile shifted by the account's personal phase.

    Returns (actor position 0..n-1, start ms), sorted by actor then time.
    """
    n = t0.size
    first_day = (start + offset_ms) // P.DAY_MS                        # local day of the period start
    days = int(-(-(end - start) // P.DAY_MS)) + 1
    rate = lognormal(rng, r.sessions_per_day, r.rate_sigma, n)
    phase_ms = ((r.phase_shift_h + r.phase_sd_h * rng.standard_normal(n)) * P.HOUR_MS).astype(np.int64)
    weekend = rng.uniform(*r.weekend, size=n)
    skip = rng.uniform(*r.day_skip, size=n)
    mood = lognormal(rng, 1.0, r.day_sigma, (n, days)) * (rng.random((n, days)) >= skip[:, None])
    mood /= np.maximum(mood.mean(axis=1, keepdims=True), 1e-12)
    local_day = first_day[:, None] + np.arange(days)[None, :]
    week = np.where((local_day + 3) % 7 >= 5, weekend[:, None], 1.0) / ((5 + 2 * weekend) / 7)[:, None]
    count = rng.poisson(rate[:, None] * mood * week)
    flat = np.repeat(np.arange(n * days), count.reshape(-1))
    a, d = flat // days, flat % days
    minute = np.searchsorted(_minute_cdf(r.profile), rng.random(a.size))
    in_day = (minute * P.MINUTE_MS + (rng.random(a.size) * P.MINUTE_MS).astype(np.int64) + phase_ms[a]) % P.DAY_MS
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


def farm_proxy_ip(rng: np.random.Generator, farm: np.ndarray, seed: int) -> np.ndarray:
    """A random address of each farm's small residential-proxy pool (pool size fixed per farm)."""
    lo, hi = P.FARM_PROXY_IPS
    pool = lo + np.asarray(farm, dtype=np.int64) % (hi - lo + 1)
    return pool_ip(farm, rng.integers(0, 1 << 20, size=pool.size) % pool, seed, BROADBAND)


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
    weights = (0.4, 0.0, 0.6, 0.0) if name == "brand" else P.HUMAN_CLIENT_WEIGHTS
    main = HUMAN_CLIENTS[rng.choice(4, size=n_acc, p=np.asarray(weights) / sum(weights))]
    other = HUMAN_CLIENTS[rng.integers(0, 4, size=s)]
    client = np.where(rng.random(s) < P.HUMAN_CLIENT_LOYALTY, main[pos], other).astype(np.int8)
    device = device_number(acc[pos], (rng.random(s) < P.SECOND_DEVICE_SHARE).astype(np.uint64))
    ip = np.where(rng.random(s) < P.HOME_IP_SHARE, home_ip(acc[pos], seed), random_ip(rng, MOBILE, s))
    return client, device, ip.astype(np.uint32)


def _circadian_part(rng: np.random.Generator, pop: Population, name: str, acc: np.ndarray, seed: int) -> Timeline:
    r = P.RHYTHMS[name]
    pos, s_start = circadian_sessions(rng, r, pop.t0[acc], pop.start_ms, pop.end_ms, pop.utc_offset_ms(acc))
    client, device, ip = _human_sessions(rng, pop, name, acc, pos, seed)
    ev, t = session_actions(rng, r, s_start)
    cum = account_mix(rng, r.mix, r.mix_concentration, acc.size)
    kind = categorical(rng, cum[pos[ev]])
    keep = t < pop.end_ms
    ev, t, kind = ev[keep], t[keep], kind[keep]
    return Timeline(acc[pos], s_start, client, device, ip, acc[pos[ev]], t, kind, client[ev])


def _ticker_part(rng: np.random.Generator, pop: Population, name: str, acc: np.ndarray, seed: int) -> Timeline:
    tk = P.TICKERS[name]
    n, end = acc.size, pop.end_ms
    step = rng.choice(np.asarray(tk.minutes), size=n, p=np.asarray(tk.minute_weights) / sum(tk.minute_weights))
    step = step.astype(np.int64) * P.MINUTE_MS
    first = pop.t0[acc] + tk.first_tick_after_ms + (rng.random(n) * step).astype(np.int64)
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


def _brand_schedule_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int) -> Timeline:
    """Posts queued in a scheduling tool: fixed local slots, published within seconds of the slot."""
    n = acc.size
    days = pop.days
    k = rng.integers(P.BRAND_SLOTS_PER_DAY[0], P.BRAND_SLOTS_PER_DAY[1] + 1, size=n)
    hours = rng.integers(P.BRAND_SLOT_HOURS[0], P.BRAND_SLOT_HOURS[1] + 1, size=(n, 3))
    minutes = rng.choice(np.asarray(P.BRAND_SLOT_MINUTES), size=(n, 3))
    slot_ms = hours * P.HOUR_MS + minutes * P.MINUTE_MS
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
    ip = pool_ip(acc[a].astype(np.uint64), np.ones(s, np.uint64), seed, CLOUD)
    s_start = np.maximum(t - 500, pop.start_ms)
    return Timeline(acc[a], s_start, client, device_number(acc[a], 2), ip, acc[a], t, np.full(s, P.POST, np.int8),
                    client)


def _ring_part(rng: np.random.Generator, pop: Population, acc: np.ndarray, seed: int) -> Timeline:
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
        ip = pool_ip(np.full(account.size, rings[g], np.uint64) + np.uint64(1 << 40), ip_slot, seed, BROADBAND)
        device = ring_device(np.full(account.size, rings[g]), member_pos % n_dev[g])
        client = np.full(account.size, P.ANDROID, np.int8)
        ev, t = session_actions(rng, r, sub_start, actions_mean=np.full(sub_start.size, P.RING_ACTIONS_MEAN))
        cum = np.cumsum(np.asarray(r.mix) / sum(r.mix))
        kind = categorical(rng, np.broadcast_to(cum, (ev.size, cum.size)))
        keep = t < pop.end_ms
        parts.append(Timeline(account, sub_start, client, device, ip, account[ev[keep]], t[keep], kind[keep],
                              client[ev[keep]]))
    return Timeline.concat(parts)


def build_timeline(pop: Population, chunk: int, seed: int) -> Timeline:
    """All sessions and self-initiated actions of one chunk; a pure function of (pop, chunk, seed)."""
    rng = rng_for(seed, chunk, S_TIMELINE)
    lo, hi = pop.chunk_bounds(chunk)
    idx = np.arange(lo, hi, dtype=np.int64)
    parts: list[Timeline] = []
    for code, name in enumerate(P.STRATEGIES):
        acc = idx[pop.strategy[lo:hi] == code]
        if acc.size == 0:
            continue
        if name in P.TICKERS:
            parts.append(_ticker_part(rng, pop, name, acc, seed))
        elif name == "device_ring":
            parts.append(_ring_part(rng, pop, acc, seed))
        else:
            parts.append(_circadian_part(rng, pop, name, acc, seed))
            if name == "brand":
                parts.append(_brand_schedule_part(rng, pop, acc, seed))
    return Timeline.concat(parts)
