"""Network features against a brute-force pandas/networkx oracle, and the coordination cost bound."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import networkx as nx
import pandas as pd
import pytest

from genuine.core.errors import ConfigError
from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_SESSIONS
from genuine.features import network as N
from genuine.features.registry import FAMILIES

T0 = datetime(2026, 10, 1, 12, 0, 0, tzinfo=UTC)
WINDOW = 60
MIN_CO = 2


def _cfg(cfg, **coordination) -> N.NetworkConfig:
    """The configured block with a small window, and a coarse PageRank tolerance: the oracle uses the same
    stopping rule, so agreement is to rounding either way, and Spark iterations are slow."""
    base = N.NetworkConfig.from_config(cfg)
    coord = base.coordination.model_copy(update={"window_seconds": WINDOW, "min_co_actions": MIN_CO,
                                                 **coordination})
    algo = base.algorithms.model_copy(update={"pagerank_tol": 1e-4})
    return base.model_copy(update={"coordination": coord, "algorithms": algo})


def _ix(actor, kind, t, post=None, target=None) -> dict:
    return {"event_id": None, "actor_id": actor, "kind": kind, "target_account_id": target,
            "target_post_id": post, "created_at": T0 + timedelta(seconds=t), "body": None,
            "ingest_run_id": None, "source_file": None}


def _events() -> tuple[list[str], list[dict], list[dict]]:
    accounts = [f"a{i}" for i in range(1, 13)]  # a12: no activity at all
    ev: list[dict] = []
    # a1, a2, a3: a farm acting within seconds on p1..p3; a3 joins only twice.
    for j, post in enumerate(["p1", "p2", "p3"]):
        base = 1000 * j
        ev += [_ix("a1", "like", base, post), _ix("a2", "like", base + 5, post)]
        if j < 2:
            ev.append(_ix("a3", "collect", base + 30, post))
    ev.append(_ix("a2", "comment", 2, "p1"))  # a second action on the same post: still one co-action
    # a4/a5: exactly at the window (counts), across a bucket edge (59 s -> 61 s), and just outside.
    ev += [_ix("a4", "like", 5000, "p4"), _ix("a5", "like", 5000 + WINDOW, "p4")]
    ev += [_ix("a4", "share", 6059, "p5"), _ix("a5", "like", 6061, "p5")]
    ev += [_ix("a4", "like", 7000, "p6"), _ix("a5", "like", 7000 + WINDOW + 1, "p6")]
    # follow on a post is not a coordination kind; a6 co-acts with a4 once only (below MIN_CO)
    ev += [_ix("a6", "follow", 5001, "p4", "a4"), _ix("a6", "like", 6050, "p5")]
    # random background, to shake out anything the hand-made cases miss
    rng = random.Random(11)
    for _ in range(90):
        ev.append(_ix(rng.choice(accounts[6:11]), rng.choice(["like", "collect", "comment", "share"]),
                      rng.randrange(20_000, 23_000), rng.choice(["q1", "q2", "q3", "q4", "q5"])))
    # follows: current state is the last follow/unfollow per ordered pair
    ev += [_ix("a1", "follow", 10, target="a2"), _ix("a2", "follow", 11, target="a1"),
           _ix("a1", "follow", 12, target="a3"), _ix("a3", "follow", 13, target="a2"),
           _ix("a2", "follow", 14, target="a3"),
           _ix("a4", "follow", 20, target="a1"), _ix("a4", "unfollow", 30, target="a1"),
           _ix("a5", "follow", 20, target="a1"), _ix("a5", "unfollow", 30, target="a1"),
           _ix("a5", "follow", 40, target="a1"),
           _ix("a6", "follow", 50, target="a1"), _ix("a6", "unfollow", 50, target="a1"),  # tie: unfollow
           _ix("a7", "follow", 60, target="a7"),  # self follow: ignored
           _ix("a7", "follow", 61, target="zz_gone"),  # target outside the accounts table: still a vertex
           _ix("a8", "follow", 62, target="a9"), _ix("a9", "follow", 63, target="a8"),
           _ix("a10", "unfollow", 64, target="a1")]  # unfollow without a follow
    for _ in range(30):
        a, b = random.Random(len(ev)).sample(accounts[:11], 2)
        ev.append(_ix(a, random.Random(len(ev) + 1).choice(["follow", "follow", "unfollow"]),
                      100 + len(ev), target=b))
    sessions = [{"session_id": f"s{i}", "account_id": a, "device_hash": d, "ip_hash": None,
                 "started_at": T0, "client": "ios", "ingest_run_id": None, "source_file": None}
                for i, (a, d) in enumerate([("a1", "d1"), ("a2", "d1"), ("a2", "d2"), ("a3", "d2"),
                                            ("a3", "d2"), ("a4", "d3"), ("a5", "d4"), ("a6", "d4"),
                                            ("a7", "d5"), ("a8", None), ("a9", "d6"), ("a9", "d7")])]
    return accounts, ev, sessions


# --- the oracle ----------------------------------------------------------------------------------

def _oracle(accounts: list[str], ev: list[dict], sessions: list[dict], cfg: N.NetworkConfig) -> pd.DataFrame:
    c = cfg.coordination
    acts = [e for e in ev if e["kind"] in c.kinds]
    co: dict[tuple[str, str], set[str]] = {}
    for e1, e2 in itertools.combinations(acts, 2):
        if (e1["target_post_id"] == e2["target_post_id"] and e1["actor_id"] != e2["actor_id"]
                and abs((e1["created_at"] - e2["created_at"]).total_seconds()) <= c.window_seconds):
            key = tuple(sorted((e1["actor_id"], e2["actor_id"])))
            co.setdefault(key, set()).add(e1["target_post_id"])
    coord = nx.Graph()
    coord.add_weighted_edges_from((a, b, len(p)) for (a, b), p in co.items() if len(p) >= c.min_co_actions)
    comp = {n: frozenset(cc) for cc in nx.connected_components(coord) for n in cc}

    state: dict[tuple[str, str], str] = {}
    follows = sorted((e for e in ev if e["kind"] in ("follow", "unfollow")),
                     key=lambda e: (e["created_at"], e["kind"] == "unfollow"))
    for e in follows:
        if e["actor_id"] != e["target_account_id"]:
            state[(e["actor_id"], e["target_account_id"])] = e["kind"]
    fg = nx.DiGraph()
    fg.add_nodes_from(accounts)
    fg.add_edges_from(k for k, v in state.items() if v == "follow")
    und = nx.Graph(fg.to_undirected())
    pr = nx.pagerank(fg, alpha=cfg.algorithms.pagerank_damping, tol=cfg.algorithms.pagerank_tol)
    rec = nx.reciprocity(fg, list(fg.nodes))
    tri, clu = nx.triangles(und), nx.clustering(und)

    pairs = {(s["account_id"], s["device_hash"]) for s in sessions if s["device_hash"] is not None}
    per_device: dict[str, int] = {}
    for _, d in pairs:
        per_device[d] = per_device.get(d, 0) + 1
    bip = nx.Graph()
    bip.add_edges_from((("a", a), ("d", d)) for a, d in pairs)
    bcomp = {n: cc for cc in nx.connected_components(bip) for n in cc}

    rows = []
    for a in accounts:
        in_coord = a in coord
        members = comp.get(a, frozenset())
        n = len(members)
        sub_edges = coord.subgraph(members).number_of_edges() if in_coord else 0
        devices = [d for acc, d in pairs if acc == a]
        rows.append({
            "account_id": a,
            "coord_weighted_degree": int(coord.degree(a, weight="weight")) if in_coord else 0,
            "coord_partners": coord.degree(a) if in_coord else 0,
            "coord_cluster_size": n,
            "coord_cluster_density": sub_edges / (n * (n - 1) / 2) if in_coord else None,
            "follow_in_degree": fg.in_degree(a),
            "follow_out_degree": fg.out_degree(a),
            "follow_reciprocity": rec[a],
            "follow_triangles": tri[a],
            "follow_clustering": clu[a] if und.degree(a) >= 2 else None,
            "follow_pagerank": pr[a] * fg.number_of_nodes(),
            "device_max_accounts": max((per_device[d] for d in devices), default=0),
            "device_cluster_accounts": (sum(1 for k, _ in bcomp[("a", a)] if k == "a")
                                        if ("a", a) in bcomp else 0),
        })
    return pd.DataFrame(rows).set_index("account_id").sort_index()


# --- tests ---------------------------------------------------------------------------------------

def test_config_block_validates_and_rejects_unknown_keys(cfg_factory):
    cfg = cfg_factory()
    net = N.NetworkConfig.from_config(cfg)
    assert net.coordination.max_actors_per_bucket >= 2
    with pytest.raises(ConfigError, match="features.network.coordination.window_second"):
        N.NetworkConfig.from_config(cfg_factory("features.network.coordination.window_second=5"))


def test_registry_is_the_network_family():
    assert "network" in FAMILIES
    assert {f.family for f in N.FEATURES} == {"network"}
    assert len(set(N.FEATURE_NAMES)) == len(N.FEATURES)
    assert N.SCHEMA.fieldNames() == ["account_id", *N.FEATURE_NAMES]


def test_network_features_match_brute_force_oracle(spark, cfg):
    net = _cfg(cfg)
    accounts, ev, sessions = _events()
    acc_df = spark.createDataFrame(
        [{f.name: (a if f.name == "account_id" else None) for f in RAW_ACCOUNTS.fields} for a in accounts]
        + [{f.name: (accounts[0] if f.name == "account_id" else None) for f in RAW_ACCOUNTS.fields}],  # dup
        RAW_ACCOUNTS)
    ix_df = spark.createDataFrame(ev, RAW_INTERACTIONS)
    ses_df = spark.createDataFrame(sessions, RAW_SESSIONS)

    out = N.network_features(acc_df, ix_df, ses_df, net)
    assert out.schema == N.SCHEMA
    got = out.toPandas().set_index("account_id").sort_index()
    want = _oracle(accounts, ev, sessions, net)

    # the hand-made cases are really present
    assert want.loc["a1", "coord_partners"] == 2 and want.loc["a3", "coord_weighted_degree"] == 4
    assert want.loc["a4", "coord_weighted_degree"] == 2 and want.loc["a6", "coord_partners"] == 0
    assert want.loc["a12"].drop(["follow_pagerank"]).fillna(0).eq(0).all()

    assert list(got.index) == list(want.index)
    exact = [c for c in want.columns if c != "follow_pagerank"]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_dtype=False, check_exact=True)
    pd.testing.assert_series_equal(got["follow_pagerank"], want["follow_pagerank"], check_exact=False,
                                   atol=1e-9, rtol=0)


def test_coordination_cost_is_bounded_on_a_viral_post(spark, cfg):
    """3,000 accounts like one post within 5 minutes: the pairs generated follow the documented bound,
    not the 4.5 million pairs of the naive self-join."""
    k = 12
    net = _cfg(cfg, max_actors_per_bucket=k)
    rng = random.Random(5)
    n_viral = 3000
    ev = [_ix(f"u{i:04d}", "like", rng.uniform(0, 300), "viral") for i in range(n_viral)]
    ev += [_ix("u0001", "like", 10_000, "quiet"), _ix("u0002", "like", 10_001, "quiet")]
    ix_df = spark.createDataFrame(ev, RAW_INTERACTIONS)

    cells = N.coordination_cells(ix_df, net.coordination).toPandas()
    # each cell keeps min(n_c, K) actors
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    raw = pd.DataFrame({"post": [e["target_post_id"] for e in ev],
                        "bucket": [(e["created_at"] - epoch) // timedelta(seconds=WINDOW) for e in ev]})
    n_c = raw.groupby(["post", "bucket"]).size()
    kept = cells.groupby(["target_post_id", "bucket"]).size()
    kept.index.names = ["post", "bucket"]
    pd.testing.assert_series_equal(kept.sort_index(), n_c.clip(upper=k).sort_index(), check_names=False)

    generated = N.coordination_pairs(ix_df, net.coordination).count()
    k_c = n_c.clip(upper=k)
    exact = sum(int(v) * (int(v) - 1) // 2 + int(v) * int(k_c.get((p, b + 1), 0)) for (p, b), v in k_c.items())
    bound = len(cells) * (3 * k - 1) / 2  # documented: (3K - 1) / 2 per kept (post, bucket, actor) row
    assert generated == exact
    assert generated <= bound < n_viral * (n_viral - 1) / 2 / 1000
