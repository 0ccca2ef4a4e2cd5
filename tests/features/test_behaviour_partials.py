"""The incremental behaviour path equals the full recomputation (behaviour_features) for the same as_of."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from genuine.core.catalog import utc_day
from genuine.core.lake import Lake
from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_POSTS
from genuine.features.behaviour import FEATURES, BehaviourConfig, behaviour_features
from genuine.features.behaviour_partials import (
    DAYS_SCHEMA,
    PARTIALS_SCHEMA,
    REPLIES_SCHEMA,
    TOTALS_SCHEMA,
    behaviour_day_partials,
    behaviour_from_partials,
    behaviour_from_totals,
    behaviour_totals,
    reply_ledger_rows,
    settings_hash,
    snapshot_day,
)
from genuine.features.snapshot import end_of_day
from genuine.features.state import (
    DAYS,
    PARTIALS,
    REPLIES,
    TOTALS,
    stale_days,
    update_behaviour_state,
    update_behaviour_totals,
)
from tests.features.test_behaviour import _data, _rows

# Float features computed from sums in a different order (exact integer sums of gaps here, floating point
# running statistics in the full path; averages over accounts for the population profile): rounding only.
RTOL, ATOL = 1e-9, 1e-12
# Features that are ratios of the same integer counts in both paths: bit-identical.
EXACT_FLOATS = {"gap_entropy_bits", "gap_regular_share", "hour_entropy_bits", "night_share", "weekend_share",
                "weekday_entropy_bits", "actions_per_active_day", "reply_latency_median_s", "reply_fast_share",
                "automation_client_share", "zero_second_share", "follow_churn", "account_age_days",
                "session_mean_actions", *[f.name for f in FEATURES if f.name.startswith("kind_share_")]}
MIDNIGHT = datetime(2026, 10, 7, tzinfo=UTC)


def _edge_data() -> tuple[list[dict], list[dict], list[dict]]:
    """The behaviour oracle's data plus events that straddle UTC and local midnights, far offsets, ties."""
    accounts, posts, inter = _data()
    ids = iter(range(10**6, 2 * 10**6))

    def acc(aid: str, region: str | None) -> None:
        accounts.append({"account_id": aid, "created_at": MIDNIGHT - timedelta(days=20), "region": region})

    def post(aid: str, ts: datetime) -> str:
        pid = f"p{next(ids)}"
        posts.append({"post_id": pid, "account_id": aid, "created_at": ts, "client": "web"})
        return pid

    def act(aid: str, kind: str, ts: datetime, post_id: str | None = None) -> None:
        inter.append({"event_id": f"e{next(ids)}", "actor_id": aid, "kind": kind, "created_at": ts,
                      "target_post_id": post_id, "target_account_id": None})

    s = timedelta(seconds=1)
    for region in ("IN", "NP", "US", "BR", "XX", "CN"):  # +5:30, +5:45 (test config), -5, -3, default, +8
        a = f"m_{region}"
        acc(a, region)
        # a burst across UTC midnight, regular 20 s gaps: the boundary gap joins two regular pairs
        for j in range(-3, 4):
            act(a, "like", MIDNIGHT + 20 * j * s)
        # a single-event day, then a day whose first two events tie, then one event per day across local midnights
        act(a, "share", MIDNIGHT + timedelta(days=12, hours=13))
        act(a, "like", MIDNIGHT + timedelta(days=3, hours=2))
        act(a, "collect", MIDNIGHT + timedelta(days=3, hours=2))
        post(a, MIDNIGHT + timedelta(days=3, hours=2, minutes=40))
        for d in range(4, 9):
            act(a, "follow", MIDNIGHT + timedelta(days=d, hours=18, minutes=37 + d))
            act(a, "like", MIDNIGHT + timedelta(days=d, hours=23, minutes=59, seconds=59))
        # replies: the first comment on a post is on an earlier day than later comments on it
        p = post("m_poster", MIDNIGHT - timedelta(minutes=5))
        act(a, "comment", MIDNIGHT - timedelta(minutes=4), post_id=p)
        act(a, "comment", MIDNIGHT + timedelta(days=1, minutes=1), post_id=p)
        for d in range(3):
            q = post("m_poster", MIDNIGHT + timedelta(days=d, hours=23, minutes=59, seconds=50))
            act(a, "comment", MIDNIGHT + timedelta(days=d + 1, seconds=5 + d), post_id=q)  # reply after midnight
        act(a, "comment", MIDNIGHT + timedelta(days=5), post_id=post("m_poster", MIDNIGHT + timedelta(days=6)))
    acc("m_poster", "AU")
    return accounts, posts, inter


