"""The behaviour family's per-day partials in DuckDB: a single-node reference point beside Spark.

`duckdb_partials` is the SQL twin of `behaviour_day_partials` (features/behaviour_partials.py), run by
DuckDB straight over an export's Parquet files (the input contract: `created_at` in epoch milliseconds).
`bench_reference` times both engines on the same files, in this process, with the same number of
threads, and gives the ratio; `genuine bench daily` prints it. DuckDB is a `[dev]` dependency only: the
pipeline never runs it. tests/devtools/bench/test_reference.py checks that the two agree row for row, which
also makes DuckDB an independent oracle for the Spark aggregation.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from genuine.devtools.bench.meter import ProcessMeter, spark_cores
from genuine.features.behaviour import MIX_KINDS, BehaviourConfig
from genuine.features.behaviour_partials import (
    MICROS_PER_DAY,
    QUARTER_S,
    QUARTERS,
    behaviour_day_partials,
)

log = logging.getLogger(__name__)


def _sql_list(items: list[str]) -> str:
    return ", ".join("'" + s.replace("'", "''") + "'" for s in items)


def partials_sql(posts_glob: str, interactions_glob: str, cfg: BehaviourConfig) -> str:
    """One PARTIALS_SCHEMA row per (account, UTC day), as behaviour_day_partials computes it."""
    gap, prev = "(gap_us / 1000000.0)", "((lag1 - lag2) / 1000000.0)"
    # ln(x) / ln(base): the same two logarithms and division as Spark's log(base, x)
    # NULL without a gap: DuckDB's least() skips a NULL argument (so does Spark's, hence its own CASE)
    gap_bin = (f"CASE WHEN gap_us IS NOT NULL THEN least(floor(ln({gap} + 1.0) / ln({float(cfg.gap_log_base)})), "
               f"{cfg.gap_bins - 1}) END")
    tol = f"greatest({float(cfg.gap_tolerance_seconds)}, {float(cfg.gap_tolerance_relative)} * greatest({gap}, {prev}))"
    counts = ",\n  ".join(f"count(*) FILTER (WHERE kind = '{k}') AS n_kind_{k}" for k in MIX_KINDS)
    bins = ", ".join(f"count(*) FILTER (WHERE {gap_bin} = {b})" for b in range(cfg.gap_bins))
    quarters = ", ".join(f"count(*) FILTER (WHERE q = {q})" for q in range(QUARTERS))
    session = float(cfg.session_gap_seconds)
    return f"""
WITH ev AS (
  SELECT account_id, created_at * 1000 AS us, 'post' AS kind, client
  FROM read_parquet('{posts_glob}') WHERE account_id IS NOT NULL AND created_at IS NOT NULL
  UNION ALL
  SELECT actor_id, created_at * 1000, kind, CAST(NULL AS VARCHAR)
  FROM read_parquet('{interactions_glob}') WHERE actor_id IS NOT NULL AND created_at IS NOT NULL
), days AS (
  SELECT *, CAST(floor(us / {MICROS_PER_DAY}) AS INTEGER) AS day_n FROM ev
), w AS (
  SELECT *, lag(us) OVER w AS lag1, lag(us, 2) OVER w AS lag2, us - lag(us) OVER w AS gap_us,
         row_number() OVER w AS rn, lead(us) OVER w IS NULL AS is_last,
         (((us // 1000000) % 86400) + 86400) % 86400 // {QUARTER_S} AS q
  FROM days WINDOW w AS (PARTITION BY account_id, day_n ORDER BY us)
)
SELECT account_id,
  count(*) AS n_events,
  count(*) FILTER (WHERE kind = 'post') AS n_posts,
  count(*) FILTER (WHERE kind = 'post' AND client IN ({_sql_list(cfg.automation_clients) or "NULL"})) AS n_auto,
  count(*) FILTER (WHERE (((us // 1000000) % 60) + 60) % 60 = 0) AS n_zero_sec,
  {counts},
  CAST(coalesce(sum(gap_us), 0) AS BIGINT) AS gap_sum_us,
  CAST(coalesce(sum(CAST(gap_us AS HUGEINT) * gap_us), 0) AS DECIMAL(38, 0)) AS gap_sumsq_us,
  [{bins}] AS gap_bins,
  count(*) FILTER (WHERE {gap} > {session}) AS n_long_gaps,
  CAST(coalesce(sum(CASE WHEN {gap} <= {session} THEN gap_us ELSE 0 END), 0) AS BIGINT) AS session_span_us,
  count(lag2) AS n_pairs,
  count(*) FILTER (WHERE abs({gap} - {prev}) <= {tol}) AS n_regular,
  min(us) AS first_us,
  max(CASE WHEN rn = 2 THEN us END) AS second_us,
  max(CASE WHEN is_last THEN lag1 END) AS prev_last_us,
  max(us) AS last_us,
  [{quarters}] AS quarters,
  DATE '1970-01-01' + day_n AS event_date
FROM w GROUP BY account_id, day_n
"""


def duckdb_partials(export: Path, cfg: BehaviourConfig, threads: int = 2, into: str | None = None) -> pa.Table | None:
    """The partials of an export's posts and interactions, computed by DuckDB; with `into`, materialized in
    an in-memory table of that name (what the bench times) and None returned."""
    import duckdb  # [dev] only

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    sql = partials_sql(str(export / "posts" / "*.parquet"), str(export / "interactions" / "*.parquet"), cfg)
    if into is not None:
        con.execute(f"CREATE TABLE {into} AS {sql}")
        return None
    return con.sql(sql).to_arrow_table()


def export_events(spark: SparkSession, export: Path) -> tuple[DataFrame, DataFrame]:
    """An export's posts and interactions as Spark reads them, with `created_at` as a timestamp."""
    def read(entity: str) -> DataFrame:
        return spark.read.parquet(str(export / entity)).withColumn("created_at", F.timestamp_millis("created_at"))

    return read("posts"), read("interactions")


def bench_reference(spark: SparkSession, export: Path, cfg: BehaviourConfig,
                    meter: ProcessMeter | None = None) -> dict[str, Any]:
    """Wall and CPU seconds of the partials on Spark (ending in a `noop` write) and on DuckDB (materialized
    in memory) over the same files, with as many DuckDB threads as Spark has task slots."""
    meter = meter or ProcessMeter.for_spark(spark)
    posts, inter = export_events(spark, export)
    cores = spark_cores(spark)
    with meter.span() as s:
        behaviour_day_partials(posts, inter, cfg).write.format("noop").mode("overwrite").save()
    with meter.span() as d:
        duckdb_partials(export, cfg, threads=cores, into="partials")
    rows = posts.count() + inter.count()
    spark_cpu, duck_cpu = s.cpu_s_total, d.cpu_s_total
    out = {"events": rows, "threads": cores,
           "spark": {"wall_s": s.wall_s, "cpu_s": spark_cpu}, "duckdb": {"wall_s": d.wall_s, "cpu_s": duck_cpu},
           "spark_over_duckdb_wall": s.wall_s / d.wall_s if d.wall_s else None,
           "spark_over_duckdb_cpu": spark_cpu / duck_cpu if duck_cpu else None}
    log.info("behaviour partials, Spark vs DuckDB: %s", out)
    return out


__all__ = ["bench_reference", "duckdb_partials", "export_events", "partials_sql"]
