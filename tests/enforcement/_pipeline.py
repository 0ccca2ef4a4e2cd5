"""A small real pipeline for the enforcement job tests: synthetic raw tables and feature snapshot in a
temp lake, a quickly trained champion in MLflow, `jobs.score` for real, and a pandas oracle of the policy.

The account model is trained on tests/models/model_synth.py's features (imported by path: tests/models is
not a package); the feature snapshot carries those columns plus the network columns the enforce job reads
(follow_in_degree as reach, coord_cluster_size), and raw interactions with coordination groups whose
components the job must rebuild.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

_MODELS_TESTS = str(Path(__file__).resolve().parents[1] / "models")
if _MODELS_TESTS not in sys.path:
    sys.path.append(_MODELS_TESTS)

from model_synth import FAST, FEATURES, NAMES, make_synthetic  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from genuine.core import tracking  # noqa: E402
from genuine.core.lake import Lake  # noqa: E402
from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_POSTS  # noqa: E402
from genuine.enforcement.config import EnforcementConfig, enforcement_config  # noqa: E402
from genuine.enforcement.ids import stable_id_py  # noqa: E402
from genuine.jobs import score  # noqa: E402
from genuine.models.config import ModelConfig  # noqa: E402
from genuine.models.promotion import promote  # noqa: E402
from genuine.models.scoring import SCORES  # noqa: E402
from genuine.models.training import train_account_model  # noqa: E402
from tests.oracles import read_delta_rs  # noqa: E402

SNAPSHOT = date(2026, 10, 31)
AS_OF = datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
N_ACCOUNTS = 160
SEED = 23
AUTO_ACTIONS = ["label_suspected_ai", "limit_reach"]

__all__ = ["FAST", "FEATURES", "NAMES", "SNAPSHOT", "AS_OF", "Inputs", "build_inputs", "train_champion",
           "policy_oracle", "expected_queue", "split_scoring_run", "read_table", "coordination_oracle"]


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def train_champion(cfg) -> str:
    """Train and promote one account model in cfg's MLflow store; returns the champion version."""
    synth = make_synthetic()
    mcfg = cfg.section("model", ModelConfig)
    result = train_account_model(synth.train_df(), FEATURES, mcfg, truth=synth.truth, mlflow_cfg=cfg.mlflow,
                                 lineage={"feature_table": "synthetic", "snapshot_dates": str(SNAPSHOT)})
    decision = promote(tracking.configure(cfg.mlflow), cfg.mlflow.account_model, result.model_version,
                       result.holdout, mcfg.gates)
    assert decision.promoted, decision.reasons
    return str(result.model_version)


@dataclass
class Inputs:
    accounts: pd.DataFrame          # what went into raw_accounts
    posts: pd.DataFrame
    interactions: pd.DataFrame      # version recorded by the snapshot (before the late batch)
    late_interactions: pd.DataFrame  # appended after the snapshot: must not change the clusters
    features: pd.DataFrame
    truth: pd.DataFrame
    roles: dict[str, list[str]]     # protected / missing accounts (see _raw_accounts)
    versions: dict[str, int]        # raw table versions recorded in the snapshot's input_versions
    feature_version: int


