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
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
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


def _sorted(rows: list[dict[str, Any]], *keys: str, reverse: bool = False) -> list[dict[str, Any]]:
    """Rows ordered as Spark's orderBy orders them (ascending, nulls first)."""
    return sorted(rows, key=lambda r: tuple((r[k] is not None, r[k] if r[k] is not None else 0) for k in keys),
                  reverse=reverse)


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC))


# The tables the console reads whole and keeps per version (docs/decisions.md): the enforcement tables (rows
# per queued, actioned or decided account, not per event or per scored account) and the console's own users.
# Events, accounts and scores grow with the platform and stay Spark reads filtered to one account.
CACHED = ("review_queue", "decisions", "appeals", "account_status", "action_log", "console_users")


class Reader:
    """Reads for the console's pages over one Lake (one Spark session, shared by the whole process).

    The tables of CACHED are collected once per Delta version and kept as rows: every request asks delta-rs
    for each table's current version (the log only, no data file) and reads a table again as soon as a
    commit moved it, so a decision, an import or a new run is seen by the next request, never a stale copy.
    """

    def __init__(self, lake: Lake, model_cfg: ModelConfig) -> None:
        self.lake = lake
        self.model_cfg = model_cfg
        self._profile_cache: dict[tuple, Profile] = {}
        self._rows_cache: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> DataFrame | None:
        return self.lake.read(name) if self.lake.exists(name) else None

    def version(self, name: str) -> int | None:
        """The table's current version from its Delta log (delta-rs reads the log, no data file): milliseconds,
        whichever engine the lake writes with."""
        try:
            return DeltaTable(self.lake.uri(name)).version()
        except TableNotFoundError:
            return None

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of a CACHED table at its current version (read again when the version moved)."""
        if name not in CACHED:
            raise ValueError(f"{name} is not a table the console keeps whole ({', '.join(CACHED)})")
        version = self.version(name)
        if version is None:
            return []
        with self._lock:
            hit = self._rows_cache.get(name)
            if hit is not None and hit[0] == version:
                return hit[1]
        rows = _rows(self.lake.read(name, version=version))
        log.debug("console: %s read at version %d (%d rows)", name, version, len(rows))
        with self._lock:
            self._rows_cache[name] = (version, rows)
        return rows

    # --- the queue ---------------------------------------------------------------------------------
    def latest_scoring_run(self) -> str | None:
        rq = self.rows("review_queue")
        if not rq:
            return None
        return _sorted(rq, "enqueued_at", "scoring_run_id")[-1]["scoring_run_id"]

    def _open_items(self) -> list[dict[str, Any]] | None:
        """The latest run's queue items without a review decision recorded at or after their enqueue time."""
        run = self.latest_scoring_run()
        if run is None:
            return None
        decided: dict[str, datetime] = {}
        for d in self.rows("decisions"):
            if d["kind"] == "review" and d["imported_at"] is not None:
                decided[d["account_id"]] = max(d["imported_at"], decided.get(d["account_id"], d["imported_at"]))
        return [r for r in self.rows("review_queue") if r["scoring_run_id"] == run
                and not (r["account_id"] in decided and decided[r["account_id"]] >= r["enqueued_at"])]

    def queue(self, band: str | None = None, family: str | None = None, cluster: str | None = None,
              limit: int = 100) -> dict[str, Any]:
        """Open items of the latest run in queue_rank order (filtered), the filter choices, and the total."""
        items = self._open_items()
        if items is None:
            return {"scoring_run_id": None, "items": [], "total": 0, "shown": 0, "bands": [], "families": [],
                    "clusters": []}

        def families(i: dict[str, Any]) -> set[str]:
            return {r["family"] for r in i["reasons"] or []}

        matching = [i for i in items if (not band or i["band"] == band) and (not family or family in families(i))
                    and (not cluster or i["cluster_id"] == cluster)]
        shown = [{c: i[c] for c in QUEUE_COLUMNS} for i in _sorted(matching, "queue_rank")[:limit]]
        return {"scoring_run_id": self.latest_scoring_run(), "items": shown, "total": len(items),
                "matching": len(matching), "shown": len(shown),
                "bands": sorted({i["band"] for i in items if i["band"] is not None}),
                "families": sorted(set().union(*(families(i) for i in items)) - {None}),
                "clusters": sorted({i["cluster_id"] for i in items if i["cluster_id"] is not None})}

    def open_queue_item(self, account_id: str) -> dict[str, Any] | None:
        mine = [r for r in self._open_items() or [] if r["account_id"] == account_id]
        return dict(mine[0]) if mine else None

    def account_status(self, account_id: str) -> dict[str, Any] | None:
        mine = [r for r in self.rows("account_status") if r["account_id"] == account_id]
        return mine[0] if mine else None

    def _of(self, name: str, account_id: str, *order: str) -> list[dict[str, Any]]:
        return _sorted([r for r in self.rows(name) if r["account_id"] == account_id], *order)

    # --- one account -------------------------------------------------------------------------------
    def account(self, account_id: str, sample_posts: int) -> AccountView | None:
        """Everything the account page shows, or None when no table knows the account."""
        mine = F.col("account_id") == F.lit(account_id)
        v = AccountView(account_id)
        if (acc := self.table("raw_accounts")) is not None:
            rows = _rows(acc.where(mine).select("account_id", "created_at", "verified", "declared_ai_assisted"),
                         "created_at")
            v.account = rows[-1] if rows else None
        v.status = self.account_status(account_id)
        if (sc := self.table("scores")) is not None:
            v.scores = _rows(sc.where(mine).select("scoring_run_id", "snapshot_date", "score", "band", "model_name",
                                                   "model_version", "reasons", "scored_at"), "scored_at")
        v.actions = self._of("action_log", account_id, "decided_at", "action_id")
        v.decisions = self._of("decisions", account_id, "decided_at", "decision_id")
        v.appeals = self._of("appeals", account_id, "filed_at")
        queued = self._of("review_queue", account_id, "enqueued_at")
        v.queue_history = [{c: q[c] for c in ("scoring_run_id", "queue_rank", "route_reason", "band", "score",
                                              "held_by_breaker", "enqueued_at")} for q in queued]
        v.queue_item = self.open_queue_item(account_id)
        v.evidence = v.queue_item if v.queue_item is not None else (dict(queued[-1]) if queued else None)
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
        key = tuple(self.version(t) for t in ("raw_posts", "raw_interactions", "raw_labels", "scores"))
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
        """Open appeals, oldest first, each with the account's status and its restricting actions: an appeal
        is closed by an appeal outcome for its account imported at or after it was filed."""
        out: dict[str, datetime] = {}
        for d in self.rows("decisions"):
            if d["kind"] == "appeal" and d["imported_at"] is not None:
                out[d["account_id"]] = max(d["imported_at"], out.get(d["account_id"], d["imported_at"]))
        appeals = [dict(a) for a in _sorted(self.rows("appeals"), "filed_at", "appeal_id")
                   if (account_id is None or a["account_id"] == account_id)
                   and not (a["account_id"] in out and out[a["account_id"]] >= a["filed_at"])]
        if not appeals:
            return []
        ids = {a["account_id"] for a in appeals}
        status = {r["account_id"]: r for r in self.rows("account_status") if r["account_id"] in ids}
        actions: dict[str, list[dict[str, Any]]] = {}
        for r in _sorted([r for r in self.rows("action_log") if r["account_id"] in ids], "decided_at"):
            actions.setdefault(r["account_id"], []).append(r)
        for a in appeals:
            a["status"] = status.get(a["account_id"])
            a["actions"] = actions.get(a["account_id"], [])
            a["restricted"] = bool(a["status"] and a["status"]["status"] in RESTRICTED_STATUSES)
        return appeals

    # --- overview ----------------------------------------------------------------------------------
    def overview(self, now: datetime) -> dict[str, Any]:
        run = self.latest_scoring_run()
        out: dict[str, Any] = {"scoring_run_id": run, "queue_size": 0, "oldest": None, "age_hours": None,
                               "per_moderator": [], "agreement": [], "holds": [], "held": 0}
        if (items := self._open_items()) is not None:
            out["queue_size"] = len(items)
            out["oldest"] = _utc(min((i["enqueued_at"] for i in items if i["enqueued_at"] is not None), default=None))
            if out["oldest"] is not None:
                out["age_hours"] = (now - out["oldest"]).total_seconds() / 3600
            held = Counter(r["hold_reason"] for r in self.rows("review_queue")
                           if r["scoring_run_id"] == run and r["held_by_breaker"])
            out["held"] = sum(held.values())
            out["holds"] = _sorted([{"hold_reason": k, "accounts": n} for k, n in held.items()], "hold_reason")
        per: dict[tuple, list[int]] = {}
        for d in self.rows("decisions"):
            day = _utc(d["decided_at"]).date() if d["decided_at"] is not None else None
            n = per.setdefault((day, d["moderator_id"], d["kind"]), [0, 0])
            n[0] += 1
            n[1] += int(bool(d["applied"]))
        out["per_moderator"] = _sorted(_sorted(
            [{"day": k[0], "moderator_id": k[1], "kind": k[2], "decisions": n[0], "applied": n[1]}
             for k, n in per.items()], "moderator_id", "kind"), "day", reverse=True)
        # One moderator decision may be several actions: count decisions (decision_ref), by the band of the
        # score it acted on; confirmed when it was a confirm.
        bands: dict[str, str | None] = {}
        routes: dict[str, str | None] = {}
        for r in _sorted(self.rows("action_log"), "decided_at", "action_id"):
            if r["decision_source"] != SOURCE_MODERATOR:
                continue
            ref = r["decision_ref"]
            routes.setdefault(ref, r["route_reason"])
            if bands.get(ref) is None:
                bands[ref] = r["band"]
        agree: dict[str, list[int]] = {}
        for ref, route in routes.items():
            n = agree.setdefault(bands[ref] or "unknown", [0, 0])
            n[0] += 1
            n[1] += int(route == "review:confirm")
        out["agreement"] = [{"band": b, "decided": n[0], "confirmed": n[1], "share_confirmed": n[1] / n[0]}
                            for b, n in sorted(agree.items())]
        return out


@dataclass
class Profile:
    by_hour: list[float]                        # share of events in each UTC hour 0-23
    by_day: list[tuple[date, float]]            # events per account on each day
    events: int
    population: str = ""


def _profile(events: DataFrame, accounts: int) -> Profile:
    """Shares by UTC hour and events per account per day, from one aggregation by (day, hour)."""
    cells = events.groupBy(F.to_date("created_at").alias("d"), F.hour("created_at").alias("h")).count().collect()
    hours: Counter[int] = Counter()
    days: Counter[date] = Counter()
    for c in cells:
        hours[c["h"]] += c["count"]
        days[c["d"]] += c["count"]
    total = sum(hours.values())
    per = max(accounts, 1)
    return Profile([hours[h] / total if total else 0.0 for h in range(24)],
                   [(d, days[d] / per) for d in sorted(days)], total)


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