@pytest.fixture(scope="module")
def frames(spark):
    accounts, posts, inter = _edge_data()
    return (spark.createDataFrame(_rows(RAW_ACCOUNTS, accounts), RAW_ACCOUNTS),
            spark.createDataFrame(_rows(RAW_POSTS, posts), RAW_POSTS),
            spark.createDataFrame(_rows(RAW_INTERACTIONS, inter), RAW_INTERACTIONS))


def _cfg(cfg, **update) -> BehaviourConfig:
    base = BehaviourConfig.model_validate(cfg.features["behaviour"])
    return base.model_validate({**base.model_dump(), **update})


SMALL = {"min_events": 1, "min_gaps": 1, "min_posts": 1, "min_replies": 1, "session_gap_seconds": 600,
         "night_start_hour": 22, "night_end_hour": 5, "weekend_days": [4, 5], "gap_log_base": 3.0, "gap_bins": 6,
         "gap_tolerance_seconds": 0.5, "gap_tolerance_relative": 0.2, "fast_reply_seconds": 6,
         "region_utc_offset_hours": {"IN": 5.5, "NP": 5.75, "US": -5, "BR": -3, "GB": 1.0, "CN": 8.0},
         "default_utc_offset_hours": -3.5}


def assert_same_features(got, want) -> None:  # noqa: ANN001
    """Whole-frame comparison: counts and histogram ratios exactly, float statistics within RTOL/ATOL."""
    assert got.schema == want.schema
    g = got.toPandas().sort_values("account_id").reset_index(drop=True)
    w = want.toPandas().sort_values("account_id").reset_index(drop=True)
    assert g["account_id"].tolist() == w["account_id"].tolist()
    for f in FEATURES:
        a, b = g[f.name], w[f.name]
        bad = g.loc[a.isna() != b.isna(), "account_id"].tolist()
        assert not bad, (f.name, "NULL differs", bad)
        if f.is_count or f.name in EXACT_FLOATS:
            diff = (a != b) & a.notna()
        else:
            diff = pd.Series(~np.isclose(a.fillna(0), b.fillna(0), rtol=RTOL, atol=ATOL))
        assert not diff.any(), (f.name, pd.DataFrame({"id": g["account_id"], "got": a, "want": b})[diff])


def _by_day(frames, behaviour: BehaviourConfig):  # noqa: ANN001
    """Partials and reply ledger built one UTC day at a time, each from that day's events only."""
    _, posts, inter = frames
    day = utc_day(F.col("created_at"))
    days = sorted({r.d for r in posts.select(day.alias("d")).union(inter.select(day.alias("d"))).collect()
                   if r.d is not None})
    partials, ledger = None, None
    for d in days:
        p = behaviour_day_partials(posts.where(day == F.lit(d)), inter.where(day == F.lit(d)), behaviour)
        r = reply_ledger_rows(posts, inter.where(day == F.lit(d)), ledger)
        partials = p if partials is None else partials.unionByName(p)
        ledger = r if ledger is None else ledger.unionByName(r)
        ledger = ledger.localCheckpoint()
        partials = partials.localCheckpoint()
    return partials, ledger, days


# before any event, at the busy midnight, in the middle, after everything: two of them per settings
@pytest.mark.parametrize(("update", "days"), [({}, (MIDNIGHT.date(), date(2026, 10, 25))),
                                              (SMALL, (date(2026, 9, 1), date(2026, 10, 9)))],
                         ids=["shipped", "small"])
def test_partials_equal_full_recomputation_at_each_as_of(spark, frames, cfg, update, days):
    behaviour = _cfg(cfg, **update)
    accounts, posts, inter = frames
    partials = behaviour_day_partials(posts, inter, behaviour)
    ledger = reply_ledger_rows(posts, inter, None)
    assert partials.schema.simpleString() == PARTIALS_SCHEMA.simpleString()  # nullability aside
    assert ledger.schema.simpleString() == REPLIES_SCHEMA.simpleString()
    partials, ledger = partials.cache(), ledger.cache()
    for d in days:
        as_of = end_of_day(d)
        assert_same_features(behaviour_from_partials(accounts, partials, ledger, as_of, behaviour),
                             behaviour_features(accounts, posts, inter, as_of, behaviour))


