"""One feature snapshot: every account's four families as of a point in time, in one DataFrame.

Point-in-time correctness lives here, once: every input is cut at `as_of` before any family sees it,
so no family can leak later events into training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce

from pydantic import Field, model_validator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.core.config import Strict
from genuine.core.errors import NoEventsError
from genuine.features.behaviour import BehaviourConfig, behaviour_features
from genuine.features.behaviour_partials import behaviour_from_totals
from genuine.features.catalog import ALL_FEATURES, FEATURE_TABLE
from genuine.features.change import ChangeConfig, change_features
from genuine.features.change_partials import change_from_partials
from genuine.features.content import ContentConfig, content_features
from genuine.features.content_partials import content_from_partials
from genuine.features.network import NetworkConfig, network_features
from genuine.features.network_partials import stored_pairs, window_problem
from genuine.features.registry import FAMILIES, Family
from genuine.features.reports import ReportsConfig, report_features
from genuine.features.separation import SeparationConfig, SeparationReport
from genuine.lib.checkpoint import materialize
from genuine.lib.timing import timed

log = logging.getLogger(__name__)


class SnapshotConfig(Strict):
    """`features.snapshot`: how the job runs, not what it computes."""

    # Reliable checkpoints of the iterative graph algorithms go here when the session has no checkpoint
    # dir yet; relative to lake.root unless absolute or a URI. The job removes what it wrote at the end.
    checkpoint_dir: str = "_checkpoints/features"


class FeaturesConfig(Strict):
    """The whole `features` section, validated at once so a typo in any key is an error naming it."""

    # Behaviour, content and network's co-action pairs from per-day state tables instead of the whole history
    # (same values).
    incremental: bool = False
    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig)
    separation: SeparationConfig = Field(default_factory=SeparationConfig)
    behaviour: BehaviourConfig
    content: ContentConfig
    network: NetworkConfig
    reports: ReportsConfig
    change: ChangeConfig = Field(default_factory=ChangeConfig)

    @model_validator(mode="after")
    def _network_windows(self) -> FeaturesConfig:
        problem = window_problem(self.network) if self.incremental else None
        if problem:
            raise ValueError(problem)
        return self


@dataclass(frozen=True)
class FamilyConfigs:
    behaviour: BehaviourConfig
    content: ContentConfig
    network: NetworkConfig
    reports: ReportsConfig
    change: ChangeConfig

    @classmethod
    def from_section(cls, section: dict) -> FamilyConfigs:
        return cls(BehaviourConfig.model_validate(section.get("behaviour", {})),
                   ContentConfig.model_validate(section.get("content", {})),
                   NetworkConfig.model_validate(section.get("network", {})),
                   ReportsConfig.model_validate(section.get("reports", {})),
                   ChangeConfig.model_validate(section.get("change", {})))

    @classmethod
    def of(cls, features: FeaturesConfig) -> FamilyConfigs:
        return cls(features.behaviour, features.content, features.network, features.reports, features.change)


@dataclass
class FeatureRun:
    """What a feature job run wrote (or, retried, finds it wrote)."""

    run_id: str
    snapshot_date: date | None              # None only for a retry whose snapshot was since replaced
    accounts: int
    version: int | None
    input_versions: dict[str, int]
    skipped: str | None = None              # why nothing was written (retry of a committed run)
    report: SeparationReport | None = None


def committed_run(rows: DataFrame, run_id: str) -> FeatureRun:
    """The run a committed run id wrote, from its rows in the feature table (a retry returns this)."""
    head = rows.select("snapshot_date", "input_versions").limit(1).collect()
    n = rows.count()
    if not head:
        log.warning("run %s committed a snapshot that a later run has since replaced", run_id)
        return FeatureRun(run_id, None, 0, None, {}, skipped="committed, since replaced")
    return FeatureRun(run_id, head[0]["snapshot_date"], n, None, dict(head[0]["input_versions"] or {}),
                      skipped="txn already committed")


def default_snapshot_date(interactions: DataFrame, posts: DataFrame) -> date:
    """The UTC day of the latest post or interaction."""
    row = interactions.select(F.max("created_at").alias("t")).unionByName(
        posts.select(F.max("created_at").alias("t"))).agg(F.max("t")).first()
    latest = row[0] if row is not None else None
    if latest is None:
        raise NoEventsError("no posts or interactions in the raw tables: ingest an export first "
                            "(`genuine ingest EXPORT_DIR`)")
    return latest.date()


def end_of_day(d: date) -> datetime:
    """A snapshot dated D sees everything up to the last microsecond of D, UTC."""
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(microseconds=1)


def cut(df: DataFrame, ts_col: str, as_of: datetime, keep_null: bool = False) -> DataFrame:
    """Rows at or before `as_of` (an aware datetime, so no local time zone can shift it)."""
    cond = F.col(ts_col) <= F.lit(as_of.astimezone(UTC))
    return df.where(cond | F.col(ts_col).isNull()) if keep_null else df.where(cond)


@dataclass
class Inputs:
    accounts: DataFrame
    posts: DataFrame
    interactions: DataFrame
    sessions: DataFrame
    reports: DataFrame
    labels: DataFrame
    post_scores: DataFrame   # post_id, account_id, p_ai
    # With both set (features.incremental), the behaviour family finishes these instead of the events.
    behaviour_totals: DataFrame | None = None
    behaviour_replies: DataFrame | None = None
    # With both set (features.incremental), the content family combines these instead of the texts.
    content_docs: DataFrame | None = None
    content_texts: DataFrame | None = None
    # With it set (features.incremental), the network family reads these co-action pairs instead of pairing.
    network_pairs: DataFrame | None = None
    # With both set (features.incremental), the change family combines these per-day rows instead of the events.
    change_sessions: DataFrame | None = None
    change_events: DataFrame | None = None


def cut_inputs(inp: Inputs, as_of: datetime) -> Inputs:
    """Every input restricted to rows at or before `as_of`: the only place the snapshot cuts time."""
    posts = cut(inp.posts, "created_at", as_of)
    return Inputs(
        accounts=cut(inp.accounts, "created_at", as_of, keep_null=True),   # unknown age: still scored
        posts=posts,
        interactions=cut(inp.interactions, "created_at", as_of),
        sessions=cut(inp.sessions, "started_at", as_of),
        reports=cut(inp.reports, "created_at", as_of),
        labels=cut(inp.labels, "decided_at", as_of),
        post_scores=inp.post_scores.join(posts.select("post_id"), "post_id", "left_semi"),
        # cut by behaviour_from_totals itself (the totals of as_of's day, first comments <= as_of)
        behaviour_totals=inp.behaviour_totals,
        behaviour_replies=inp.behaviour_replies,
        content_docs=inp.content_docs,       # cut by content_from_partials (days <= as_of's)
        content_texts=inp.content_texts,
        network_pairs=inp.network_pairs,     # cut by stored_pairs (days <= as_of's)
        change_sessions=inp.change_sessions,  # cut by change_from_partials (the window's days)
        change_events=inp.change_events,
    )


def family_frame(family: Family, inp: Inputs, as_of: datetime, cfgs: FamilyConfigs) -> DataFrame:
    """One family's features (account_id + its columns) on inputs already cut at `as_of`.

    The network family runs its iterative graph algorithms eagerly here (each step is a Spark job);
    the others return lazy plans.
    """
    if family == "behaviour" and inp.behaviour_totals is not None and inp.behaviour_replies is not None:
        return behaviour_from_totals(inp.accounts, inp.behaviour_totals, inp.behaviour_replies, as_of,
                                     cfgs.behaviour)
    if family == "behaviour":
        return behaviour_features(inp.accounts, inp.posts, inp.interactions, as_of, cfgs.behaviour)
    if family == "content" and inp.content_docs is not None and inp.content_texts is not None:
        return content_from_partials(inp.accounts, inp.posts, inp.post_scores, inp.content_docs, inp.content_texts,
                                     as_of, cfgs.content)
    if family == "content":
        return content_features(inp.accounts, inp.posts, inp.interactions, inp.post_scores, cfgs.content)
    if family == "network":
        pairs = stored_pairs(inp.network_pairs, as_of, cfgs.network) if inp.network_pairs is not None else None
        return network_features(inp.accounts, inp.interactions, inp.sessions, cfgs.network, labels=inp.labels,
                                as_of=as_of, pairs=pairs)
    if family == "reports":
        return report_features(inp.accounts, inp.reports, inp.labels, as_of, cfgs.reports)
    if family == "change" and inp.change_sessions is not None and inp.change_events is not None:
        return change_from_partials(inp.accounts, inp.change_sessions, inp.change_events, as_of, cfgs.change)
    if family == "change":
        return change_features(inp.accounts, inp.posts, inp.interactions, inp.sessions, as_of, cfgs.change)
    raise ValueError(f"unknown feature family {family!r}; known: {FAMILIES}")


def assemble(parts: list[DataFrame], snapshot_date: date, as_of: datetime,
             input_versions: dict[str, int], run_id: str) -> DataFrame:
    """Family frames joined on account_id, in FEATURE_TABLE's column order, with the snapshot's lineage."""
    joined = reduce(lambda a, b: a.join(b, "account_id", "left"), parts[1:], parts[0])
    versions = F.create_map(*[x for k, v in sorted(input_versions.items()) for x in (F.lit(k), F.lit(v).cast("long"))]) \
        if input_versions else F.lit(None).cast("map<string,bigint>")
    out = joined.select(
        "account_id", F.lit(snapshot_date).alias("snapshot_date"),
        F.lit(as_of).cast("timestamp").alias("as_of"),
        *[F.col(f.name) for f in ALL_FEATURES], versions.alias("input_versions"), F.lit(run_id).alias("run_id"))
    return out.select(*[F.col(f.name).cast(f.dataType) for f in FEATURE_TABLE.fields])


def build_snapshot(inp: Inputs, snapshot_date: date, cfgs: FamilyConfigs,
                   input_versions: dict[str, int], run_id: str) -> DataFrame:
    """One row per account existing at the end of `snapshot_date` (or of unknown creation time)."""
    as_of = end_of_day(snapshot_date)
    cut_inp = cut_inputs(inp, as_of)
    # Each family is computed on its own before the join: one plan over all five ran out of execution
    # memory in the 2 GB test driver once the raw reads carried their partition columns.
    local = cfgs.network.algorithms.local_checkpoints
    parts = []
    for family in FAMILIES:
        with timed(log, f"features: family {family}"):
            parts.append(materialize(family_frame(family, cut_inp, as_of, cfgs), local_checkpoints=local))
    return assemble(parts, snapshot_date, as_of, input_versions, run_id)
