"""Report features: how often an account is reported, and by how trustworthy reporters.

Raw report counts are easy to game (brigading) and punish popular accounts; weighting each reporter by how
often moderators upheld its earlier reports keeps the signal of reliable reporters. Reliability is
point-in-time: only reports created and moderator decisions taken at or before the snapshot count, and a
Beta prior gives new reporters the prior mean instead of a made-up 0 or 1.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import Field
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from genuine.core.config import Strict
from genuine.features.registry import Family, Feature, count
from genuine.lib.days import epoch_micros
from genuine.lib.ordered import ordered_avg, ordered_sum

log = logging.getLogger(__name__)

FAMILY: Family = "reports"


class ReportsConfig(Strict):
    """`features.reports` in conf/base.yml."""

    prior_upheld: float = Field(1.0, gt=0.0, description="Beta prior a: pseudo-count of upheld reports")
    prior_rejected: float = Field(1.0, gt=0.0, description="Beta prior b: pseudo-count of rejected reports")
    upheld_label: str = "ai_managed"
    rejected_label: str = "human"
    # Label sources that count as a moderator decision; None: every source in the labels table.
    decision_sources: list[str] | None = None
    # Leave the scored account's own decision out of its reporters' reliability: otherwise a training
    # snapshot taken at the label's decision time would carry that very label into the feature.
    leave_target_out: bool = True

    @property
    def prior_mean(self) -> float:
        return self.prior_upheld / (self.prior_upheld + self.prior_rejected)


FEATURES: list[Feature] = [
    count("reports_received", FAMILY, "reports filed against the account up to the snapshot"),
    count("reporters_distinct", FAMILY, "distinct accounts that reported it", unit="accounts"),
    Feature("report_score", FAMILY, "reliability-weighted reporters",
            "sum over its distinct reporters of their reliability (share of their earlier decided reports "
            "that moderators upheld, Beta-smoothed); 0 when never reported"),
    Feature("reporter_reliability_mean", FAMILY, "share 0-1",
            "mean reliability of the account's distinct reporters (NULL when never reported)"),
]

REPORTS_SCHEMA = StructType(
    [StructField("account_id", StringType(), True)] + [StructField(f.name, f.dtype, True) for f in FEATURES]
)
RELIABILITY_SCHEMA = StructType([
    StructField("reporter_id", StringType(), True),
    StructField("reports_decided", LongType(), True),
    StructField("reports_upheld", LongType(), True),
    StructField("reliability", DoubleType(), True),
])


def _at_or_before(ts: str, as_of: datetime) -> Column:
    return F.unix_micros(ts) <= F.lit(epoch_micros(as_of))


def decisions_as_of(labels: DataFrame, as_of: datetime, cfg: ReportsConfig) -> DataFrame:
    """The moderator verdict on each account as of the snapshot: its latest decision at or before it.

    Two decisions at the same instant resolve to the rejection (human), the cautious reading.
    """
    lab = labels.where(_at_or_before("decided_at", as_of)
                       & F.col("label").isin(cfg.upheld_label, cfg.rejected_label)
                       & F.col("account_id").isNotNull())
    if cfg.decision_sources is not None:
        lab = lab.where(F.col("source").isin(cfg.decision_sources))
    # Rejected sorts first so that max() picks it on a tie of decided_at.
    rank = F.when(F.col("label") == cfg.upheld_label, 0).otherwise(1)
    latest = F.max(F.struct(F.col("decided_at"), rank.alias("rank"), F.col("label")))
    return lab.groupBy("account_id").agg(latest["label"].alias("verdict"))


def _reporter_pairs(reports: DataFrame, labels: DataFrame, as_of: datetime, cfg: ReportsConfig) -> DataFrame:
    """One row per (reporter, reported account) with whether that report was decided and upheld.

    Reporting the same account twice is one judgement, so repeats cannot inflate a reliability.
    """
    pairs = (reports.where(_at_or_before("created_at", as_of)
                           & F.col("reporter_id").isNotNull() & F.col("reported_account_id").isNotNull())
             .select("reporter_id", F.col("reported_account_id").alias("account_id")).distinct())
    verdict = decisions_as_of(labels, as_of, cfg)
    return pairs.join(verdict, "account_id", "left").select(
        "reporter_id", "account_id",
        F.col("verdict").isNotNull().cast("long").alias("decided"),
        (F.col("verdict") == cfg.upheld_label).cast("long").alias("upheld"),
    ).fillna(0, subset=["upheld"])


def _smoothed(upheld: Column, decided: Column, cfg: ReportsConfig) -> Column:
    return (upheld + F.lit(cfg.prior_upheld)) / (decided + F.lit(cfg.prior_upheld + cfg.prior_rejected))


def reporter_reliability(reports: DataFrame, labels: DataFrame, as_of: datetime, cfg: ReportsConfig) -> DataFrame:
    """Per reporter: decided and upheld reports (distinct reported accounts) and smoothed reliability."""
    pairs = _reporter_pairs(reports, labels, as_of, cfg)
    out = pairs.groupBy("reporter_id").agg(F.sum("decided").alias("reports_decided"),
                                           F.sum("upheld").alias("reports_upheld"))
    return out.select(*[(_smoothed(F.col("reports_upheld"), F.col("reports_decided"), cfg) if f.name == "reliability"
                         else F.col(f.name)).cast(f.dataType).alias(f.name) for f in RELIABILITY_SCHEMA])


def report_features(accounts: DataFrame, reports: DataFrame, labels: DataFrame, as_of: datetime,
                    cfg: ReportsConfig) -> DataFrame:
    """One row per account of `accounts` with REPORTS_SCHEMA's columns, as of `as_of`."""
    rep = reports.where(_at_or_before("created_at", as_of) & F.col("reported_account_id").isNotNull())
    received = rep.groupBy(F.col("reported_account_id").alias("account_id")).agg(
        F.count(F.lit(1)).alias("reports_received"),
        F.countDistinct("reporter_id").alias("reporters_distinct"),
    )
    pairs = _reporter_pairs(reports, labels, as_of, cfg)
    totals = pairs.groupBy("reporter_id").agg(F.sum("decided").alias("tot_decided"),
                                              F.sum("upheld").alias("tot_upheld"))
    per_pair = pairs.join(totals, "reporter_id")
    if cfg.leave_target_out:
        rel = _smoothed(F.col("tot_upheld") - F.col("upheld"), F.col("tot_decided") - F.col("decided"), cfg)
    else:
        rel = _smoothed(F.col("tot_upheld"), F.col("tot_decided"), cfg)
    weighted = per_pair.groupBy("account_id").agg(ordered_sum(rel).alias("report_score"),
                                                  ordered_avg(rel).alias("reporter_reliability_mean"))
    out = (accounts.select("account_id")
           .join(received, "account_id", "left")
           .join(weighted, "account_id", "left"))
    # Never reported: counts and score are 0 (not unknown); the mean stays NULL. when() rather than
    # coalesce() keeps the columns nullable as declared (Delta would make them NOT NULL otherwise).
    zero = {"reports_received": 0, "reporters_distinct": 0, "report_score": 0.0}
    return out.select("account_id", *[
        (F.when(F.col(f.name).isNull(), F.lit(zero[f.name])).otherwise(F.col(f.name)) if f.name in zero
         else F.col(f.name)).cast(f.dtype).alias(f.name) for f in FEATURES])