def test_day_by_day_partials_equal_one_pass(spark, frames, cfg):
    behaviour = _cfg(cfg, **SMALL)
    _, posts, inter = frames
    daily, ledger, days = _by_day(frames, behaviour)
    assert len(days) > 10
    assertDataFrameEqual(daily, behaviour_day_partials(posts, inter, behaviour))
    assertDataFrameEqual(ledger, reply_ledger_rows(posts, inter, None))


def _sorted(df):  # noqa: ANN001, ANN202
    return df.select(*TOTALS_SCHEMA.fieldNames()).orderBy("account_id")


def test_totals_added_day_by_day_equal_one_pass_and_the_full_path(spark, frames, cfg):
    """Totals chained through several days (each from an earlier day's totals and the partials after it)
    equal the totals of one pass over all partials, exactly, and finish to the full path's features (the
    shipped settings take the one-pass totals in test_partials_equal_full_recomputation_at_each_as_of)."""
    behaviour = _cfg(cfg, **SMALL)
    accounts, posts, inter = frames
    partials = behaviour_day_partials(posts, inter, behaviour).cache()
    ledger = reply_ledger_rows(posts, inter, None).cache()
    days = sorted(r[0] for r in partials.select("event_date").distinct().collect())
    m = days.index(MIDNIGHT.date())
    assert m >= 2 and len(days) > m + 5
    base = None
    # each side of the busy midnight (a burst across it, replies after it), then gaps of several days (the totals add the partials of every day in between)
    chain = [days[m - 1], days[m], days[m + 4], days[-1]]
    for d in chain:
        as_of = end_of_day(d)
        chained = behaviour_totals(accounts, partials, as_of, behaviour, base).localCheckpoint()
        assertDataFrameEqual(_sorted(chained), _sorted(behaviour_totals(accounts, partials, as_of, behaviour)))
        base = chained
    assert_same_features(behaviour_from_totals(accounts, base, ledger, as_of, behaviour),
                         behaviour_features(accounts, posts, inter, as_of, behaviour))


def test_totals_add_an_account_again_when_its_offset_or_account_row_changes(spark, frames, cfg):
    """An account that moved region (another UTC offset) or whose account row arrived after the base day
    is added up again from all its partials: the chained totals still equal one pass."""
    behaviour = _cfg(cfg, **SMALL)
    accounts, posts, inter = frames
    partials = behaviour_day_partials(posts, inter, behaviour).cache()
    t, d = MIDNIGHT.date() + timedelta(days=2), MIDNIGHT.date() + timedelta(days=9)
    late_row = F.col("account_id") == "m_CN"
    base = behaviour_totals(accounts.where(~late_row), partials, end_of_day(t), behaviour).localCheckpoint()
    assert base.where(late_row).select("k").first()[0] is None  # partials, no account row yet
    moved = accounts.withColumn("region", F.when(F.col("account_id") == "m_IN", F.lit("US"))
                                .otherwise(F.col("region")))
    chained = behaviour_totals(moved, partials, end_of_day(d), behaviour, base)
    assertDataFrameEqual(_sorted(chained), _sorted(behaviour_totals(moved, partials, end_of_day(d), behaviour)))
    ks = {r["account_id"]: r["k"] for r in chained.where(F.col("account_id").isin("m_IN", "m_CN")).collect()}
    assert ks == {"m_IN": -20, "m_CN": 32}  # -5 h and +8 h in quarter hours
    with pytest.raises(ValueError, match="cannot start totals"):
        behaviour_totals(moved, partials, end_of_day(t), behaviour, chained)


