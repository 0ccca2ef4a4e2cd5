"""Change-over-time features against a brute-force oracle that rescans every split day, on hand-made data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_POSTS, RAW_SESSIONS
from genuine.features.change import FEATURES, OTHER_CLIENT, ChangeConfig, change_features

AS_OF = datetime(2026, 10, 20, 23, 59, 59, 999999, tzinfo=UTC)
LAST = datetime(2026, 10, 20, tzinfo=UTC)
CFG = ChangeConfig(window_days=10, min_side_sessions=3, rhythm_bin_hours=6, clients=["ios", "android", "open_api"],
                   burst_days=2, min_baseline_days=3, burst_smoothing=1.0, recent_days=2, min_recent_sessions=2)
NAMES = [f.name for f in FEATURES]


def _rows(schema, records: list[dict]) -> list[tuple]:
    return [tuple(r.get(f.name) for f in schema.fields) for r in records]


def _data() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    accounts: list[dict] = []
    sessions: list[dict] = []
    posts: list[dict] = []
    inter: list[dict] = []
    ids = iter(range(1_000_000))

    def acc(aid: str, created: datetime | None = LAST - timedelta(days=60)) -> None:
        accounts.append({"account_id": aid, "created_at": created, "region": "CN"})

    def ses(aid: str, day: int, hour: int, dev: str | None, pre: str | None, client: str = "android") -> None:
        """`day` counts back from the snapshot day (0 = the snapshot day)."""
        sessions.append({"session_id": f"s{next(ids)}", "account_id": aid, "device_hash": dev,
                         "ip_hash": None if pre is None else f"ip-{pre}", "ip_prefix_hash": pre,
                         "started_at": LAST - timedelta(days=day) + timedelta(hours=hour, minutes=7), "client": client})

    def event(aid: str, day: int, n: int = 1) -> None:
        for k in range(n):
            ts = LAST - timedelta(days=day) + timedelta(hours=10, seconds=k)
            if k % 2:
                posts.append({"post_id": f"p{next(ids)}", "account_id": aid, "created_at": ts, "client": "ios"})
            else:
                inter.append({"event_id": f"e{next(ids)}", "actor_id": aid, "kind": "like", "created_at": ts,
                              "target_account_id": "x", "target_post_id": None})

    # takeover: everything changes on day 3
    acc("hijack")
    for d in range(9, 3, -1):
        ses("hijack", d, 12, "devA", "pre1", "android")
        event("hijack", d, 2)
    for d in range(3, -1, -1):
        for h in (1, 2, 3):
            ses("hijack", d, h, "devB", "pre9", "open_api")
        event("hijack", d, 9)
    # a new phone: new device, same prefix, client and hours
    acc("new_phone")
    for d in range(9, -1, -1):
        ses("new_phone", d, 12, "devA" if d > 4 else "devN", "pre2", "ios")
    # a traveller: new prefix, same device
    acc("traveller")
    for d in range(9, -1, -1):
        ses("traveller", d, 12, "devT", "pre3" if d > 4 else f"trip{d}", "ios")
    # a shift worker: new hours only
    acc("shift")
    for d in range(9, -1, -1):
        ses("shift", d, 9 if d > 4 else 21, "devS", "pre4", "android")
    acc("few")                               # too few sessions for any split
    ses("few", 3, 5, "d", "p")
    ses("few", 1, 5, "d2", "p2")
    acc("no_ip")                             # no prefix at all: never new by prefix
    for d in range(6, -1, -1):
        ses("no_ip", d, 8, "dev0" if d > 3 else "dev1", None, "web")
    acc("old_sessions")                      # before the window: invisible
    for d in range(30, 15, -1):
        ses("old_sessions", d, 8, f"dev{d}", f"pre{d}")
    acc("sleeper", created=LAST - timedelta(days=400))
    event("sleeper", 8)
    event("sleeper", 1, 12)
    event("sleeper", 0, 20)
    acc("young", created=LAST - timedelta(days=3))   # 1 baseline day < min_baseline_days: NULL
    event("young", 0, 5)
    acc("created_null", created=None)                # unknown age: the whole window is its baseline
    event("created_null", 5, 3)
    acc("silent")

    rng = np.random.default_rng(3)
    clients = ["ios", "android", "open_api", "web", "scheduler"]
    for i in range(30):
        aid = f"r{i:02d}"
        acc(aid, created=LAST - timedelta(days=float(rng.uniform(1, 40))))
        for _ in range(int(rng.integers(0, 30))):
            d = int(rng.integers(0, 13))
            pre = None if rng.random() < 0.1 else f"pre{int(rng.integers(0, 4))}"
            ses(aid, d, int(rng.integers(0, 24)), f"dev{int(rng.integers(0, 3))}", pre,
                clients[int(rng.integers(0, len(clients)))])
        for _ in range(int(rng.integers(0, 10))):
            event(aid, int(rng.integers(0, 13)), int(rng.integers(1, 4)))
    return accounts, sessions, posts, inter


# --- the oracle: rescans every split day of every account -------------------------------------------

def _tv(a: np.ndarray, b: np.ndarray) -> float:
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def _oracle(accounts, sessions, posts, inter, cfg: ChangeConfig) -> pd.DataFrame:
    last = (LAST - datetime(1970, 1, 1, tzinfo=UTC)).days
    first = last - cfg.window_days + 1

    def day(ts: datetime) -> int:
        return (ts - datetime(1970, 1, 1, tzinfo=UTC)).days

    clients = [*cfg.clients, OTHER_CLIENT]
    bins = 24 // cfg.rhythm_bin_hours
    rows = []
    for a in accounts:
        aid = a["account_id"]
        ss = [dict(s, day=day(s["started_at"])) for s in sessions if s["account_id"] == aid]
        ss = [s for s in ss if first <= s["day"] <= last]
        r: dict = {"account_id": aid}
        splits = []
        for d in range(first, last + 1):
            before = [s for s in ss if s["day"] < d]
            after = [s for s in ss if s["day"] >= d]
            if len(before) < cfg.min_side_sessions or len(after) < cfg.min_side_sessions:
                continue
            devs = {s["device_hash"] for s in before}
            pres = {s["ip_prefix_hash"] for s in before}
            new_dev = [s["device_hash"] is not None and s["device_hash"] not in devs for s in after]
            new_pre = [s["ip_prefix_hash"] is not None and s["ip_prefix_hash"] not in pres for s in after]

            def mix(group):
                return np.array([sum((s["client"] if s["client"] in cfg.clients else OTHER_CLIENT) == c
                                     for s in group) for c in clients], dtype=float)

            def hours(group):
                return np.array([sum(s["started_at"].hour // cfg.rhythm_bin_hours == b for s in group)
                                 for b in range(bins)], dtype=float)

            splits.append({"d": d, "dev": float(np.mean(new_dev)), "pre": float(np.mean(new_pre)),
                           "both": float(np.mean([x and y for x, y in zip(new_dev, new_pre, strict=True)])),
                           "client": _tv(mix(before), mix(after)), "rhythm": _tv(hours(before), hours(after))})
        if splits:
            best = max(splits, key=lambda x: (x["both"], -x["d"]))
            r.update(device_switch_share=max(x["dev"] for x in splits),
                     prefix_switch_share=max(x["pre"] for x in splits),
                     takeover_novelty_share=best["both"], client_shift=best["client"],
                     rhythm_shift=best["rhythm"],
                     takeover_contrast=max(min(x["both"], x["client"]) for x in splits))
        else:
            r.update({k: None for k in NAMES[:6]})

        burst_start = last - cfg.burst_days + 1
        created = first if a["created_at"] is None else day(a["created_at"])
        start = max(created, first)
        ev = [day(p["created_at"]) for p in posts if p["account_id"] == aid]
        ev += [day(i["created_at"]) for i in inter if i["actor_id"] == aid]
        per_day = {d: ev.count(d) for d in range(start, last + 1)}
        base = [per_day[d] for d in range(start, burst_start)]
        if len(base) >= cfg.min_baseline_days:
            recent = sum(per_day[d] for d in range(burst_start, last + 1)) / cfg.burst_days
            r["dormancy_burst_ratio"] = recent / (float(np.median(base)) + cfg.burst_smoothing)
            run = longest = 0
            for c in base:
                run = run + 1 if c == 0 else 0
                longest = max(longest, run)
            r["longest_silence_days"] = float(longest)
        else:
            r["dormancy_burst_ratio"] = r["longest_silence_days"] = None

        recent_start = last - cfg.recent_days + 1
        old_pres = {s["ip_prefix_hash"] for s in ss if s["day"] < recent_start}
        n_before = sum(s["day"] < recent_start for s in ss)
        rec = [s for s in ss if s["day"] >= recent_start and s["ip_prefix_hash"] is not None]
        ok = len(rec) >= cfg.min_recent_sessions and n_before >= cfg.min_side_sessions
        r["new_prefix_share_recent"] = (sum(s["ip_prefix_hash"] not in old_pres for s in rec) / len(rec)
                                        if ok else None)
        rows.append(r)
    return pd.DataFrame(rows)[["account_id", *NAMES]].sort_values("account_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def computed(spark):
    accounts, sessions, posts, inter = _data()
    df = change_features(spark.createDataFrame(_rows(RAW_ACCOUNTS, accounts), RAW_ACCOUNTS),
                         spark.createDataFrame(_rows(RAW_POSTS, posts), RAW_POSTS),
                         spark.createDataFrame(_rows(RAW_INTERACTIONS, inter), RAW_INTERACTIONS),
                         spark.createDataFrame(_rows(RAW_SESSIONS, sessions), RAW_SESSIONS), AS_OF, CFG)
    got = df.toPandas().sort_values("account_id").reset_index(drop=True)
    return got, _oracle(accounts, sessions, posts, inter, CFG)


def test_schema_is_the_registry(computed):
    got, _ = computed
    assert list(got.columns) == ["account_id", *NAMES]


def test_matches_oracle(computed):
    got, want = computed
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got.astype({n: float for n in NAMES}), want.astype({n: float for n in NAMES}),
                                  check_exact=False, rtol=1e-9, atol=1e-12)


def test_takeover_stands_out_from_single_changes(computed):
    got, _ = computed
    row = got.set_index("account_id")
    assert row.loc["hijack", "takeover_contrast"] == pytest.approx(1.0)
    for human in ("new_phone", "traveller", "shift"):
        assert row.loc[human, "takeover_contrast"] == 0.0, human
    assert row.loc["new_phone", "device_switch_share"] == 1.0 and row.loc["new_phone", "prefix_switch_share"] == 0.0
    assert row.loc["traveller", "prefix_switch_share"] == 1.0 and row.loc["traveller", "device_switch_share"] == 0.0
    assert row.loc["shift", "rhythm_shift"] > 0.5 and row.loc["shift", "client_shift"] == 0.0


def test_nulls_where_history_is_short(computed):
    got, _ = computed
    row = got.set_index("account_id")
    for aid in ("few", "old_sessions", "silent"):
        assert row.loc[aid, NAMES[:6]].isna().all(), aid
    assert pd.isna(row.loc["young", "dormancy_burst_ratio"]) and pd.isna(row.loc["young", "longest_silence_days"])
    assert row.loc["sleeper", "dormancy_burst_ratio"] == pytest.approx(16.0)   # 32 events / 2 days / (0 + 1)
    assert row.loc["silent", "dormancy_burst_ratio"] == 0.0
    assert row.loc["no_ip", "prefix_switch_share"] == 0.0 and pd.isna(row.loc["no_ip", "new_prefix_share_recent"])
