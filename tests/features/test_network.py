"""Network features against a brute-force pandas/networkx oracle, and the coordination cost bound."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from genuine.core.errors import ConfigError
from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_LABELS, RAW_SESSIONS
from genuine.features import network as N
from genuine.features.registry import FAMILIES
from genuine.lib import coaction

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


# --- co-action against chance --------------------------------------------------------------------

def test_window_kernel_matches_a_double_integral():
    edges = [0, 15, 60, 300, 1800]
    for w in (10, 60, 600):
        k = coaction.window_kernel(edges, w)
        for i in range(len(edges) - 1):
            for j in range(len(edges) - 1):
                x = np.linspace(edges[i], edges[i + 1], 801)[:-1] + (edges[i + 1] - edges[i]) / 1600
                y = np.linspace(edges[j], edges[j + 1], 801)[:-1] + (edges[j + 1] - edges[j]) / 1600
                brute = float(np.mean(np.abs(x[:, None] - y[None, :]) <= w))
                assert k[i][j] == pytest.approx(brute, abs=3e-3)
                assert k[i][j] == pytest.approx(k[j][i], abs=1e-5)   # midpoint rule in one variable


def test_chance_is_a_kernel_quadratic_form_with_its_zeros_left_out(spark):
    """a' K b as compiled columns equals numpy's, for kernels with zero entries (bins further apart than
    the window, which chance() leaves out) and profiles with zero bins."""
    edges = [0, 15, 30, 60, 120, 300, 600, 1800, 7200, 86400]
    rng = np.random.default_rng(5)
    rows = [rng.dirichlet(np.ones(len(edges) - 1)) * rng.integers(0, 2, len(edges) - 1) for _ in range(24)]
    df = spark.createDataFrame([(i, [float(x) for x in rows[i]], [float(x) for x in rows[-1 - i]]) for i in range(24)],
                               "i int, a array<double>, b array<double>")
    nb = len(edges) - 1
    for w in (10, 60, 600):
        k = coaction.window_kernel(edges, w)
        assert any(v == 0.0 for row in k for v in row)   # the zeros chance() skips are there
        got = [r[1] for r in df.select("i", coaction.chance([F.col("a")[i] for i in range(nb)],
                                                           [F.col("b")[i] for i in range(nb)], k)).orderBy("i").collect()]
        want = [float(rows[i] @ np.array(k) @ rows[-1 - i]) for i in range(24)]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


WINDOWS = [60, 600, 3600]


def _coaction_platform() -> tuple[list[str], list[dict], list[dict], list[dict]]:
    """A celebrity whose 30 fans like each post 1-4 minutes after it (every time), a ring of 4 acting
    within 20 s of each other on 3 customers' posts at a delay set by each campaign, quiet background."""
    rng = random.Random(3)
    ev: list[dict] = []
    fans = [f"f{i:02d}" for i in range(30)]
    for j in range(6):
        t0 = 50_000 * j
        ev.append(_ix("celeb_friend", "like", t0, f"c{j}", "celeb"))      # the post's first engagement
        ev += [_ix(f, "like", t0 + rng.uniform(60, 240), f"c{j}", "celeb") for f in fans if rng.random() < 0.8]
    ring = ["r1", "r2", "r3", "r4"]
    for j in range(6):
        t0, post = 400_000 + 30_000 * j, f"k{j}"
        ev.append(_ix("k_friend", "like", t0, post, f"cust{j % 3}"))
        go = t0 + rng.uniform(600, 7200)
        ev += [_ix(r, rng.choice(["like", "share"]), go + rng.uniform(0, 20), post, f"cust{j % 3}") for r in ring]
        ev += [_ix(f"h{rng.randrange(8)}", "like", t0 + rng.uniform(0, 86_400), post, f"cust{j % 3}")
               for _ in range(3)]
    for _ in range(80):   # background: humans on many small posts
        ev.append(_ix(f"h{rng.randrange(8)}", "like", rng.uniform(0, 600_000), f"b{rng.randrange(25)}",
                      f"au{rng.randrange(5)}"))
    ev.append(_ix("f00", "follow", 10, target="celeb"))
    accounts = sorted({e["actor_id"] for e in ev} | {"celeb", "cust0", "loner"})
    sessions = [{"session_id": f"s{i}", "account_id": a, "device_hash": d, "ip_hash": None,
                 "ip_prefix_hash": p, "started_at": T0, "client": "android", "ingest_run_id": None,
                 "source_file": None}
                for i, (a, d, p) in enumerate([("r1", "dr", "p_ring"), ("r2", "dr", "p_ring"), ("r3", "dr3", "p_ring"),
                                               ("loner", "dl", "p_cgnat"), ("f01", "df1", "p_cgnat"),
                                               ("h1", "dh1", "p_cgnat")])]
    labels = [{"account_id": a, "label": lab, "source": "moderator", "decided_at": T0, "ingest_run_id": None,
               "source_file": None}
              for a, lab in [("r1", "ai_managed"), ("loner", "ai_managed"), ("r2", "human")]]
    return accounts, ev, sessions, labels


