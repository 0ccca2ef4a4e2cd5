"""One feature snapshot: every account's four families as of a point in time, in one DataFrame.

Point-in-time correctness lives here, once: every input is cut at `as_of` before any family sees it,
so no family can leak later events into training.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from features.behaviour import BehaviourConfig, behaviour_features
from features.catalog import ALL_FEATURES, FEATURE_TABLE
from features.content import ContentConfig, content_features
from features.network import NetworkConfig, network_features
from features.reports import ReportsConfig, report_features


@dataclass(frozen=True)
class FamilyConfigs:
    behaviour: BehaviourConfig
    content: ContentConfig
    network: NetworkConfig
    reports: ReportsConfig

    @classmethod
    def from_section(cls, section: dict) -> FamilyConfigs:
        return cls(BehaviourConfig.model_validate(section.get("behaviour", {})),
                   ContentConfig.model_validate(section.get("content", {})),
                   NetworkConfig.model_validate(section.get("network", {})),
                   ReportsConfig.model_validate(section.get("reports", {})))


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


def build_snapshot(inp: Inputs, snapshot_date: date, cfgs: FamilyConfigs,
                   input_versions: dict[str, int], run_id: str) -> DataFrame:
    as_of = end_of_day(snapshot_date)
    accounts = cut(inp.accounts, "created_at", as_of, keep_null=True)   # unknown age: still scored
    posts = cut(inp.posts, "created_at", as_of)
    interactions = cut(inp.interactions, "created_at", as_of)
    sessions = cut(inp.sessions, "started_at", as_of)
    reports = cut(inp.reports, "created_at", as_of)
    labels = cut(inp.labels, "decided_at", as_of)
    scores = inp.post_scores.join(posts.select("post_id"), "post_id", "left_semi")
    parts = [
        behaviour_features(accounts, posts, interactions, as_of, cfgs.behaviour),
        content_features(accounts, posts, interactions, scores, cfgs.content),
        network_features(accounts, interactions, sessions, cfgs.network),
        report_features(accounts, reports, labels, as_of, cfgs.reports),
    ]
    joined = reduce(lambda a, b: a.join(b, "account_id", "left"), parts[1:], parts[0])
    versions = F.create_map(*[x for k, v in sorted(input_versions.items()) for x in (F.lit(k), F.lit(v).cast("long"))]) \
        if input_versions else F.lit(None).cast("map<string,bigint>")
    out = joined.select(
        "account_id", F.lit(snapshot_date).alias("snapshot_date"),
        F.lit(as_of).cast("timestamp").alias("as_of"),
        *[F.col(f.name) for f in ALL_FEATURES], versions.alias("input_versions"), F.lit(run_id).alias("run_id"))
    return out.select(*[F.col(f.name).cast(f.dataType) for f in FEATURE_TABLE.fields])
