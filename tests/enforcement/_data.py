"""Small hand-made inputs for the enforcement tests."""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql.types import DoubleType, StructField, StructType

from genuine.core.schemas import ACCOUNT_STATUS, RAW_ACCOUNTS, RAW_POSTS
from genuine.enforcement.config import EnforcementConfig, enforcement_config
from genuine.enforcement.schemas import CLUSTERS, REACH, SCORE_INPUT

SNAP = date(2026, 10, 5)
RUN = "score-run-1"
SCORED_AT = datetime(2026, 10, 6, 1, 0, 0)
NOW = datetime(2026, 10, 6, 2, 0, 0)


def reason(family: str, pct: float | None, feature: str | None = None) -> tuple:
    """A scores.reasons entry; pct is human_percentile on the scorer's 0-100 scale."""
    feature = feature or f"{family}_signal"
    return (family, feature, 0.5, pct, 0.2, f"{feature} at the {pct} human percentile")


def score_row(account_id: str, score: float, band: str, reasons: list[tuple], run: str = RUN) -> tuple:
    return (account_id, SNAP, score, band, "genuine-account-model", "3", "mlrun-1", 7, run, reasons, SCORED_AT)


def scores_df(spark, rows):
    return spark.createDataFrame(rows, SCORE_INPUT)


def account_row(account_id: str, verified: bool | None = False, declared: bool | None = False) -> tuple:
    return (account_id, datetime(2025, 1, 1), "nick", "bio", verified, declared, "CN", "ingest-1", "f.jsonl")


def accounts_df(spark, rows):
    return spark.createDataFrame(rows, RAW_ACCOUNTS)


def status_row(account_id: str, status: str, active: list[str], since: datetime = datetime(2026, 10, 1),
               source: str = "policy", ref: str = "old-run") -> tuple:
    return (account_id, status, active, since, active[-1] if active else None, None, source,
            "auto" if source == "policy" else "mod-x", ref, "old-run", "old-job", since)


def status_df(spark, rows):
    return spark.createDataFrame(rows, ACCOUNT_STATUS)


def post_row(post_id: str, account_id: str, created_at: datetime | None, title: str | None, body: str | None) -> tuple:
    return (post_id, account_id, created_at, title, body, "ios", [], [], False, "ingest-1", "posts.jsonl")


def posts_df(spark, rows):
    return spark.createDataFrame(rows, RAW_POSTS)


def clusters_df(spark, rows):
    return spark.createDataFrame(rows, CLUSTERS)


def reach_df(spark, rows):
    return spark.createDataFrame(rows, REACH)


def with_breaker(cfg, **changes) -> EnforcementConfig:
    e = enforcement_config(cfg)
    return e.model_copy(update={"breaker": e.breaker.model_copy(update=changes)})


def with_policy(cfg, **changes) -> EnforcementConfig:
    e = enforcement_config(cfg)
    return e.model_copy(update={"policy": e.policy.model_copy(update=changes)})


def with_queue(cfg, **changes) -> EnforcementConfig:
    e = enforcement_config(cfg)
    return e.model_copy(update={"queue": e.queue.model_copy(update=changes)})


def scores_with_novelty(spark, rows: list[tuple], novelty: dict[str, float | None]):
    """scores_df plus a novelty column (what models/scoring writes), by account_id."""
    schema = StructType([*SCORE_INPUT.fields, StructField("novelty", DoubleType(), True)])
    return spark.createDataFrame([(*r, novelty.get(r[0])) for r in rows], schema)
