"""Incremental network features: the stored per-day co-action pairs equal pairing the whole history, and the
family computed from them equals the full path exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import reduce

import pandas as pd
import pytest
from pydantic import ValidationError
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from genuine.core import catalog
from genuine.core.errors import ConfigError
from genuine.core.lake import Lake
from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_LABELS, RAW_SESSIONS
from genuine.features import network as N
from genuine.features.network_partials import (
    DAYS_SCHEMA,
    PAIRS_SCHEMA,
    day_pairs,
    days_to_compute,
    pair_windows,
    settings_hash,
    stored_pairs,
    window_problem,
)
from genuine.features.snapshot import FeaturesConfig, cut, end_of_day
from genuine.features.state import NETWORK_DAYS, PAIRS, update_network_state
from tests.features.test_network import _cfg, _coaction_platform, _ix

CAP = 5
MIDNIGHT = datetime(2026, 10, 3, 0, 0, 0, tzinfo=UTC)   # the coaction platform starts 2026-10-01 12:00 UTC


def _midnight_events() -> list[dict]:
    """Actions that pair across midnight: a ring on three posts at three midnights (two members before,
    two after), a crowded cell on each side of one midnight (more than CAP actors), and a pair 8 minutes
    apart (only the 600 s window links it)."""
    ev: list[dict] = []
    t0 = (MIDNIGHT - datetime(2026, 10, 1, 12, tzinfo=UTC)).total_seconds()   # seconds after the platform's T0
    for j in range(3):
        m = t0 + 86_400 * j
        ev += [_ix("m1", "like", m - 10, f"mid{j}", "brand"), _ix("m2", "share", m - 5, f"mid{j}", "brand"),
               _ix("m3", "like", m + 10, f"mid{j}", "brand"), _ix("m4", "collect", m + 30, f"mid{j}", "brand")]
    ev += [_ix(f"crowd{i}", "like", t0 - 50 + 5 * i, "viral", "star") for i in range(9)]
    ev += [_ix(f"crowd{i}", "like", t0 + 2 + 6 * i, "viral", "star") for i in range(9, 16)]
    ev += [_ix("w1", "like", t0 - 300, "slow", "brand"), _ix("w2", "like", t0 + 180, "slow", "brand")]
    return ev


@pytest.fixture(scope="module")
def net(cfg) -> N.NetworkConfig:
    return _cfg(cfg, max_actors_per_bucket=CAP)


@pytest.fixture(scope="module")
def platform(spark):
    accounts, ev, sessions, labels = _coaction_platform()
    ev = ev + _midnight_events()
    accounts = sorted(set(accounts) | {e["actor_id"] for e in ev})
    acc = spark.createDataFrame(
        [{f.name: (a if f.name == "account_id" else None) for f in RAW_ACCOUNTS.fields} for a in accounts], RAW_ACCOUNTS)
    ix = spark.createDataFrame(ev, RAW_INTERACTIONS)
    ix = ix.withColumn(catalog.EVENT_DATE, catalog.utc_day(F.col("created_at"))).cache()
    days = sorted(r[0] for r in ix.select(catalog.EVENT_DATE).distinct().collect())
    return acc, ix, spark.createDataFrame(sessions, RAW_SESSIONS), spark.createDataFrame(labels, RAW_LABELS), days


def _full_pairs(ix: DataFrame, net: N.NetworkConfig, w: int) -> DataFrame:
    coord = net.coordination.model_copy(update={"window_seconds": w})
    return N.coordination_pairs(ix, coord).where("within_window").select("target_post_id", "a", "b").distinct()


def test_stored_pairs_equal_pairing_the_whole_history_in_every_window(spark, platform, net):
    _, ix, _, _, days = platform
    assert pair_windows(net) == [60, 600]
    state = day_pairs(ix, days, net).cache()
    assert [(f.name, f.dataType) for f in state.schema] == [(f.name, f.dataType) for f in PAIRS_SCHEMA]
    for w in pair_windows(net):
        assertDataFrameEqual(state.where(F.col("window_s") == w).select("target_post_id", "a", "b").distinct(),
                             _full_pairs(ix, net, w))
    # a day at a time gives the same rows as all days at once
    assertDataFrameEqual(reduce(DataFrame.unionAll, [day_pairs(ix, [d], net) for d in days]), state)
    got = {(r.window_s, r.a, r.b, r.event_date) for r in state.where(F.col("target_post_id") == "mid0").collect()}
    oct2, oct3 = date(2026, 10, 2), date(2026, 10, 3)
    # same bucket before midnight, across it (stored under the later bucket's day), same bucket after it
    assert {(60, "m1", "m2", oct2), (60, "m1", "m3", oct3), (60, "m2", "m4", oct3), (60, "m3", "m4", oct3)} <= got
    assert (600, "w1", "w2", oct3) in {(r.window_s, r.a, r.b, r.event_date) for r in state.collect()}
    assert (60, "w1", "w2", oct3) not in {(r.window_s, r.a, r.b, r.event_date) for r in state.collect()}
    # the crowded cells were capped: fewer than all 16 * 15 / 2 pairs of the crowd
    crowd = state.where((F.col("target_post_id") == "viral") & (F.col("window_s") == 60)).count()
    assert 0 < crowd < 16 * 15 // 2
    assert crowd == _full_pairs(ix, net, 60).where(F.col("target_post_id") == "viral").count()


def _features(acc, ix, ses, lab, net, as_of, pairs=None) -> pd.DataFrame:  # noqa: ANN001
    out = N.network_features(acc, cut(ix, "created_at", as_of), cut(ses, "started_at", as_of), net,
                             labels=cut(lab, "decided_at", as_of), as_of=as_of, pairs=pairs)
    return out.toPandas().sort_values("account_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def full_path(platform, net):  # noqa: ANN001, ANN201
    """The family by the full path at the end of a day of the platform, computed once per day."""
    acc, ix, ses, lab, days = platform
    done: dict[int, pd.DataFrame] = {}

    def at(day_index: int) -> pd.DataFrame:
        if day_index not in done:
            done[day_index] = _features(acc, ix, ses, lab, net, end_of_day(days[day_index]))
        return done[day_index]

    return at


@pytest.mark.parametrize("day_index", [2, 7])
def test_network_features_from_stored_pairs_equal_the_full_path(spark, platform, net, full_path, day_index):
    acc, ix, ses, lab, days = platform
    as_of = end_of_day(days[day_index])
    state = day_pairs(ix, days, net)        # every day stored, later ones too: the snapshot cuts them
    got = _features(acc, ix, ses, lab, net, as_of, pairs=stored_pairs(state, as_of, net))
    want = full_path(day_index)
    assert want.coord_partners.sum() > 0       # the midnight ring is linked from its second midnight on
    assert (want.coaction_partners_weighted.sum() > 0) == (day_index == 7)   # beats chance on its third
    exact = [c for c in want.columns if c != "follow_pagerank"]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)
    pd.testing.assert_series_equal(got.follow_pagerank, want.follow_pagerank, check_exact=False, rtol=1e-12)


def _windowed(net: N.NetworkConfig, days: int | None) -> N.NetworkConfig:
    return net.model_copy(update={"window_days": days})


def _day_number(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def test_the_coaction_window_pairs_what_the_whole_history_pairs_on_its_days(spark, platform, net):
    """A 2-day window that starts at a midnight of the ring (m1, m2 before it, m3, m4 after): the pairs of
    the window's scan equal the whole history's pairs whose later bucket is on its days, in every window,
    and the stored pairs of those days; the pairs across that midnight are in, those before it are out."""
    _, ix, _, _, days = platform
    as_of = end_of_day(date(2026, 10, 4))
    w2 = _windowed(net, 2)
    window = N.coaction_window(as_of, w2)
    assert window == (_day_number(date(2026, 10, 3)), _day_number(date(2026, 10, 4)))
    got = N.coaction_pairs(cut(ix, "created_at", as_of), w2, window).cache()
    for w in w2.coaction.windows_seconds:
        coord = w2.coordination.model_copy(update={"window_seconds": w})
        whole = (N.coordination_pairs(ix, coord).where("within_window")
                 .where(N.pair_day(w).between(*window)).select("target_post_id", "a", "b").distinct())
        assertDataFrameEqual(got.where(F.col("window_s") == w).drop("window_s"), whole)
    in_window = [d for d in days if _day_number(d) >= window[0] and _day_number(d) <= window[1]]
    assertDataFrameEqual(got, stored_pairs(day_pairs(ix, in_window, w2), as_of, w2).distinct())
    ring = {(r.a, r.b) for r in got.where((F.col("window_s") == 60) & (F.col("target_post_id") == "mid0")).collect()}
    # m1, m2 act 10 and 5 s before the midnight, m3, m4 10 and 30 s after it: (m1, m2) is of the day before
    assert ring == {("m1", "m3"), ("m1", "m4"), ("m2", "m3"), ("m2", "m4"), ("m3", "m4")}


def test_the_coaction_window_forgets_old_lockstep_and_keeps_the_rest(spark, platform, net, full_path):
    """At the last day with a 3-day window: the midnight ring (days 2-4) is out of it and has no coordination
    partner left; the campaign ring (days 5-6) keeps every co-action feature it has over the whole history.
    The stored path with the window equals the full path with it. (A window longer than the history
    changes nothing: every other network test runs with the shipped 28 days on platforms of a few days,
    against its oracle.)"""
    acc, ix, ses, lab, days = platform
    as_of = end_of_day(days[7])
    whole = full_path(7)
    w3 = _features(acc, ix, ses, lab, _windowed(net, 3), as_of)
    midnight, campaign = ["m1", "m2", "m3", "m4"], ["r1", "r2", "r3", "r4"]
    # every two of them co-acted on the three midnight posts: min_co_actions (3) met, three partners each
    assert whole.set_index("account_id").loc[midnight, "coord_partners"].tolist() == [3, 3, 3, 3]
    assert w3.set_index("account_id").loc[midnight, "coord_partners"].tolist() == [0, 0, 0, 0]
    co = [c for c in whole.columns if c.startswith(("coord_", "coaction_"))]
    pd.testing.assert_frame_equal(w3.set_index("account_id").loc[campaign, co],
                                  whole.set_index("account_id").loc[campaign, co], check_exact=True)
    assert whole.set_index("account_id").loc[campaign, "coaction_partners_weighted"].min() > 0

    stored = _features(acc, ix, ses, lab, _windowed(net, 3), as_of,
                       pairs=stored_pairs(day_pairs(ix, days, net), as_of, _windowed(net, 3)))
    exact = [c for c in w3.columns if c != "follow_pagerank"]
    pd.testing.assert_frame_equal(stored[exact], w3[exact], check_exact=True)


def test_days_to_compute_adds_the_day_after_each_stale_day():
    d = date(2026, 10, 1)
    known = [d, d + timedelta(days=1), d + timedelta(days=2), d + timedelta(days=4)]
    assert days_to_compute([d + timedelta(days=1)], known) == [d + timedelta(days=1), d + timedelta(days=2)]
    # no actions the day after: nothing pairs with the stale day's last bucket there
    assert days_to_compute([d + timedelta(days=2)], known) == [d + timedelta(days=2)]
    assert days_to_compute([d, d + timedelta(days=1)], known) == [d, d + timedelta(days=1), d + timedelta(days=2)]
    assert days_to_compute([], known) == []


def test_windows_must_divide_a_day_and_the_hash_follows_only_what_pairs_depend_on(cfg, net):
    assert window_problem(net) is None
    odd = net.model_copy(update={"coaction": net.coaction.model_copy(update={"windows_seconds": [60, 7000]})})
    assert "[7000]" in window_problem(odd)
    with pytest.raises(ConfigError, match="divide a day"):
        day_pairs(None, [date(2026, 10, 1)], odd)   # type: ignore[arg-type]  # checked before any frame
    section = {**cfg.features, "incremental": True}
    section["network"] = {**section["network"], "coaction": {**section["network"]["coaction"],
                                                              "windows_seconds": [60, 7000]}}
    with pytest.raises(ValidationError, match="divide a day"):
        FeaturesConfig.model_validate(section)
    FeaturesConfig.model_validate({**section, "incremental": False})

    h = settings_hash(net)
    coord, co = net.coordination, net.coaction
    for same in (net.model_copy(update={"coordination": coord.model_copy(update={"min_co_actions": 9})}),
                 net.model_copy(update={"coaction": co.model_copy(update={"lift_min": 5.0, "min_support": 7})})):
        assert settings_hash(same) == h
    for other in (net.model_copy(update={"coordination": coord.model_copy(update={"max_actors_per_bucket": 9})}),
                  net.model_copy(update={"coordination": coord.model_copy(update={"kinds": ["like"]})}),
                  net.model_copy(update={"coaction": co.model_copy(update={"windows_seconds": [60, 300]})})):
        assert settings_hash(other) != h


def _versions(lake: Lake) -> tuple[int | None, int | None]:
    return lake.version(PAIRS), lake.version(NETWORK_DAYS)


def _files(lake: Lake, where) -> set[str]:  # noqa: ANN001
    return {r[0] for r in lake.read(PAIRS).where(where).select(F.input_file_name()).distinct().collect()}


def _one_pass(lake: Lake, inter: DataFrame, last: date, net: N.NetworkConfig) -> None:
    """The pairs and the manifest equal a one-pass computation of every day up to `last`."""
    upto = inter.where(F.col("event_date") <= F.lit(last))
    counts = (upto.where(F.col("kind").isin(net.coordination.kinds) & F.col("actor_id").isNotNull()
                         & F.col("target_post_id").isNotNull() & F.col("created_at").isNotNull())
              .groupBy("event_date").count().toPandas().sort_values("event_date"))
    days = list(counts["event_date"])
    assertDataFrameEqual(lake.read(PAIRS).select(*PAIRS_SCHEMA.fieldNames()), day_pairs(upto, days, net))
    assertDataFrameEqual(lake.read(NETWORK_DAYS), lake.spark.createDataFrame(
        [(d, int(n), settings_hash(net), None) for d, n in zip(counts["event_date"], counts["count"], strict=True)],
        DAYS_SCHEMA))


def test_job_state_on_a_simulated_platform(spark, tiny_lake, cfg_factory, tmp_path):
    """update_network_state on the tiny lake (real ingest): a state 3 days back, the same again (writes
    nothing), the latest day (only the new days' files), late actions of an old day (that day and the next
    rewritten, no other file), a late day at a `through` earlier than the state (the day after it is
    forgotten, then recomputed), other settings (every day). After each, the tables equal one pass. That
    one pass equals pairing the whole history (test_stored_pairs_equal_pairing_the_whole_history_in_every_window)
    and the family from stored pairs equals the full path (test_network_features_from_stored_pairs_equal_the_full_path),
    so the family is not computed again here (two runs of it, ~40 s)."""
    cfg = cfg_factory(*[f"lake.tables.{t}={tmp_path}/{t}" for t in (PAIRS, NETWORK_DAYS)], root=tiny_lake.root)
    lake = Lake(spark, cfg)
    inter = lake.read("raw_interactions")
    net = N.NetworkConfig.from_config(cfg)
    last = inter.agg(F.max("event_date")).first()[0]
    early = last - timedelta(days=3)

    update_network_state(lake, inter, early, net)
    _one_pass(lake, inter, early, net)
    versions = _versions(lake)
    update_network_state(lake, inter, early, net)
    assert _versions(lake) == versions
    old = _files(lake, F.col("event_date") <= F.lit(early))
    update_network_state(lake, inter, last, net)
    assert _versions(lake) == (versions[0] + 1, versions[1] + 1)
    assert _files(lake, F.col("event_date") <= F.lit(early)) == old     # only the new days are paired
    _one_pass(lake, inter, last, net)

    # late actions: every action of one post on an early day sent again, 20 s later, under new ids
    late_day = last - timedelta(days=4)
    post = (inter.where((F.col("event_date") == F.lit(late_day)) & (F.col("kind") == "like"))
            .groupBy("target_post_id").count().orderBy(F.desc("count"), "target_post_id").first()[0])
    late = (inter.where((F.col("event_date") == F.lit(late_day)) & (F.col("target_post_id") == post))
            .withColumn("event_id", F.concat(F.lit("late-"), F.col("event_id")))
            .withColumn("actor_id", F.concat(F.col("actor_id"), F.lit("-alt"))))
    with_late = inter.unionByName(late)
    kept = _files(lake, ~F.col("event_date").isin(late_day, late_day + timedelta(days=1)))
    update_network_state(lake, with_late, last, net)
    assert _files(lake, ~F.col("event_date").isin(late_day, late_day + timedelta(days=1))) == kept
    _one_pass(lake, with_late, last, net)

    # a late action on the day before the last, the state brought up to that day only: the last day's
    # manifest row is forgotten (its pairs across midnight may have moved), and recomputed later
    eve = last - timedelta(days=1)
    tail = (inter.where(F.col("event_date") == F.lit(eve)).orderBy(F.desc("created_at")).limit(1)
            .withColumn("event_id", F.lit("late-eve")).withColumn("actor_id", F.lit("night-owl")))
    with_eve = with_late.unionByName(tail)
    update_network_state(lake, with_eve, eve, net)
    assert last not in {r[0] for r in lake.read(NETWORK_DAYS).select("event_date").collect()}
    update_network_state(lake, with_eve, last, net)
    _one_pass(lake, with_eve, last, net)

    other = net.model_copy(update={"coordination": net.coordination.model_copy(update={"max_actors_per_bucket": 3})})
    update_network_state(lake, with_eve, last, other)
    _one_pass(lake, with_eve, last, other)


def test_job_state_with_a_coaction_window_counts_and_pairs_only_its_days(spark, platform, net, cfg_factory, tmp_path):
    """With a 3-day window, the state holds the window's days only (its first day paired with the last
    bucket of the day before it); moving the window by a day pairs that day alone and keeps the day that
    left it. (The family from stored pairs with a window: the test above.) The last day holds no pair: its
    overwrite of no rows must leave the other days' pairs (it once emptied the table on delta-rs)."""
    _, ix, _, _, days = platform
    cfg = cfg_factory(*[f"lake.tables.{t}={tmp_path}/{t}" for t in (PAIRS, NETWORK_DAYS)])
    lake = Lake(spark, cfg)
    w3 = _windowed(net, 3)
    update_network_state(lake, ix, days[6], w3)
    assert sorted(r[0] for r in lake.read(NETWORK_DAYS).select("event_date").collect()) == days[4:7]
    assertDataFrameEqual(lake.read(PAIRS).select(*PAIRS_SCHEMA.fieldNames()), day_pairs(ix, days[4:7], w3))
    versions = _versions(lake)
    update_network_state(lake, ix, days[6], w3)
    assert _versions(lake) == versions
    update_network_state(lake, ix, days[7], w3)
    assert _versions(lake) == (versions[0] + 1, versions[1] + 1)
    assert sorted(r[0] for r in lake.read(NETWORK_DAYS).select("event_date").collect()) == days[4:8]
    assert day_pairs(ix, [days[7]], w3).count() == 0
    assertDataFrameEqual(lake.read(PAIRS).select(*PAIRS_SCHEMA.fieldNames()), day_pairs(ix, days[4:8], w3))
