"""A family's full recomputation against its incremental path, in one run on one simulated lake (not a test):

    python -m genuine.devtools.bench.incremental --family content --accounts 3000 --days 14 --out /tmp/bench-incr

Families with per-day state: behaviour (features/behaviour_partials.py), content
(features/content_partials.py), network's co-action pairs (features/network_partials.py) and change
(features/change_partials.py). Steps (each ends
in a `noop` write of the family frame, like `genuine bench features`): `full` computes the family over the
whole history at the last day; `backfill` writes the state tables for every day but the last; `new_day` brings
them up to date with the last day; `combine` builds the same snapshot from the state tables. Prints a JSON
line of figures (wall, CPU seconds of the JVM and the driver, load, the state tables' rows).

`--growth 7,14,21,28` times instead the full path alone at each of those snapshot days (1 = the first
day), on the same lake and JVM: what a snapshot's cost follows as the history grows (`--set` changes the
configuration, e.g. `--set features.network.window_days=7`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from datetime import date, datetime, timedelta
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
from genuine.features.change import change_features
from genuine.features.change_partials import change_from_partials
from genuine.features.content import content_features
from genuine.features.content_partials import content_from_partials
from genuine.features.network import network_features
from genuine.features.network_partials import stored_pairs
from genuine.features.post_scores import no_scores
from genuine.features.snapshot import FeaturesConfig, Inputs, cut_inputs, default_snapshot_date, end_of_day
from genuine.features.state import (
    STATE_TABLES,
    TOTALS,
    update_behaviour_state,
    update_change_state,
    update_content_state,
    update_network_state,
)

log = logging.getLogger(__name__)


# the bench's behaviour combine reads every partial, not the totals
STATE = {family: tuple(t for t in tables if t != TOTALS) for family, tables in STATE_TABLES.items()}


def bench_incremental(env: str, family: str, accounts: int, days: int, out: Path, seed: int,
                      overrides: list[str] | None = None, growth: list[int] | None = None) -> dict[str, Any]:
    cfg = load_config(env, overrides)
    # simulates and ingests (or reuses the lake of an earlier run in `out`) and starts the session
    bench_features(cfg, accounts, days, out, seed, steps=[family], reuse=True)
    cfg = scratch_config(cfg, out)
    spark = SparkSession.getActiveSession()
    assert spark is not None  # started by bench_features
    lake = Lake(spark, cfg)
    for table in STATE[family]:
        shutil.rmtree(lake.uri(table), ignore_errors=True)
    frames = {e: lake.read(RAW_TABLE[e]) for e in RAW_SCHEMAS}
    fcfg = cfg.section("features", FeaturesConfig)
    last_day = default_snapshot_date(frames["interactions"], frames["posts"])
    meter = ProcessMeter.for_spark(lake.spark)
    if growth:
        first_day = last_day - timedelta(days=days - 1)
        return {"family": family, "accounts": accounts, "days": days, "seed": seed, "overrides": overrides,
                "load_avg_start": os.getloadavg(),
                **{f"full_day_{n}": _full_at(frames, family, first_day + timedelta(days=n - 1), fcfg, meter)
                   for n in growth},
                "load_avg_end": os.getloadavg()}
    day, as_of = last_day, end_of_day(last_day)
    cut = cut_inputs_for(frames, as_of)
    figures: dict[str, Any] = {"family": family, "accounts": accounts, "days": days, "seed": seed,
                               "snapshot_date": str(day),
                               "events": cut["posts"].count() + cut["interactions"].count(),
                               "load_avg_start": os.getloadavg()}
    posts, inter, sessions = frames["posts"], frames["interactions"], frames["sessions"]
    # no text detector in the bench: the AI-text part reads empty scores on both paths
    scores = no_scores(cut["posts"])

    def full() -> DataFrame:
        return full_frame(family, cut, as_of, fcfg, scores)

    def network(pairs: DataFrame | None) -> DataFrame:
        return network_features(cut["accounts"], cut["interactions"], cut["sessions"], fcfg.network,
                                labels=cut["labels"], as_of=as_of, pairs=pairs)

    def update(through: date) -> None:
        if family == "behaviour":
            update_behaviour_state(lake, posts, inter, through, fcfg.behaviour)
        elif family == "network":
            update_network_state(lake, inter, through, fcfg.network)
        elif family == "change":
            update_change_state(lake, posts, inter, sessions, through, fcfg.change)
        else:
            update_content_state(lake, posts, inter, through, fcfg.content)

    def combine() -> DataFrame:
        state = [lake.read(t) for t in STATE[family]]
        if family == "behaviour":
            return behaviour_from_partials(cut["accounts"], state[0], state[1], as_of, fcfg.behaviour)
        if family == "network":
            return network(stored_pairs(state[0], as_of, fcfg.network))
        if family == "change":
            return change_from_partials(cut["accounts"], state[0], state[1], as_of, fcfg.change)
        return content_from_partials(cut["accounts"], cut["posts"], scores, state[0], state[1], as_of, fcfg.content)

    def noop(df: DataFrame) -> None:
        df.write.format("noop").mode("overwrite").save()

    steps = (("full", lambda: noop(full())), ("backfill", lambda: update(day - timedelta(days=1))),
             ("new_day", lambda: update(day)), ("combine", lambda: noop(combine())),
             ("full_again", lambda: noop(full())))
    for name, step in steps:
        figures[name] = step_figures(meter.measure(step))
        figures[name].pop("peaks_per_step", None)
    figures["state_rows"] = {t: lake.read(t).count() for t in STATE[family]}
    figures["load_avg_end"] = os.getloadavg()
    return figures


def full_frame(family: str, cut: dict[str, DataFrame], as_of: datetime, fcfg: FeaturesConfig,
               scores: DataFrame) -> DataFrame:
    """The family computed over the events (the full path), on inputs cut at as_of."""
    if family == "behaviour":
        return behaviour_features(cut["accounts"], cut["posts"], cut["interactions"], as_of, fcfg.behaviour)
    if family == "network":
        return network_features(cut["accounts"], cut["interactions"], cut["sessions"], fcfg.network,
                                labels=cut["labels"], as_of=as_of)
    if family == "change":
        return change_features(cut["accounts"], cut["posts"], cut["interactions"], cut["sessions"], as_of, fcfg.change)
    return content_features(cut["accounts"], cut["posts"], cut["interactions"], scores, fcfg.content)


def _full_at(frames: dict[str, DataFrame], family: str, day: date, fcfg: FeaturesConfig,
             meter: ProcessMeter) -> dict[str, Any]:
    """The family's full path at the snapshot of `day`, timed, with the events up to it."""
    as_of = end_of_day(day)
    cut = cut_inputs_for(frames, as_of)
    frame = lambda: full_frame(family, cut, as_of, fcfg, no_scores(cut["posts"]))  # noqa: E731
    figures = step_figures(meter.measure(lambda: frame().write.format("noop").mode("overwrite").save()))
    figures.pop("peaks_per_step", None)
    return {"snapshot_date": str(day), "events": cut["posts"].count() + cut["interactions"].count(), **figures}


def cut_inputs_for(frames: dict[str, DataFrame], as_of: datetime) -> dict[str, DataFrame]:
    """Accounts, posts, interactions, sessions and labels cut at as_of, as the snapshot cuts them."""
    inp = cut_inputs(Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                            frames["reports"], frames["labels"], frames["posts"].select("post_id", "account_id")),
                     as_of)
    return {"accounts": inp.accounts, "posts": inp.posts, "interactions": inp.interactions,
            "sessions": inp.sessions, "labels": inp.labels}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", default="local")
    p.add_argument("--family", choices=sorted(STATE), default="behaviour")
    p.add_argument("--accounts", type=int, default=3000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("bench-incremental"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="configuration override (repeatable)")
    p.add_argument("--growth", default="", help="comma-separated snapshot days: time the full path at each")
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    growth = [int(n) for n in a.growth.split(",") if n.strip()]
    figures = bench_incremental(a.env, a.family, a.accounts, a.days, a.out, a.seed, a.overrides, growth)
    print(json.dumps(figures, default=str))  # noqa: T201


if __name__ == "__main__":
    main()