def _pair_oracle(ev: list[dict], cfg: N.NetworkConfig) -> pd.DataFrame:
    """Observed / expected co-actions per supported pair and window, by brute force."""
    c = cfg.coaction
    d = pd.DataFrame([e for e in ev if e["kind"] in cfg.coordination.kinds and e["target_post_id"]])
    d["t"] = d["created_at"].map(lambda t: t.timestamp())
    eng = d.groupby(["actor_id", "target_post_id"]).agg(t=("t", "min"), author=("target_account_id", "max"))
    eng = eng.reset_index()
    eng["lag"] = eng["t"] - eng.groupby("target_post_id")["t"].transform("min")
    eng["bin"] = np.clip(np.searchsorted(c.lag_edges_seconds, eng["lag"], side="right") - 1, 0,
                         len(c.lag_edges_seconds) - 2)
    nb = len(c.lag_edges_seconds) - 1
    observed: dict[tuple[str, str, int], set[str]] = {}
    for _, g in d.groupby("target_post_id"):
        rows = list(g.itertuples())
        for x, y in itertools.combinations(rows, 2):
            if x.actor_id != y.actor_id:
                for w in c.windows_seconds:
                    if abs(x.t - y.t) <= w:
                        a, b = sorted((x.actor_id, y.actor_id))
                        observed.setdefault((a, b, w), set()).add(x.target_post_id)
    supported = {(a, b) for (a, b, _), p in observed.items() if len(p) >= c.min_support}

    def hist(rows: pd.DataFrame) -> np.ndarray:
        return np.bincount(rows["bin"], minlength=nb).astype(float)

    overall = {a: hist(g) / len(g) for a, g in eng.groupby("actor_id")}
    prof = {(a, au): (hist(g) + c.profile_prior * overall[a]) / (len(g) + c.profile_prior)
            for (a, au), g in eng.groupby(["actor_id", "author"])}
    kern = {w: np.array(coaction.window_kernel(c.lag_edges_seconds, w)) for w in c.windows_seconds}
    posts = {a: dict(zip(g["target_post_id"], g["author"], strict=True)) for a, g in eng.groupby("actor_id")}
    rows = []
    for a, b in sorted(supported):
        common: dict[str, int] = {}
        for p, au in posts[a].items():
            if p in posts[b]:
                common[au] = common.get(au, 0) + 1
        for w in c.windows_seconds:
            exp = sum(n * prof[(a, au)] @ kern[w] @ prof[(b, au)] for au, n in common.items())
            obs = len(observed.get((a, b, w), ()))
            rows.append({"a": a, "b": b, "window_s": w, "observed": obs, "expected": exp,
                         "lift": (obs + c.lift_prior) / (exp + c.lift_prior)})
    return pd.DataFrame(rows).sort_values(["a", "b", "window_s"]).reset_index(drop=True)


