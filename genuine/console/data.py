"""What the console shows, read from the lake: the open review queue, an account's evidence and history,
open appeals and the overview. Read-only; small results are collected to the driver (human-sized pages).

"Open" is decided here once, for every page and for the decision path:
- a queue item of the latest enforced scoring run is open until a review decision for its account is
  recorded after it was enqueued (decisions.imported_at >= enqueued_at);
- an appeal is open until an appeal outcome for its account is recorded after it was filed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.core.lake import Lake
from genuine.enforcement.schemas import RESTRICTED_STATUSES, SOURCE_MODERATOR
from genuine.models.config import ModelConfig
from genuine.models.labels import latest_labels

log = logging.getLogger(__name__)

QUEUE_COLUMNS = ["queue_id", "scoring_run_id", "account_id", "snapshot_date", "score", "band", "route_reason",
                 "held_by_breaker", "hold_reason", "verified", "declared_ai_assisted", "prior_status", "reach",
                 "priority", "queue_rank", "reasons", "supporting_families", "sample_posts", "cluster_id",
                 "cluster_size", "cluster_members", "cluster_members_truncated", "enqueued_at", "model_name",
                 "model_version"]


def _rows(df: DataFrame, *order: Any) -> list[dict[str, Any]]:
    return [r.asDict(recursive=True) for r in (df.orderBy(*order) if order else df).collect()]


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC))


class Reader:
    """Reads for the console's pages over one Lake (one Spark session, shared by the whole process)."""

    def __init__(self, lake: Lake, model_cfg: ModelConfig) -> None:
        self.lake = lake
        self.model_cfg = model_cfg
        self._profile_cache: dict[tuple, Profile] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> DataFrame | None:
        return self.lake.read(name) if self.lake.exists(name) else None

    # --- the queue ---------------------------------------------------------------------------------
    def latest_scoring_run(self) -> str | None:
        rq = self.table("review_queue")
        if rq is None:
            return None
        row = rq.orderBy(F.col("enqueued_at").desc(), F.col("scoring_run_id").desc()).select("scoring_run_id").first()
        return row["scoring_run_id"] if row else None

    def _open_items(self) -> DataFrame | None:
        run = self.latest_scoring_run()
        if run is None:
            return None
        rq = self.lake.read("review_queue").where(F.col("scoring_run_id") == F.lit(run))
        dec = self.table("decisions")
        if dec is not None:
            done = (dec.where(F.col("kind") == "review")
                    .select("account_id", F.col("imported_at").alias("_decided")))
            closed = (rq.join(done, "account_id").where(F.col("_decided") >= F.col("enqueued_at"))
                      .select("queue_id").distinct())
            rq = rq.join(closed, "queue_id", "left_anti")
        return rq

    def queue(self, band: str | None = None, family: str | None = None, cluster: str | None = None,
              limit: int = 100) -> dict[str, Any]:
        """Open items of the latest run in queue_rank order (filtered), the filter choices, and the total."""
        rq = self._open_items()
        if rq is None:
            return {"scoring_run_id": None, "items": [], "total": 0, "shown": 0, "bands": [], "families": [],
                    "clusters": []}
        rq = rq.select(*QUEUE_COLUMNS).localCheckpoint(eager=True)
        fams = F.transform("reasons", lambda r: r["family"])
        choices = rq.agg(F.sort_array(F.collect_set("band")).alias("bands"),
                         F.sort_array(F.array_distinct(F.flatten(F.collect_list(fams)))).alias("families"),
                         F.sort_array(F.collect_set("cluster_id")).alias("clusters"),
                         F.count("*").alias("total")).collect()[0]
        if band:
            rq = rq.where(F.col("band") == F.lit(band))
        if family:
            rq = rq.where(F.array_contains(fams, F.lit(family)))
        if cluster:
            rq = rq.where(F.col("cluster_id") == F.lit(cluster))
        matching = rq.count()
        items = _rows(rq.orderBy("queue_rank").limit(limit))
        return {"scoring_run_id": self.latest_scoring_run(), "items": items, "total": int(choices["total"]),
                "matching": matching, "shown": len(items), "bands": list(choices["bands"] or []),
                "families": list(choices["families"] or []), "clusters": list(choices["clusters"] or [])}

    def open_queue_item(self, account_id: str) -> dict[str, Any] | None:
        rq = self._open_items()
        if rq is None:
            return None
        rows = _rows(rq.where(F.col("account_id") == F.lit(account_id)))
        return rows[0] if rows else None

    def account_status(self, account_id: str) -> dict[str, Any] | None:
        st = self.table("account_status")
        rows = _rows(st.where(F.col("account_id") == F.lit(account_id))) if st is not None else []
        return rows[0] if rows else None

    # --- one account -------------------------------------------------------------------------------
    def account(self, account_id: str, sample_posts: int) -> AccountView | None:
        """Everything the account page shows, or None when no table knows the account."""
        mine = F.col("account_id") == F.lit(account_id)
        v = AccountView(account_id)
        if (acc := self.table("raw_accounts")) is not None:
            rows = _rows(acc.where(mine).select("account_id", "created_at", "verified", "declared_ai_assisted"),
                         "created_at")
            v.account = rows[-1] if rows else None
        if (st := self.table("account_status")) is not None:
            rows = _rows(st.where(mine))
            v.status = rows[0] if rows else None
        if (sc := self.table("scores")) is not None:
            v.scores = _rows(sc.where(mine).select("scoring_run_id", "snapshot_date", "score", "band", "model_name",
                                                   "model_version", "reasons", "scored_at"), "scored_at")
        if (al := self.table("action_log")) is not None:
            v.actions = _rows(al.where(mine).select("action_id", "action", "decision_source", "decided_by",
                                                    "route_reason", "decided_at", "band", "score", "note"),
                              "decided_at", "action_id")
        if (dec := self.table("decisions")) is not None:
            v.decisions = _rows(dec.where(mine), "decided_at", "decision_id")
        if (ap := self.table("appeals")) is not None:
            v.appeals = _rows(ap.where(mine), "filed_at")
        if (rq := self.table("review_queue")) is not None:
            v.queue_history = _rows(rq.where(mine).select("scoring_run_id", "queue_rank", "route_reason", "band",
                                                          "score", "held_by_breaker", "enqueued_at"), "enqueued_at")
        v.queue_item = self.open_queue_item(account_id)
        if v.queue_item is None and (rq := self.table("review_queue")) is not None:
            latest = _rows(rq.where(mine).orderBy(F.col("enqueued_at").desc()).limit(1))
            v.evidence = latest[0] if latest else None
        else:
            v.evidence = v.queue_item
        if v.evidence is None and v.scores:
            v.evidence = {**v.scores[-1], "sample_posts": [], "cluster_members": [], "cluster_id": None}
        if v.evidence is not None and not v.evidence.get("sample_posts"):
            v.evidence["sample_posts"] = self._latest_posts(account_id, sample_posts)
        if not v.known:
            return None
        v.activity = self.activity(account_id)
        return v

    def _latest_posts(self, account_id: str, n: int) -> list[dict[str, Any]]:
        posts = self.table("raw_posts")
        if posts is None or n <= 0:
            return []
        text = F.trim(F.regexp_replace(F.concat_ws(" ", "title", "body"), r"\s+", " "))
        return _rows(posts.where(F.col("account_id") == F.lit(account_id))
                     .select("post_id", "created_at", F.substring(text, 1, 140).alias("snippet"))
                     .orderBy(F.col("created_at").desc()).limit(n))

    # --- activity against the human population -----------------------------------------------------
    def _events(self) -> DataFrame | None:
        parts = []
        if (p := self.table("raw_posts")) is not None:
            parts.append(p.select("account_id", "created_at"))
        if (i := self.table("raw_interactions")) is not None:
            parts.append(i.select(F.col("actor_id").alias("account_id"), "created_at"))
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = out.unionByName(p)
        return out.where(F.col("created_at").isNotNull())

    def human_profile(self) -> Profile | None:
        """Events by UTC hour (share) and per account per day of the human population: accounts whose
        latest label is the model's negative label; without labels, the accounts the latest scoring run
        put in band `none`. Cached per version of the tables it reads."""
        key = tuple(self.lake.version(t) if self.lake.exists(t) else None
                    for t in ("raw_posts", "raw_interactions", "raw_labels", "scores"))
        with self._lock:
            if key in self._profile_cache:
                return self._profile_cache[key]
        events = self._events()
        if events is None:
            return None
        population, who = None, ""
        if (lab := self.table("raw_labels")) is not None:
            latest = latest_labels(lab, self.model_cfg.positive_label)
            population = latest.where(F.col("label") == F.lit(self.model_cfg.negative_label)).select("account_id")
            who = f"accounts labelled {self.model_cfg.negative_label}"
        if population is None or population.limit(1).count() == 0:
            sc = self.table("scores")
            last = sc.orderBy(F.col("scored_at").desc()).select("scoring_run_id").first() if sc is not None else None
            if sc is None or last is None:
                return None
            population = (sc.where((F.col("scoring_run_id") == last["scoring_run_id"]) & (F.col("band") == "none"))
                          .select("account_id"))
            who = "accounts the latest scoring run left in band none"
        population = population.distinct()
        n = population.count()
        ev = events.join(population, "account_id", "left_semi")
        prof = _profile(ev, accounts=n)
        prof.population = f"{n} {who}"
        with self._lock:
            self._profile_cache = {key: prof}
        return prof

    def activity(self, account_id: str) -> dict[str, Any] | None:
        events = self._events()
        if events is None:
            return None
        mine = _profile(events.where(F.col("account_id") == F.lit(account_id)), accounts=1)
        return {"account": mine, "humans": self.human_profile()}

    # --- appeals -----------------------------------------------------------------------------------
    def open_appeals(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Open appeals, oldest first, each with the account's status and its restricting actions."""
        ap = self.table("appeals")
        if ap is None:
            return []
        if account_id is not None:
            ap = ap.where(F.col("account_id") == F.lit(account_id))
        if (dec := self.table("decisions")) is not None:
            done = dec.where(F.col("kind") == "appeal").select("account_id", F.col("imported_at").alias("_out"))
            closed = (ap.join(done, "account_id").where(F.col("_out") >= F.col("filed_at"))
                      .select("appeal_id").distinct())
            ap = ap.join(closed, "appeal_id", "left_anti")
        appeals = _rows(ap, "filed_at", "appeal_id")
        if not appeals:
            return []
        ids = sorted({a["account_id"] for a in appeals})
        status = {r["account_id"]: r for r in _rows(self.lake.read("account_status").where(
            F.col("account_id").isin(ids)))} if self.lake.exists("account_status") else {}
        actions: dict[str, list[dict[str, Any]]] = {}
        if self.lake.exists("action_log"):
            for r in _rows(self.lake.read("action_log").where(F.col("account_id").isin(ids)), "decided_at"):
                actions.setdefault(r["account_id"], []).append(r)
        for a in appeals:
            a["status"] = status.get(a["account_id"])
            a["actions"] = actions.get(a["account_id"], [])
            a["restricted"] = bool(a["status"] and a["status"]["status"] in RESTRICTED_STATUSES)
        return appeals

    # --- overview ----------------------------------------------------------------------------------
    def overview(self, now: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {"scoring_run_id": self.latest_scoring_run(), "queue_size": 0, "oldest": None,
                               "age_hours": None, "per_moderator": [], "agreement": [], "holds": [],
                               "held": 0}
        if (rq := self._open_items()) is not None:
            agg = rq.agg(F.count("*").alias("n"), F.min("enqueued_at").alias("oldest")).collect()[0]
            out["queue_size"], out["oldest"] = int(agg["n"]), _utc(agg["oldest"])
            if out["oldest"] is not None:
                out["age_hours"] = (now - out["oldest"]).total_seconds() / 3600
            latest = self.lake.read("review_queue").where(F.col("scoring_run_id") == F.lit(out["scoring_run_id"]))
            holds = latest.where(F.col("held_by_breaker"))
            out["held"] = holds.count()
            out["holds"] = _rows(holds.groupBy("hold_reason").agg(F.count("*").alias("accounts")), "hold_reason")
        if (dec := self.table("decisions")) is not None:
            out["per_moderator"] = _rows(
                dec.groupBy(F.to_date("decided_at").alias("day"), "moderator_id", "kind")
                .agg(F.count("*").alias("decisions"), F.sum(F.col("applied").cast("int")).alias("applied")),
                F.col("day").desc(), "moderator_id", "kind")
        if (al := self.table("action_log")) is not None:
            per_decision = (al.where(F.col("decision_source") == SOURCE_MODERATOR)
                            .groupBy("decision_ref")
                            .agg(F.first("band", ignorenulls=True).alias("band"),
                                 F.first("route_reason").alias("route_reason")))
            out["agreement"] = _rows(
                per_decision.groupBy(F.coalesce("band", F.lit("unknown")).alias("band"))
                .agg(F.count("*").alias("decided"),
                     F.sum((F.col("route_reason") == "review:confirm").cast("int")).alias("confirmed"))
                .withColumn("share_confirmed", F.col("confirmed") / F.col("decided")), "band")
        return out


@dataclass
class Profile:
    by_hour: list[float]                        # share of events in each UTC hour 0-23
    by_day: list[tuple[date, float]]            # events per account on each day
    events: int
    population: str = ""


def _profile(events: DataFrame, accounts: int) -> Profile:
    hours = {r["h"]: r["n"] for r in events.groupBy(F.hour("created_at").alias("h")).count()
             .withColumnRenamed("count", "n").collect()}
    total = sum(hours.values())
    days = _rows(events.groupBy(F.to_date("created_at").alias("d")).count(), "d")
    per = max(accounts, 1)
    return Profile([hours.get(h, 0) / total if total else 0.0 for h in range(24)],
                   [(r["d"], r["count"] / per) for r in days], total)


@dataclass
class AccountView:
    account_id: str
    account: dict[str, Any] | None = None
    status: dict[str, Any] | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    appeals: list[dict[str, Any]] = field(default_factory=list)
    queue_history: list[dict[str, Any]] = field(default_factory=list)
    queue_item: dict[str, Any] | None = None     # the open item of the latest run (decidable), if any
    evidence: dict[str, Any] | None = None       # the newest queue row (or score row) shown as evidence
    activity: dict[str, Any] | None = None

    @property
    def known(self) -> bool:
        return bool(self.account or self.status or self.scores or self.actions or self.queue_history)
