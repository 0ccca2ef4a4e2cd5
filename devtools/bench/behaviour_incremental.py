"""Behaviour family, full recomputation vs incremental, in one run on one simulated lake (not a test):

    python -m genuine.devtools.bench.behaviour_incremental --accounts 3000 --days 14 --out /tmp/bench-incr

Steps (each ends in a `noop` write of the family frame, like `genuine bench features`): `full` is
behaviour_features over the whole history at the last day; `backfill` writes the partial tables for every
day but the last; `new_day` writes the last day's partials and reply-ledger rows; `combine` builds the
same snapshot from the two tables. Prints a JSON line of figures (wall, CPU seconds of the JVM and the driver, load).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from genuine.core.config import load_config
from genuine.core.lake import Lake
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.devtools.bench.features import bench_features, step_figures
from genuine.devtools.bench.meter import ProcessMeter
from genuine.devtools.bench.scratch import scratch_config
from genuine.features.behaviour import behaviour_features
from genuine.features.behaviour_partials import behaviour_from_partials
from genuine.features.snapshot import FeaturesConfig, Inputs, cut_inputs, default_snapshot_date, end_of_day
from genuine.jobs.features import PARTIALS, REPLIES, update_behaviour_state

log = logging.getLogger(__name__)


def bench_behaviour_incremental(env: str, accounts: int, days: int, out: Path, seed: int) -> dict[str, Any]:
    cfg = load_config(env)
    # simulates and ingests (or reuses the lake of an earlier run in `out`) and starts the session
    bench_features(cfg, accounts, days, out, seed, steps=["behaviour"], reuse=True)
    cfg = scratch_config(cfg, out)
    spark = SparkSession.getActiveSession()
    assert spark is not None  # started by bench_features
    lake = Lake(spark, cfg)
    for table in (PARTIALS, REPLIES):
        shutil.rmtree(lake.uri(table), ignore_errors=True)
    frames = {e: lake.read(RAW_TABLE[e]) for e in RAW_SCHEMAS}
    bcfg = cfg.section("features", FeaturesConfig).behaviour
    day = default_snapshot_date(frames["interactions"], frames["posts"])
    as_of = end_of_day(day)
    cut = cut_inputs_for(frames, as_of)
    meter = ProcessMeter.for_spark(lake.spark)
    figures: dict[str, Any] = {"accounts": accounts, "days": days, "seed": seed, "snapshot_date": str(day),
                               "events": cut["posts"].count() + cut["interactions"].count(),
                               "load_avg_start": os.getloadavg()}

    def full() -> None:
        behaviour_features(cut["accounts"], cut["posts"], cut["interactions"], as_of, bcfg) \
            .write.format("noop").mode("overwrite").save()

    def backfill() -> None:
        update_behaviour_state(lake, frames["posts"], frames["interactions"], day - timedelta(days=1), bcfg)

    def new_day() -> None:
        update_behaviour_state(lake, frames["posts"], frames["interactions"], day, bcfg)

    def combine() -> None:
        behaviour_from_partials(cut["accounts"], lake.read(PARTIALS), lake.read(REPLIES), as_of, bcfg) \
            .write.format("noop").mode("overwrite").save()

    steps = (("full", full), ("backfill", backfill), ("new_day", new_day), ("combine", combine), ("full_again", full))
    for name, step in steps:
        figures[name] = step_figures(meter.measure(step))
        figures[name].pop("peaks_per_step", None)
    figures["partial_rows"] = lake.read(PARTIALS).count()
    figures["ledger_rows"] = lake.read(REPLIES).count()
    figures["load_avg_end"] = os.getloadavg()
    return figures


def cut_inputs_for(frames: dict[str, DataFrame], as_of: datetime) -> dict[str, DataFrame]:
    """Accounts, posts and interactions cut at as_of, as the snapshot cuts them."""
    inp = cut_inputs(Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                            frames["reports"], frames["labels"], frames["posts"].select("post_id", "account_id")),
                     as_of)
    return {"accounts": inp.accounts, "posts": inp.posts, "interactions": inp.interactions}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", default="local")
    p.add_argument("--accounts", type=int, default=3000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("bench-behaviour-incremental"))
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = bench_behaviour_incremental(a.env, a.accounts, a.days, a.out, a.seed)
    print(json.dumps(figures, default=str))  # noqa: T201


if __name__ == "__main__":
    main()
