"""Behaviour features against a brute-force, loop-based oracle on small hand-built data."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_POSTS
from genuine.features.behaviour import (
    BEHAVIOUR_SCHEMA,
    FEATURES,
    MIX_KINDS,
    BehaviourConfig,
    behaviour_features,
    epoch_micros,
)

AS_OF = datetime(2026, 10, 20, 0, 0, 0, tzinfo=UTC)
T0 = datetime(2026, 10, 5, 0, 0, 0, tzinfo=UTC)  # a Monday
BOT_STEP = 3600


def _rows(schema, records: list[dict]) -> list[tuple]:
    return [tuple(r.get(f.name) for f in schema.fields) for r in records]


def _data() -> tuple[list[dict], list[dict], list[dict]]:
    """Edge cases by hand plus a seeded random population for broad coverage."""
    accounts: list[dict] = []
    posts: list[dict] = []
    inter: list[dict] = []
    ids = iter(range(1_000_000))

    def acc(aid: str, region: str | None = "CN", created: datetime = T0 - timedelta(days=30)) -> None:
        accounts.append({"account_id": aid, "created_at": created, "region": region})

    def post(aid: str, ts: datetime, client: str = "ios") -> str:
        pid = f"p{next(ids)}"
        posts.append({"post_id": pid, "account_id": aid, "created_at": ts, "client": client})
        return pid

    def act(aid: str, kind: str, ts: datetime, post_id: str | None = None, target: str | None = None) -> None:
        inter.append({"event_id": f"e{next(ids)}", "actor_id": aid, "kind": kind, "created_at": ts,
                      "target_post_id": post_id, "target_account_id": target})

    acc("a_none")
    acc("a_one")
    post("a_one", T0 + timedelta(hours=3, seconds=17))
    acc("a_two", region="GB")
    post("a_two", T0 + timedelta(hours=1))
    act("a_two", "like", T0 + timedelta(hours=1, minutes=3))
    acc("a_same", region=None)  # unknown region: default offset
    for _ in range(6):
        act("a_same", "like", T0 + timedelta(days=2, hours=5, seconds=30))
    acc("a_bot", region="US")  # fixed-interval poster through the open API, on the minute
    bot_posts = [post("a_bot", T0 + timedelta(seconds=BOT_STEP * k), "open_api") for k in range(12)]
    acc("a_night", region="GB")  # genuine night-shift worker: active 01:00-05:00 local
    for d in range(5):
        base = T0 + timedelta(days=d, hours=1, minutes=7 * d, seconds=13 + d)
        post("a_night", base, "android")
        act("a_night", "like", base + timedelta(minutes=25, seconds=d))
        act("a_night", "comment", base + timedelta(hours=2, minutes=d), post_id=bot_posts[d])
        act("a_night", "comment", base + timedelta(hours=3), post_id=bot_posts[d])  # not the first: ignored
    act("a_night", "follow", T0 + timedelta(days=1, hours=2), target="a_bot")
    act("a_night", "follow", T0 + timedelta(days=1, hours=2, seconds=1), target="a_human")
    act("a_night", "unfollow", T0 + timedelta(days=3, hours=2), target="a_bot")
    acc("a_jitter", region="IN")  # jittered scheduler, fractional UTC offset
    for k in range(10):
        post("a_jitter", T0 + timedelta(minutes=30 * k, seconds=0.3 * (k % 3), microseconds=k), "scheduler")
    acc("a_fast", region="JP")  # replies within seconds, one comment before its post (data error), one orphan
    for k in range(6):
        act("a_fast", "comment", posts[k % len(posts)]["created_at"] + timedelta(seconds=4 + k),
            post_id=posts[k % len(posts)]["post_id"])
    act("a_fast", "comment", T0 - timedelta(days=1), post_id=bot_posts[11])
    act("a_fast", "comment", T0 + timedelta(days=1), post_id="p_missing")
    act("a_fast", "unfollow", T0 + timedelta(days=1), target="a_bot")  # unfollow without follow
    acc("a_late", created=AS_OF + timedelta(days=1))  # created after the snapshot: age NULL
    post("a_late", AS_OF + timedelta(days=1, hours=1))  # after as_of: ignored
    act("a_bot", "like", AS_OF + timedelta(seconds=1), post_id=bot_posts[0])  # after as_of: ignored
    post("ghost", T0)  # account not in the accounts table: no row
    acc("a_created_null")
    accounts[-1]["created_at"] = None
    post("a_created_null", T0 + timedelta(days=3))

    rng = np.random.default_rng(7)
    regions = ["CN", "US", "GB", "AU", "SG", None, "XX", "jp"]
    kinds = ["like", "collect", "comment", "share", "follow", "unfollow"]
    clients = ["ios", "android", "web", "mini_program", "open_api", "scheduler"]
    for i in range(25):
        aid = f"r{i:02d}"
        acc(aid, region=regions[i % len(regions)], created=T0 - timedelta(days=float(rng.uniform(0, 400))))
        n = int(rng.integers(0, 40))
        t = T0 + timedelta(seconds=float(rng.uniform(0, 86400 * 3)))
        for _ in range(n):
            # heavy-tailed gaps, some exact repeats and some on the minute
            t += timedelta(microseconds=int(rng.pareto(1.2) * 600e6) if rng.random() > 0.15 else 0)
            if rng.random() < 0.1:
                t = t.replace(second=0, microsecond=0)
            if rng.random() < 0.3:
                post(aid, t, clients[int(rng.integers(0, len(clients)))])
            else:
                kind = kinds[int(rng.integers(0, len(kinds)))]
                target = posts[int(rng.integers(0, len(posts)))]
                act(aid, kind, t, post_id=target["post_id"] if kind != "follow" else None)
    return accounts, posts, inter


# --- the oracle: loops over each account, datetime arithmetic for local time --------------------------

def _entropy(counter: Counter) -> float:
    n = sum(counter.values())
    return -sum(c / n * math.log2(c / n) for c in counter.values() if c > 0)


def _oracle(accounts: list[dict], posts: list[dict], inter: list[dict], cfg: BehaviourConfig) -> pd.DataFrame:
    def us(ts: datetime) -> int:
        return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    post_time = {p["post_id"]: p["created_at"] for p in posts if p["created_at"] <= AS_OF}
    rows: dict[str, dict] = {}
    profiles: dict[str, np.ndarray] = {}
    for a in accounts:
        aid = a["account_id"]
        region = (a["region"] or "").upper()
        offset = timedelta(hours=cfg.region_utc_offset_hours.get(region, cfg.default_utc_offset_hours))
        ev = [(p["created_at"], "post", p["client"]) for p in posts
              if p["account_id"] == aid and p["created_at"] <= AS_OF]
        ev += [(i["created_at"], i["kind"], None) for i in inter if i["actor_id"] == aid and i["created_at"] <= AS_OF]
        ev.sort(key=lambda e: e[0])
        n = len(ev)
        gaps = [(us(ev[k][0]) - us(ev[k - 1][0])) / 1e6 for k in range(1, n)]
        local = [e[0] + offset for e in ev]
        r: dict = {"account_id": aid, "events_total": n, "active_days": len({t.date() for t in local})}

        sessions: list[list[datetime]] = []
        for k, e in enumerate(ev):
            if k == 0 or gaps[k - 1] > cfg.session_gap_seconds:
                sessions.append([])
            sessions[-1].append(e[0])
        r["sessions_total"] = len(sessions)

        first: dict[str, datetime] = {}
        for i in inter:
            if (i["actor_id"] == aid and i["kind"] == "comment" and i["target_post_id"] is not None
                    and i["created_at"] <= AS_OF):
                pid = i["target_post_id"]
                first[pid] = min(first.get(pid, i["created_at"]), i["created_at"])
        lat = [(us(t) - us(post_time[pid])) / 1e6 for pid, t in first.items() if pid in post_time]
        lat = [x for x in lat if x >= 0]
        r["replies_total"] = len(lat)

        age = None if a["created_at"] is None else (us(AS_OF) - us(a["created_at"])) / 86400e6
        r["account_age_days"] = age if age is not None and age >= 0 else None

        ok_gaps = len(gaps) >= cfg.min_gaps
        mu, sd = (float(np.mean(gaps)), float(np.std(gaps))) if gaps else (None, None)
        r["gap_cv"] = sd / mu if ok_gaps and mu > 0 else None
        bins = Counter(min(math.floor(math.log(1 + g) / math.log(cfg.gap_log_base)), cfg.gap_bins - 1) for g in gaps)
        r["gap_entropy_bits"] = _entropy(bins) if ok_gaps else None
        pairs = [(gaps[k - 1], gaps[k]) for k in range(1, len(gaps))]
        regular = [abs(b - a_) <= max(cfg.gap_tolerance_seconds, cfg.gap_tolerance_relative * max(a_, b))
                   for a_, b in pairs]
        r["gap_regular_share"] = sum(regular) / len(regular) if len(gaps) >= max(cfg.min_gaps, 2) else None
        r["burstiness"] = (sd - mu) / (sd + mu) if ok_gaps and sd + mu > 0 else None

        ok_ev = n >= cfg.min_events and n > 0
        hours = Counter(t.hour for t in local)
        r["hour_entropy_bits"] = _entropy(hours) if ok_ev else None
        if ok_ev:
            profiles[aid] = np.array([hours[h] / n for h in range(24)])
        s, e_ = cfg.night_start_hour, cfg.night_end_hour
        night = [(s <= t.hour < e_) if s < e_ else (t.hour >= s or t.hour < e_) for t in local]
        r["night_share"] = sum(night) / n if ok_ev else None
        r["weekend_share"] = sum(t.weekday() in cfg.weekend_days for t in local) / n if ok_ev else None
        r["weekday_entropy_bits"] = _entropy(Counter(t.weekday() for t in local)) if ok_ev else None
        r["session_mean_seconds"] = (float(np.mean([(us(x[-1]) - us(x[0])) / 1e6 for x in sessions]))
                                     if sessions else None)
        r["session_mean_actions"] = float(np.mean([len(x) for x in sessions])) if sessions else None
        ok_rep = len(lat) >= cfg.min_replies
        r["reply_latency_median_s"] = float(np.median(lat)) if ok_rep else None
        r["reply_fast_share"] = sum(x <= cfg.fast_reply_seconds for x in lat) / len(lat) if ok_rep else None
        r["actions_per_active_day"] = n / r["active_days"] if n else None
        for k in MIX_KINDS:
            r[f"kind_share_{k}"] = sum(e[1] == k for e in ev) / n if ok_ev else None
        post_clients = [e[2] for e in ev if e[1] == "post"]
        r["automation_client_share"] = (sum(c in cfg.automation_clients for c in post_clients) / len(post_clients)
                                        if len(post_clients) >= cfg.min_posts else None)
        r["zero_second_share"] = sum(e[0].second == 0 for e in ev) / n if ok_ev else None
        follows = sum(e[1] == "follow" for e in ev)
        unfollows = sum(e[1] == "unfollow" for e in ev)
        r["follow_churn"] = unfollows / follows if follows >= cfg.min_follows else None
        rows[aid] = r

    pop = np.mean(list(profiles.values()), axis=0) if profiles else None
    for aid, r in rows.items():
        p = profiles.get(aid)
        if p is None:
            r["hour_js_distance"] = None
            continue
        m = (p + pop) / 2
        kl = [sum(x[h] * math.log2(x[h] / m[h]) for h in range(24) if x[h] > 0) for x in (p, pop)]
        r["hour_js_distance"] = 0.5 * kl[0] + 0.5 * kl[1]
    out = pd.DataFrame(list(rows.values()))[["account_id"] + [f.name for f in FEATURES]]
    for f in FEATURES:
        out[f.name] = out[f.name].astype("int64" if f.is_count else "float64")
    return out.sort_values("account_id").reset_index(drop=True)


# --- tests -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def frames(spark, data):
    accounts, posts, inter = data
    return (spark.createDataFrame(_rows(RAW_ACCOUNTS, accounts), RAW_ACCOUNTS),
            spark.createDataFrame(_rows(RAW_POSTS, posts), RAW_POSTS),
            spark.createDataFrame(_rows(RAW_INTERACTIONS, inter), RAW_INTERACTIONS))


def _base_cfg(cfg) -> BehaviourConfig:
    return BehaviourConfig.model_validate(cfg.features["behaviour"])


def _run(frames, bcfg: BehaviourConfig) -> pd.DataFrame:
    out = behaviour_features(*frames, AS_OF, bcfg)
    assert out.columns == ["account_id"] + [f.name for f in FEATURES]
    assert out.schema == BEHAVIOUR_SCHEMA
    assert [f.dataType for f in out.schema.fields[1:]] == [f.dtype for f in FEATURES]
    return out.toPandas().sort_values("account_id").reset_index(drop=True)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got["account_id"]) == list(want["account_id"])
    for f in FEATURES:
        g, w = got[f.name], want[f.name]
        if f.is_count:
            assert g.dtype == "int64" and g.tolist() == w.tolist(), f.name
        else:
            assert (g.isna() == w.isna()).all(), (f.name, got.loc[g.isna() != w.isna(), "account_id"].tolist())
            assert np.allclose(g[w.notna()], w[w.notna()], rtol=1e-9, atol=1e-9), (
                f.name, pd.DataFrame({"id": got["account_id"], "got": g, "want": w})[~np.isclose(g, w, equal_nan=True)])


@pytest.fixture(scope="module")
def with_defaults(frames, cfg) -> pd.DataFrame:
    return _run(frames, _base_cfg(cfg))


def test_matches_oracle_with_shipped_config(with_defaults, data, cfg):
    _assert_same(with_defaults, _oracle(*data, _base_cfg(cfg)))


def test_matches_oracle_with_tiny_minimums(frames, data, cfg):
    """Every statistic defined from 1 event / 1 gap, other night, weekend, bins and tolerances."""
    bcfg = _base_cfg(cfg).model_copy(update={
        "min_events": 1, "min_gaps": 1, "min_posts": 1, "min_replies": 1, "session_gap_seconds": 600,
        "night_start_hour": 22, "night_end_hour": 5, "weekend_days": [4, 5], "gap_log_base": 3.0, "gap_bins": 6,
        "gap_tolerance_seconds": 0.5, "gap_tolerance_relative": 0.2, "fast_reply_seconds": 6,
        "region_utc_offset_hours": {"GB": 1.0, "CN": 8.0, "IN": 5.75}, "default_utc_offset_hours": -3.5})
    _assert_same(_run(frames, bcfg), _oracle(*data, bcfg))


def test_known_values(with_defaults):
    """Values a human can check by hand, so the oracle itself is checked too."""
    got = with_defaults.set_index("account_id")
    bot = got.loc["a_bot"]
    assert bot["events_total"] == 12 and bot["gap_cv"] == 0.0 and bot["burstiness"] == -1.0
    assert bot["gap_regular_share"] == 1.0 and bot["gap_entropy_bits"] == 0.0
    assert bot["zero_second_share"] == 1.0 and bot["automation_client_share"] == 1.0
    assert bot["sessions_total"] == 12 and bot["session_mean_seconds"] == 0.0  # hourly > 30 min gap
    assert bot["session_mean_actions"] == 1.0
    assert bot["kind_share_post"] == 1.0 and np.isnan(bot["follow_churn"])
    assert bot["hour_entropy_bits"] == pytest.approx(math.log2(12))
    night = got.loc["a_night"]
    assert night["night_share"] == 1.0  # 01:00-05:00 in London (UTC+0), although it is 09:00-13:00 in Beijing
    assert night["follow_churn"] == 0.5 and night["replies_total"] == 5
    none = got.loc["a_none"]
    assert none[["events_total", "active_days", "sessions_total", "replies_total"]].tolist() == [0, 0, 0, 0]
    assert none.drop(["events_total", "active_days", "sessions_total", "replies_total",
                      "account_age_days"]).isna().all()
    assert none["account_age_days"] == pytest.approx(45.0)
    same = got.loc["a_same"]  # six identical timestamps: gaps all 0, CV undefined
    assert np.isnan(same["gap_cv"]) and np.isnan(same["burstiness"]) and same["gap_regular_share"] == 1.0
    assert np.isnan(got.loc["a_late", "account_age_days"]) and got.loc["a_late", "events_total"] == 0
    assert np.isnan(got.loc["a_created_null", "account_age_days"])
    assert "ghost" not in got.index
    fast = got.loc["a_fast"]  # the comment before its post and the orphan comment are left out
    assert fast["replies_total"] == 6 and fast["reply_fast_share"] == 1.0
    assert fast["reply_latency_median_s"] == pytest.approx(6.5)


def test_as_of_naive_is_utc_and_exact():
    """Both families compare unix_micros(created_at) with this integer; a naive as_of means UTC."""
    assert epoch_micros(AS_OF) == epoch_micros(AS_OF.replace(tzinfo=None)) == 1_792_454_400_000_000
    assert epoch_micros(datetime(2026, 10, 20, 8, tzinfo=timezone(timedelta(hours=8)))) == epoch_micros(AS_OF)
    assert epoch_micros(AS_OF - timedelta(microseconds=1)) == epoch_micros(AS_OF) - 1


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        BehaviourConfig(night_start_hour=3, night_end_hour=3)
    with pytest.raises(ValueError):
        BehaviourConfig(weekend_days=[7])
    with pytest.raises(ValueError):
        BehaviourConfig(unknown_key=1)