def test_known_partial_values(spark, frames, cfg):
    """Hand-checked: m_US's burst across midnight splits 3 + 4 events; ties; the 96-bin histogram."""
    behaviour = _cfg(cfg)
    _, posts, inter = frames
    rows = {r["event_date"]: r for r in behaviour_day_partials(posts, inter, behaviour)
            .where(F.col("account_id") == "m_US").collect()}
    before, after = rows[MIDNIGHT.date() - timedelta(days=1)], rows[MIDNIGHT.date()]
    # a comment 4 min before midnight, likes 60, 40 and 20 s before it
    assert (before["n_events"], before["gap_sum_us"], before["n_pairs"], before["n_regular"]) == (4, 220_000_000, 2, 1)
    assert (after["n_events"], after["gap_sum_us"], after["n_pairs"], after["n_regular"]) == (4, 60_000_000, 2, 2)
    assert after["quarters"][0] == 4 and sum(after["quarters"]) == 4
    assert after["gap_sumsq_us"] == 3 * 20_000_000**2 and after["first_us"] == before["last_us"] + 20_000_000
    tie = rows[MIDNIGHT.date() + timedelta(days=3)]  # a reply at 00:00:07, a like and a collect at 02:00, a post
    assert tie["n_events"] == 4 and tie["gap_bins"][0] == 1
    assert tie["second_us"] - tie["first_us"] == 7_200_000_000 - 7_000_000
    single = rows[MIDNIGHT.date() + timedelta(days=12)]
    assert single["second_us"] is None and single["prev_last_us"] is None and single["gap_sum_us"] == 0


def test_simulated_platform(spark, tiny_lake):
    """The tiny simulated platform (300 accounts x 7 days, real ingest): incremental == full at two dates."""
    lake = Lake(spark, tiny_lake.cfg)
    accounts, posts, inter = (lake.read(t) for t in ("raw_accounts", "raw_posts", "raw_interactions"))
    behaviour = BehaviourConfig.model_validate(tiny_lake.cfg.features["behaviour"])
    partials = behaviour_day_partials(posts, inter, behaviour).cache()
    ledger = reply_ledger_rows(posts, inter, None).cache()
    last = partials.agg(F.max("event_date")).first()[0]
    for d in (last - timedelta(days=3), last):
        as_of = end_of_day(d)
        assert_same_features(behaviour_from_partials(accounts, partials, ledger, as_of, behaviour),
                             behaviour_features(accounts, posts, inter, as_of, behaviour))


def test_as_of_must_end_a_day_and_offsets_are_quarter_hours():
    assert snapshot_day(end_of_day(date(2026, 10, 7))) == date(2026, 10, 7)
    with pytest.raises(ValueError, match="end of a UTC day"):
        snapshot_day(datetime(2026, 10, 8, tzinfo=UTC))
    with pytest.raises(ValueError, match="15 minutes"):
        BehaviourConfig(region_utc_offset_hours={"XX": 5.1})
    with pytest.raises(ValueError, match="15 minutes"):
        BehaviourConfig(default_utc_offset_hours=-3.6)


def _one_pass(lake, posts, inter, last, behaviour) -> None:
    """The three state tables equal a one-pass computation of every day up to `last`."""
    upto = F.col("event_date") <= F.lit(last)
    assertDataFrameEqual(lake.read(PARTIALS).select(*PARTIALS_SCHEMA.fieldNames()),
                         behaviour_day_partials(posts.where(upto), inter.where(upto), behaviour))
    assertDataFrameEqual(lake.read(REPLIES).select(*REPLIES_SCHEMA.fieldNames()),
                         reply_ledger_rows(posts, inter.where(upto), None))
    authored = (posts.where(F.col("account_id").isNotNull()).select("event_date")
                .union(inter.where(F.col("actor_id").isNotNull()).select("event_date")).where(upto).toPandas())
    want = authored["event_date"].value_counts().sort_index()
    assertDataFrameEqual(lake.read(DAYS),
                         lake.spark.createDataFrame([(d, int(n), settings_hash(behaviour), None) for d, n in want.items()],
                                                    DAYS_SCHEMA))


def _files(lake, where) -> set[str]:
    return {r[0] for r in lake.read(PARTIALS).where(where).select(F.input_file_name()).distinct().collect()}


STATE = (PARTIALS, REPLIES, DAYS, TOTALS)