def _raw_accounts(feats: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Protections on strongly bot-like accounts (fixed_interval: nearly always in the auto band), so the
    protected routes are exercised; two such accounts are missing from raw_accounts."""
    fixed = truth.loc[truth.strategy == "fixed_interval", "account_id"].tolist()
    roles = {"verified": fixed[0:2], "declared": fixed[2:4], "unknown_protection": fixed[4:5], "missing": fixed[5:7]}
    rows = []
    for i, (acc, verified) in enumerate(zip(truth.account_id, truth.verified, strict=True)):
        if acc in roles["missing"]:
            continue
        v: bool | None = bool(verified) or acc in roles["verified"]
        d: bool | None = acc in roles["declared"]
        if acc in roles["unknown_protection"]:
            v = None
        rows.append({"account_id": acc, "created_at": datetime(2025, 1, 1) + timedelta(days=i),
                     "nickname": f"nick{i}", "bio": "bio", "verified": v, "declared_ai_assisted": d,
                     "region": "CN", "ingest_run_id": "ingest-test", "source_file": "accounts.jsonl"})
    return pd.DataFrame(rows), roles


def _posts(ids: list[str]) -> pd.DataFrame:
    end = _naive(AS_OF)
    rows = []
    for i, acc in enumerate(ids):
        for j in range(i % 5):
            rows.append({"post_id": f"p{i:03d}_{j}", "account_id": acc,
                         "created_at": end - timedelta(hours=7 * (j + 1), minutes=i),
                         "title": f"Title {i}  {j}", "body": f"body\n  of post {j}\tby   {acc}"})
        if i % 10 == 0:    # after the snapshot day: never a sample
            rows.append({"post_id": f"p{i:03d}_late", "account_id": acc, "created_at": end + timedelta(hours=2),
                         "title": "late", "body": "after the snapshot"})
    df = pd.DataFrame(rows)
    for c, v in (("client", "ios"), ("declared_ai", False), ("ingest_run_id", "ingest-test"),
                 ("source_file", "posts.jsonl")):
        df[c] = v
    df["topics"] = [[] for _ in range(len(df))]
    df["media"] = [[] for _ in range(len(df))]
    return df


def _co_likes(group: list[str], posts: list[str], start: datetime, spread_s: int, tag: str) -> list[dict]:
    rows = []
    for p_no, post in enumerate(posts):
        for k, acc in enumerate(group):
            rows.append({"event_id": f"{tag}-{p_no}-{k}", "actor_id": acc, "kind": "like", "target_account_id": None,
                         "target_post_id": post,
                         "created_at": start + timedelta(hours=p_no, seconds=k * spread_s // max(1, len(group) - 1)),
                         "body": None})
    return rows


def _interactions(truth: pd.DataFrame, roles: dict[str, list[str]]
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """Coordination groups: g1 (farm accounts, likely acted on), g2 (two protected accounts, which are
    queued, with two farm accounts: the queue shows the cluster), one group acting only after the
    snapshot, a pair below min_co_actions, and a late batch recorded after the snapshot was computed."""
    farm = truth.loc[truth.strategy == "engagement_farm", "account_id"].tolist()
    humans = truth.loc[truth.strategy == "ordinary", "account_id"].tolist()
    groups = {"g1": farm[0:3], "g2": [roles["verified"][0], roles["declared"][0], *farm[3:5]], "after": farm[7:10],
              "pair": humans[0:2], "late": farm[0:1] + farm[10:12]}
    base = _naive(AS_OF) - timedelta(days=3)
    rows = (_co_likes(groups["g1"], ["tp1", "tp2", "tp3", "tp4"], base, 10, "g1")
            + _co_likes(groups["g2"], ["tp5", "tp6", "tp7"], base, 20, "g2")
            # the same posts, more than the 60 s window apart: no coordination
            + _co_likes(groups["g2"][:2], ["tp8", "tp9", "tp10"], base, 600, "slow")
            + _co_likes(groups["after"], ["tp11", "tp12", "tp13"], _naive(AS_OF) + timedelta(hours=1), 5, "after")
            + _co_likes(groups["pair"], ["tp14", "tp15"], base, 5, "pair"))    # only 2 co-actions: below min
    late = _co_likes(groups["late"], ["tp16", "tp17", "tp18"], base, 5, "late")  # arrives after the snapshot
    cols = ["event_id", "actor_id", "kind", "target_account_id", "target_post_id", "created_at", "body"]

    def frame(rs: list[dict]) -> pd.DataFrame:
        df = pd.DataFrame(rs, columns=cols)
        df["ingest_run_id"], df["source_file"] = "ingest-test", "interactions.jsonl"
        return df

    return frame(rows), frame(late), groups


def coordination_oracle(interactions: pd.DataFrame, window_s: int, min_co: int) -> dict[str, set[str]]:
    """Brute force: pairs acting on >= min_co distinct posts within window_s (at or before AS_OF), then
    networkx components; account -> its component."""
    ev = interactions[interactions.created_at <= _naive(AS_OF)]
    co: dict[tuple[str, str], set[str]] = {}
    for post, g in ev.groupby("target_post_id"):
        recs = list(zip(g.actor_id, g.created_at, strict=True))
        for a, ta in recs:
            for b, tb in recs:
                if a < b and abs((ta - tb).total_seconds()) <= window_s:
                    co.setdefault((a, b), set()).add(post)
    graph = nx.Graph([pair for pair, posts in co.items() if len(posts) >= min_co])
    return {n: set(c) for c in nx.connected_components(graph) for n in c}


def build_inputs(spark, cfg, run_score: bool = True) -> Inputs:
    """Write raw tables and a feature snapshot into cfg's lake (and score it with the champion)."""
    lake = Lake(spark, cfg)
    synth = make_synthetic(n=N_ACCOUNTS, seed=SEED)
    feats, truth = synth.features.copy(), synth.truth
    accounts, roles = _raw_accounts(feats, truth)
    posts = _posts(truth.account_id.tolist())
    interactions, late, _ = _interactions(truth, roles)

    def put(table: str, pdf: pd.DataFrame, schema) -> int:
        df = spark.createDataFrame(pdf[schema.fieldNames()].astype(object).where(pdf.notna(), None), schema)
        return lake.append(table, df, schema=schema).version

    versions = {"raw_accounts": put("raw_accounts", accounts, RAW_ACCOUNTS),
                "raw_posts": put("raw_posts", posts, RAW_POSTS),
                "raw_interactions": put("raw_interactions", interactions, RAW_INTERACTIONS)}

    ncfg = cfg.features["network"]["coordination"]
    comp = coordination_oracle(interactions, ncfg["window_seconds"], ncfg["min_co_actions"])
    rng = np.random.default_rng(SEED)
    feats["as_of"] = pd.Timestamp(_naive(AS_OF))
    feats["snapshot_date"] = SNAPSHOT
    feats["follow_in_degree"] = rng.integers(0, 50_000, len(feats))
    feats.loc[rng.random(len(feats)) < 0.1, "follow_in_degree"] = None     # unknown reach: null, ranks as 0
    feats["coord_cluster_size"] = [len(comp.get(a, ())) for a in feats.account_id]
    feats["input_versions"] = [dict(versions)] * len(feats)
    feats["run_id"] = "features-test"
    schema = ("account_id string, snapshot_date date, as_of timestamp, gap_cv double, share_second_zero double, "
              "template_reuse double, coord_degree long, reports_received long, noise double, "
              "follow_in_degree long, coord_cluster_size long, input_versions map<string,bigint>, run_id string")
    cols = [f.name for f in spark.createDataFrame([], schema).schema.fields]
    fdf = spark.createDataFrame(feats[cols].astype(object).where(feats[cols].notna(), None), schema)
    fv = lake.append("features", fdf).version
    # Late events (a new raw version the snapshot did not read): the job must not see them.
    lake.append("raw_interactions", spark.createDataFrame(
        late[RAW_INTERACTIONS.fieldNames()].astype(object).where(late.notna(), None), RAW_INTERACTIONS))
    if run_score:
        score.run(cfg, spark=spark)
    return Inputs(accounts, posts, interactions, late, feats, truth, roles, versions, fv)


def read_table(cfg, table: str, version: int | None = None) -> pd.DataFrame:
    return read_delta_rs(cfg.table(table), version)


def split_scoring_run(spark, cfg, source_run: str, parts: dict[str, list[str]], minutes_apart: int = 10) -> None:
    """Copy the rows of `source_run` into new scoring runs (run id -> its accounts), each later than the last:
    real rows in the real scores table, for tests that need several scoring runs of one snapshot."""
    lake = Lake(spark, cfg)
    src = lake.read("scores").where(F.col("scoring_run_id") == source_run)
    for k, (sid, accounts) in enumerate(parts.items(), start=1):
        rows = (src.where(F.col("account_id").isin(accounts))
                .withColumn("scoring_run_id", F.lit(sid))
                .withColumn("scored_at", F.col("scored_at") + F.expr(f"INTERVAL {k * minutes_apart} MINUTES")))
        lake.append("scores", rows.select(*SCORES.fieldNames()), schema=SCORES)


# --- the policy, once more, in pandas -------------------------------------------------------------------
def _protection(accounts: pd.DataFrame) -> dict[str, tuple[Any, Any]]:
    out = {}
    for acc, g in accounts.groupby("account_id"):
        def any_true(s: pd.Series) -> Any:
            vals = [v for v in s if v is not None and not (isinstance(v, float) and math.isnan(v))]
            return None if not vals else bool(any(vals))
        out[acc] = (any_true(g.verified), any_true(g.declared_ai_assisted))
    return out


def policy_oracle(scores: pd.DataFrame, accounts: pd.DataFrame, ecfg: EnforcementConfig | Any,
                  history: list[int] | None = None) -> pd.DataFrame:
    """One row per account of ONE scoring run in the review/auto band, plus the exploration picks: outcome,
    route, supporting families, held — for a first enforce run (no prior status). Rules as in
    docs/enforcement.md."""
    e = enforcement_config(ecfg)
    pol = e.policy
    prot = _protection(accounts)
    rows = []

    def families(r: Any) -> list[str]:
        return sorted({x["family"] for x in (r.reasons if r.reasons is not None else [])
                       if x["human_percentile"] is not None
                       and max(x["human_percentile"], 100 - x["human_percentile"]) >= pol.support_percentile
                       and x["family"] in pol.families})

    for r in scores[scores.band.isin(["review", "auto"])].itertuples():
        fams = families(r)
        known = r.account_id in prot
        verified, declared = prot.get(r.account_id, (None, None))
        if r.band == "review":
            out = ("review", "review_band")
        elif not known:
            out = ("review", "account_unknown")
        elif verified is None or declared is None:
            out = ("review", "protection_unknown")
        elif verified:
            out = ("review", "protected_verified")
        elif declared:
            out = ("review", "protected_declared_ai")
        elif len(fams) < pol.min_support_families:
            out = ("review", "insufficient_families")
        else:
            out = ("auto_action", "auto_policy")
        rows.append({"account_id": r.account_id, "snapshot_date": r.snapshot_date, "scoring_run_id": r.scoring_run_id,
                     "score": r.score, "band": r.band, "outcome": out[0], "route_reason": out[1],
                     "supporting_families": fams})
    q = e.queue          # exploration: the most novel band-none accounts, ties by id (first run: status none)
    pool = scores[(scores.band == "none") & scores.novelty.notna() & (scores.novelty >= q.exploration_min_novelty)]
    for r in pool.sort_values(["novelty", "account_id"], ascending=[False, True]).head(q.exploration_slots).itertuples():
        rows.append({"account_id": r.account_id, "snapshot_date": r.snapshot_date, "scoring_run_id": r.scoring_run_id,
                     "score": r.score, "band": r.band, "outcome": "review", "route_reason": "exploration",
                     "supporting_families": families(r)})
    df = pd.DataFrame(rows)
    hist = list(history or [])[-e.breaker.lookback_runs:]
    b = e.breaker
    if len(hist) >= b.min_history_runs:
        base = float(np.median(hist)) if b.statistic == "median" else float(np.mean(hist))
        limit = max(float(b.floor), b.ratio * base)
    else:
        limit = float(b.floor)
    would_act = int((df.outcome == "auto_action").sum()) if len(df) else 0
    tripped = b.enabled and would_act > limit
    df["held_by_breaker"] = (df.outcome == "auto_action") & tripped
    df.loc[df.held_by_breaker, "route_reason"] = "breaker_hold"
    df.loc[df.held_by_breaker, "outcome"] = "review"
    df.attrs.update(would_act=would_act, limit=limit, tripped=tripped)
    return df.sort_values("account_id").reset_index(drop=True)


def expected_actions(oracle: pd.DataFrame) -> pd.DataFrame:
    """ACTION_LOG keys of the automatic actions: ids hash (policy, run, account, snapshot, action)."""
    rows = [{"action_id": stable_id_py(["policy", r.scoring_run_id, r.account_id, str(r.snapshot_date), a]),
             "account_id": r.account_id, "action": a}
            for r in oracle[oracle.outcome == "auto_action"].itertuples() for a in AUTO_ACTIONS]
    return pd.DataFrame(rows, columns=["action_id", "account_id", "action"]).sort_values("action_id").reset_index(drop=True)


def expected_queue(oracle: pd.DataFrame, feats: pd.DataFrame, posts: pd.DataFrame, comp: dict[str, set[str]],
                   ecfg: Any, auto_threshold: float) -> pd.DataFrame:
    """REVIEW_QUEUE essentials: rank (priority = harm + uncertainty), reach, cluster evidence, sample posts."""
    q = enforcement_config(ecfg).queue
    rq = oracle[oracle.outcome == "review"].merge(feats[["account_id", "follow_in_degree"]], on="account_id",
                                                  how="left")
    rq["reach"] = rq.follow_in_degree
    harm = rq.score * np.log1p(rq.reach.fillna(0).astype(float)) / math.log1p(q.reach_scale)
    unc = np.maximum(0.0, 1 - (rq.score - auto_threshold).abs() / q.uncertainty_band)
    rq["priority"] = q.harm_weight * harm + q.uncertainty_weight * unc
    # two streams (flags, exploration picks), the k-th of each at k / its share of capacity
    rq["explore"] = rq.route_reason == "exploration"
    rq = rq.sort_values(["priority", "score", "account_id"], ascending=[False, False, True])
    share = rq.explore.map({True: q.exploration_share, False: 1.0 - q.exploration_share})
    rq["pos"] = rq.groupby("explore").cumcount().add(1) / share
    rq = rq.sort_values(["pos", "explore", "account_id"], ascending=[True, False, True]).reset_index(drop=True)
    rq["queue_rank"] = np.arange(1, len(rq) + 1)
    rq["queue_id"] = [stable_id_py(["queue", s, a]) for s, a in zip(rq.scoring_run_id, rq.account_id, strict=True)]
    end = _naive(AS_OF)
    samples = []
    for acc in rq.account_id:
        mine = posts[(posts.account_id == acc) & (posts.created_at <= end)]
        mine = mine.sort_values(["created_at", "post_id"], ascending=[False, True]).head(q.max_sample_posts)
        samples.append(list(mine.post_id))
    rq["sample_post_ids"] = samples
    rq["cluster_id"] = [min(comp[a]) if a in comp else None for a in rq.account_id]
    rq["cluster_size"] = [len(comp[a]) if a in comp else None for a in rq.account_id]
    rq["cluster_members"] = [sorted(comp[a] - {a})[:q.max_cluster_members] if a in comp else []
                             for a in rq.account_id]
    return rq[["queue_id", "account_id", "queue_rank", "route_reason", "held_by_breaker", "reach", "cluster_id",
               "cluster_size", "cluster_members", "sample_post_ids"]]