def test_coaction_against_chance_matches_oracle_and_tells_fans_from_rings(spark, cfg):
    net = _cfg(cfg)
    net = net.model_copy(update={"coaction": net.coaction.model_copy(update={"windows_seconds": WINDOWS})})
    accounts, ev, sessions, labels = _coaction_platform()
    acc_df = spark.createDataFrame(
        [{f.name: (a if f.name == "account_id" else None) for f in RAW_ACCOUNTS.fields} for a in accounts],
        RAW_ACCOUNTS)
    ix_df = spark.createDataFrame(ev, RAW_INTERACTIONS)
    ses_df = spark.createDataFrame(sessions, RAW_SESSIONS)
    lab_df = spark.createDataFrame(labels, RAW_LABELS)

    eng = coaction.engagements(N.coaction_events(ix_df, net.coordination.kinds))
    pairs = N.coaction_pairs(ix_df, net)
    got = (N.coaction_evidence(pairs, eng, net.coaction).toPandas()
           .sort_values(["a", "b", "window_s"]).reset_index(drop=True))
    want = _pair_oracle(ev, net)
    assert len(want) > 100   # fan pairs and ring pairs are really scored
    pd.testing.assert_frame_equal(got[["a", "b", "window_s", "observed"]], want[["a", "b", "window_s", "observed"]],
                                  check_dtype=False)
    pd.testing.assert_series_equal(got["expected"], want["expected"], check_exact=False, rtol=1e-6, atol=1e-9)

    # fans co-act as often as their timing predicts; the ring does not
    fan_lift = want[want["a"].str.startswith("f") & want["b"].str.startswith("f")]["lift"]
    ring_lift = want[want["a"].str.startswith("r") & want["b"].str.startswith("r")].groupby(["a", "b"])["lift"].max()
    assert fan_lift.max() < net.coaction.lift_min <= ring_lift.min()

    out = N.network_features(acc_df, ix_df, ses_df, net, labels=lab_df, as_of=T0 + timedelta(days=30))
    assert out.schema == N.SCHEMA
    f = out.toPandas().set_index("account_id")
    assert (f.loc[[a for a in accounts if a.startswith("f")], "coaction_partners_weighted"] == 0).all()
    assert (f.loc[["r1", "r2", "r3", "r4"], "coaction_partners_weighted"] > 2).all()
    assert (f.loc[["r1", "r2", "r3", "r4"], "coaction_target_authors"] == 3).all()
    assert (f.loc[["r1", "r2", "r3", "r4"], "coaction_participation"] == 1.0).all()
    assert f.loc["celeb", "coaction_participation"] is None or pd.isna(f.loc["celeb", "coaction_participation"])
    # neighbours: the ring's partners (and devices); a fan's only neighbour is the celebrity it follows
    assert f.loc["r4", "nbr_coaction_max"] > 2
    assert f.loc["f00", "nbr_coaction_max"] == 0       # follows the celebrity, who co-acts with nobody
    # labels: r1's own positive label never counts for r1; r2..r4 see it among 3 ring neighbours
    assert f.loc["r1", "label_neighbour_share"] == 0.0
    assert f.loc["r4", "label_neighbour_share"] == pytest.approx(1 / 3)
    assert f.loc["r2", "label_neighbour_share"] == pytest.approx(1 / 3)   # r1 via co-action and device
    assert pd.isna(f.loc["loner", "label_neighbour_share"])                # labelled, but no neighbour
    # prefixes: the ring's prefix holds 3 accounts; without a prefix: 0
    assert f.loc["r3", "prefix_accounts_max"] == 3 and f.loc["f05", "prefix_accounts_max"] == 0


def test_label_share_never_sees_the_accounts_own_label(spark, cfg):
    """Flipping an account's own label changes nothing in its own row, only in its neighbours' rows."""
    net = _cfg(cfg)
    acc = spark.createDataFrame([(a,) for a in ["r1", "r2", "r3", "x"]], "account_id string")
    partners = spark.createDataFrame([("r1", "r2", 5.0, 0.8, True), ("r2", "r3", 4.0, 0.7, True),
                                      ("r1", "x", 1.1, None, False)],
                                     "a string, b string, lift double, excess double, significant boolean")
    follows = spark.createDataFrame([("r1", "x")], "src string, dst string")
    devices = N.device_pairs(spark.createDataFrame(
        [{"session_id": "s1", "account_id": "r1", "device_hash": "d", "started_at": T0},
         {"session_id": "s2", "account_id": "r3", "device_hash": "d", "started_at": T0}], RAW_SESSIONS),
        net.neighbours.max_accounts_per_device)
    coact = spark.createDataFrame([("r1", 0.8), ("r2", 1.5), ("r3", 0.7)],
                                  "account_id string, coaction_partners_weighted double")
    young = spark.createDataFrame([("r1", 1.0)], "account_id string, young double")
    labels = [{"account_id": "r1", "label": "ai_managed", "decided_at": T0},
              {"account_id": "r1", "label": "human", "decided_at": T0 - timedelta(days=1)}]   # latest wins
    flipped = [dict(lab, label="human") for lab in labels]
    runs = []
    for lab in (labels, flipped):
        positive = N.latest_positive(spark.createDataFrame(lab, RAW_LABELS), net.neighbours.positive_label)
        runs.append(N._neighbour_features(acc, partners, follows, devices, coact, young, positive)
                    .toPandas().set_index("account_id").sort_index())
    pd.testing.assert_series_equal(runs[0].loc["r1"], runs[1].loc["r1"])
    assert runs[0].loc["r1", "label_neighbour_share"] == 0.0                 # its own positive label
    assert runs[0].loc["r2", "label_neighbour_share"] == pytest.approx(1 / 2)   # r1 (positive), r3
    assert runs[0].loc["r3", "label_neighbour_share"] == pytest.approx(1 / 2)   # r2, r1 via the device
    assert (runs[1]["label_neighbour_share"].dropna() == 0).all()
    assert pd.isna(runs[0].loc["x", "label_neighbour_share"])                # only a follower: not propagated
    assert runs[0].loc["r1", "nbr_coaction_max"] == 1.5 and runs[0].loc["r2", "nbr_young_share"] == 1.0
    assert pd.isna(runs[0].loc["r1", "nbr_young_share"])                     # no neighbour of known age