def test_stored_state_through_reruns_late_events_and_other_settings(spark, tiny_lake, cfg_factory, tmp_path):
    """The four behaviour tables on the tiny lake's raw tables, as the features job keeps them (one test,
    one lake: each step starts from the tables the step before left):

    - an earlier day, then the last (totals from the earlier ones): one commit per table;
    - the same again: nothing written;
    - a late batch (events of an earlier day re-sent under new ids): only that day and the later ones are
      rewritten, the totals from it on are dropped, then recomputed; every table equals one pass over the
      events, and the snapshot equals the full path;
    - other settings rewrite every day; their re-run writes nothing.
    """
    cfg = cfg_factory(*[f"lake.tables.{t}={tmp_path}/{t}" for t in STATE], root=tiny_lake.root)
    lake = Lake(spark, cfg)
    accounts, posts, inter = (lake.read(t) for t in ("raw_accounts", "raw_posts", "raw_interactions"))
    behaviour = BehaviourConfig.model_validate(cfg.features["behaviour"])
    last = inter.agg(F.max("event_date")).first()[0]
    early, late_day = last - timedelta(days=4), last - timedelta(days=2)

    def update(events: DataFrame, d: date, settings: BehaviourConfig = behaviour) -> None:
        """The features job's two state updates, as it chains them."""
        partials, _ = update_behaviour_state(lake, posts, events, d, settings)
        update_behaviour_totals(lake, accounts, partials, d, settings)

    def versions() -> dict[str, int]:
        return {t: lake.version(t) for t in STATE}

    def totals_one_pass(events: DataFrame) -> None:
        """Each stored day equals the totals of one pass over partials computed here from the events."""
        partials = behaviour_day_partials(posts, events, behaviour).cache()
        for d in (early, last):
            assertDataFrameEqual(_sorted(lake.read(TOTALS).where(F.col("event_date") == F.lit(d))),
                                 _sorted(behaviour_totals(accounts, partials, end_of_day(d), behaviour)))
        partials.unpersist()

    update(inter, early)
    assert lake.read(PARTIALS).agg(F.max("event_date")).first()[0] == early
    at_early = versions()
    update(inter, last)
    assert versions() == {t: v + 1 for t, v in at_early.items()}
    assert sorted(r[0] for r in lake.read(TOTALS).select("event_date").distinct().collect()) == [early, last]
    at_last = versions()
    update(inter, last)
    assert versions() == at_last

    files_before = _files(lake, F.col("event_date") < F.lit(late_day))
    files_after = _files(lake, F.col("event_date") >= F.lit(late_day))
    assert files_before and files_after
    late = (inter.where(F.col("event_date") == F.lit(late_day)).where(F.col("actor_id").isNotNull())
            .orderBy("event_id").limit(3).withColumn("event_id", F.concat(F.lit("late-"), F.col("event_id"))))
    inter_now = inter.unionByName(late)
    partials, replies = update_behaviour_state(lake, posts, inter_now, last, behaviour)
    assert [r[0] for r in lake.read(TOTALS).select("event_date").distinct().collect()] == [early]
    # the days before the late one kept their files: only the late day and those after it were rewritten
    assert _files(lake, F.col("event_date") < F.lit(late_day)) == files_before
    assert not _files(lake, F.col("event_date") >= F.lit(late_day)) & files_after
    _one_pass(lake, posts, inter_now, last, behaviour)
    totals = update_behaviour_totals(lake, accounts, partials, last, behaviour)
    totals_one_pass(inter_now)
    as_of = end_of_day(last)
    assert_same_features(behaviour_from_totals(accounts, totals, replies, as_of, behaviour),
                         behaviour_features(accounts, posts, inter_now, as_of, behaviour))

    other = behaviour.model_copy(update={"session_gap_seconds": behaviour.session_gap_seconds * 2})
    assert settings_hash(other) != settings_hash(behaviour)
    update(inter_now, last, other)
    _one_pass(lake, posts, inter_now, last, other)
    before = versions()
    update(inter_now, last, other)
    assert versions() == before


def test_stale_days_names_each_reason():
    d1, d2, d3, d4 = (date(2026, 10, d) for d in (1, 2, 3, 4))
    manifest = {d1: (10, "h"), d2: (5, "h"), d3: (7, "old")}
    assert stale_days({d1: 10, d2: 6, d3: 7, d4: 1}, manifest, "h") == {
        d2: "5 events when computed, 6 now (late events)", d3: "computed with other behaviour settings",
        d4: "no partials"}
    assert stale_days({d1: 10, d2: 5}, manifest, "h") == {}
    assert list(stale_days({d4: 1, d1: 9}, {}, "h")) == [d1, d4]
