"""Replies: the author of a post answers some of the comments on it.

The platform's convention: a reply is an `interactions` row of kind `comment` whose actor is the post's
author, target_post_id the post and target_account_id the account being answered (the commenter). A reply
is generated in the commenter's chunk, so its actor may belong to another chunk (ids are global).

People answer at human latency (typing time plus minutes to hours) and not while asleep: a reply due in
the author's local night waits for the morning; brand staff answer in office hours on weekdays. LLM
personas answer within 20-90 s at any hour. So "replies" alone is no bot signal; their latency is.
"""

from __future__ import annotations

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.events import Events
from genuine.devtools.simulator.population import S_REPLIES, Population, rng_for, strategy_table
from genuine.devtools.simulator.posts import PostIndex
from genuine.devtools.simulator.strategies import shift_phase_ms
from genuine.devtools.simulator.timeline import lognormal

HUMAN, OFFICE, INSTANT = range(3)
_CLASS = {"human": HUMAN, "office": OFFICE, "instant": INSTANT}


def profile_phase_ms(pop: Population, accounts: np.ndarray, t: np.ndarray, seed: int) -> np.ndarray:
    """How far an account's day is shifted from the usual one at time t (night shift, rotating shifts)."""
    codes = pop.strategy[accounts]
    phase = strategy_table({s: P.RHYTHMS[s].phase_shift_h if s in P.RHYTHMS else 0.0 for s in P.STRATEGIES})[codes]
    phase_ms = (phase * P.HOUR_MS).astype(np.int64)
    shift = codes == P.STRATEGIES.index("shift_worker")
    if shift.any():
        local_day = (t[shift] + pop.utc_offset_ms(accounts[shift])) // P.DAY_MS
        phase_ms[shift] += shift_phase_ms(accounts[shift], local_day, seed)
    return phase_ms


def defer_to_hours(rng: np.random.Generator, t: np.ndarray, local_offset_ms: np.ndarray, hours: tuple[int, int],
                   weekdays_only: bool) -> np.ndarray:
    """Move times outside the local window [hours) (it may run past midnight: (7, 25) is 7:00-1:00; and,
    if asked, off weekends) to a lognormal wait after the window next opens (within that window)."""
    local = t + local_offset_ms
    into = (local - hours[0] * P.HOUR_MS) % P.DAY_MS            # time since the window last opened
    length = (hours[1] - hours[0]) * P.HOUR_MS
    wait = lognormal(rng, P.WAKE_DELAY_MEDIAN_S * 1000, P.WAKE_DELAY_SIGMA, t.size).astype(np.int64)
    wait = np.minimum(wait, length - P.MINUTE_MS)
    closed = into >= length
    local = np.where(closed, local - into + P.DAY_MS + wait, local)
    if weekdays_only:
        day = local // P.DAY_MS
        weekday = (day + 3) % 7                      # 0 = Monday (epoch day 0 was a Thursday)
        weekend = weekday >= 5
        monday = (day + 7 - weekday) * P.DAY_MS + hours[0] * P.HOUR_MS + wait
        local = np.where(weekend, monday, local)
    return local - local_offset_ms


def add_replies(pop: Population, chunk: int, seed: int, idx: PostIndex, ev: Events) -> None:
    """Replies to the chunk's comments so far (not to replies: they are added after the comments)."""
    actor, kind, _, post, t, *_ = ev.arrays()
    c = np.flatnonzero((kind == P.COMMENT) & (post >= 0))
    if c.size == 0:
        return
    rng = rng_for(seed, chunk, S_REPLIES)
    commenter, post, t = actor[c], post[c], t[c]
    author = idx.author[post].astype(np.int64)
    codes = pop.strategy[author]
    want = rng.random(c.size) < strategy_table({s: P.REPLY_PROB.get(s, 0.0) for s in P.STRATEGIES})[codes]
    cls = strategy_table({s: _CLASS[P.REPLY_CLASS.get(s, "human")] for s in P.STRATEGIES}, np.int8)[codes]
    typing = P.HUMAN_REPLY_MIN_S * 1000 + lognormal(rng, P.HUMAN_REPLY_MEDIAN_S * 1000, P.HUMAN_REPLY_SIGMA, c.size)
    instant = rng.uniform(*P.LLM_REPLY_S, size=c.size) * 1000
    due = t + np.where(cls == INSTANT, instant, typing).astype(np.int64)
    local = pop.utc_offset_ms(author) - profile_phase_ms(pop, author, due, seed)
    when = np.where(cls == HUMAN, defer_to_hours(rng, due, local, P.AWAKE_HOURS, False), due)
    when = np.where(cls == OFFICE, defer_to_hours(rng, due, local, P.OFFICE_HOURS, True), when)
    # a hijacked account's owner answers until the takeover; the script never does
    ok = want & (when < pop.end_ms) & (when < pop.switch_ms[author])
    ev.add(author[ok], P.COMMENT, commenter[ok], post[ok], when[ok], reply=True)
