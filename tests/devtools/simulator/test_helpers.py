"""Vectorized encoders and samplers against brute-force Python oracles."""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa
import pytest

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator import text as T
from genuine.devtools.simulator.encode import Ids, digits, hex16, ipv4, make_ids, mix64
from genuine.devtools.simulator.engine import _labels
from genuine.devtools.simulator.params import SimParams
from genuine.devtools.simulator.population import build_population
from genuine.devtools.simulator.strategies import ADDED
from genuine.devtools.simulator.timeline import (
    RhythmDraws,
    circadian_sessions,
    profile_at,
    segment_cumsum,
    segment_positions,
)

RNG = np.random.default_rng(42)


def test_hex16_matches_format():
    x = np.concatenate([RNG.integers(0, 2**63, 500, dtype=np.int64).astype(np.uint64) * np.uint64(2),
                        np.array([0, 1, 2**64 - 1, 0xDEADBEEF], dtype=np.uint64)])
    assert hex16(x).to_pylist() == [format(int(v), "016x") for v in x]


def test_mix64_is_a_bijection_on_a_sample_and_ids_are_unique():
    n = np.arange(200_000, dtype=np.uint64)
    assert np.unique(mix64(n)).size == n.size
    ids = make_ids("u", np.arange(1000), key=99).to_pylist()
    assert len(set(ids)) == 1000
    expected = [f"u{int(v):016x}" for v in mix64(np.arange(1000, dtype=np.uint64) ^ np.uint64(99))]
    assert ids == expected


def test_ipv4_and_digits_match_python():
    x = np.concatenate([RNG.integers(0, 2**32, 500), [0, 2**32 - 1, 10 << 24, 100]]).astype(np.uint32)
    assert ipv4(x).to_pylist() == [str(ipaddress.IPv4Address(int(v))) for v in x]
    v = RNG.integers(0, 10**6, 300)
    assert digits(v, 6).to_pylist() == [f"{int(i):06d}" for i in v]


def test_segment_helpers_match_loops():
    counts = np.array([3, 0, 1, 4, 0, 2])
    values = RNG.integers(1, 100, counts.sum())
    pos, cum, k = [], [], 0
    for c in counts:
        acc = 0
        for i in range(c):
            pos.append(i)
            acc += values[k]
            cum.append(acc)
            k += 1
    assert segment_positions(counts).tolist() == pos
    assert segment_cumsum(values, counts).tolist() == cum


def test_profile_interpolation():
    prof = np.arange(24, dtype=float)
    assert profile_at(prof, np.array([0.0, 1.5, 23.5])).tolist() == [0.0, 1.5, 11.5]


def test_circadian_sessions_follow_rate_and_daily_profile():
    r = P.Rhythm(2.0, 0.0, 1.0, 0.0, 10.0, 0.0, (0.0, 1.0, 0, 0, 0, 0), phase_sd_h=0.0, weekend=(1.0, 1.0),
                 day_skip=(0.0, 0.0), day_sigma=0.0)
    n, days = 4000, 14
    start = 0
    end = days * P.DAY_MS
    actor, t = circadian_sessions(np.random.default_rng(1), r, np.zeros(n, np.int64), start, end,
                                  np.zeros(n, np.int64))
    assert (np.diff(actor) >= 0).all() and ((t >= start) & (t < end)).all()
    assert t.size / n / days == pytest.approx(2.0, rel=0.03)
    hours = np.bincount((t % P.DAY_MS) // P.HOUR_MS, minlength=24) / t.size
    prof = np.asarray(P.HOURLY_PROFILE["human"])
    expected = np.array([(profile_at(prof, np.arange(h * 60, h * 60 + 60) / 60)).mean() for h in range(24)])
    np.testing.assert_allclose(hours, expected / expected.sum(), atol=0.004)


def test_join_skips_absent_parts_and_keeps_every_row():
    a = pa.array(["x", None, None, "y"])
    b = pa.array([None, None, "z", "w"])
    assert T._join([a, b], " ").to_pylist() == ["x", "", "z", "y w"]
    assert T._join([a, "-", b]).to_pylist() == ["x-", "-", "-z", "y-w"]


def test_by_group_puts_texts_back_in_row_order():
    groups = np.array([2, 0, 1, 0, 2, 1])
    out = T.by_group(groups, lambda g, idx: pa.array([f"{g}:{i}" for i in idx]))
    assert out.to_pylist() == [f"{g}:{i}" for i, g in enumerate(groups)]


def test_llm_personas_copy_their_mentors_rhythm_and_region():
    day = P.DAY_MS
    sim = SimParams({"ordinary": 0.5, "llm_persona": 0.5}).validated()
    pop = build_population(2000, 3, 0, 14 * day, sim)
    acc = np.arange(pop.n)
    ordinary, personas = (acc[pop.strategy == P.STRATEGIES.index(s)] for s in ("ordinary", "llm_persona"))
    mentor = pop.link[personas]
    assert np.isin(mentor, ordinary).all() and (pop.region[personas] == pop.region[mentor]).all()
    # mentors that are night owls with 3 sessions a day: their personas follow them
    n = ordinary.size
    owls = RhythmDraws(np.full(n, 3.0), np.full(n, 12 * P.HOUR_MS), np.ones(n), np.zeros(n))
    copied = ADDED["llm_persona"](np.random.default_rng(0), pop, personas, 3, (ordinary, owls))
    own = ADDED["llm_persona"](np.random.default_rng(0), pop, personas, 3, None)
    per_day = copied.s_actor.size / personas.size / 14
    assert per_day == pytest.approx(3.0 * P.LLM_PERSONA_RATE_FACTOR, rel=0.1)
    assert own.s_actor.size / personas.size / 14 < 1.0

    def night(tl):
        hour = ((tl.s_start + pop.utc_offset_ms(tl.s_actor)) % day) // P.HOUR_MS
        return ((hour >= 1) & (hour < 6)).mean()

    assert night(copied) > 3 * night(own)


def test_labels_of_hijacked_accounts_and_sleepers_come_after_the_takeover_or_wake_up():
    """A moderator cannot judge an account on evidence it has not made yet: every label of an account
    with a switch (takeover, wake-up) is decided after it; other labels keep the first-activity rule."""
    day = P.DAY_MS
    sim = SimParams({"ordinary": 0.4, "hijacked": 0.3, "dormant_sleeper": 0.3}, label_fraction=1.0).validated()
    pop = build_population(600, 5, 0, 14 * day, sim)
    never = np.iinfo(np.int64).max
    first_seen = np.full(pop.n, never, dtype=np.int64)       # no activity: the rule falls back to t0
    labels = _labels(pop, 5, sim, first_seen, Ids(5))
    decided = labels["decided_at"].to_numpy()
    acc = np.arange(pop.n)                                     # label_fraction 1: every account, in order
    assert labels["account_id"].to_pylist() == Ids(5).account(acc).to_pylist()
    switched = pop.switch_ms < pop.end_ms
    names = np.asarray(P.STRATEGIES)[pop.strategy]
    assert set(names[switched]) == {"hijacked", "dormant_sleeper"}
    assert switched[names != "ordinary"].mean() > 0.9
    assert (decided[switched] > pop.switch_ms[switched]).all()
    assert (decided[~switched] > pop.t0[~switched]).all() and (decided <= pop.end_ms - 1).all()
    # the unswitched keep their spread over the period (the old rule), not all pushed to its end
    assert np.median(decided[~switched]) < pop.end_ms * 0.9
