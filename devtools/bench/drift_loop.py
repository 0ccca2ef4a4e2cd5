"""`genuine bench drift-loop`: the monitoring and retraining loop on a platform whose AI strategies shift.

On a simulated platform with `simulate.shift` (a new strategy starts acting at the shift, a ticker
strategy changes its timing; docs/simulator.md), with the real jobs on one Spark session:
a. ingest what the platform knew before the shift (every event; the labels decided before it), take
   the snapshots before the shift (every `snapshot_every` days) and train the champion (`genuine train`);
b. ingest the rest (the labels decided since), take the snapshots after the shift (the same grid and the
   last day), score the last day with the stale champion and run `genuine monitor` on that scoring run:
   its exit status and the features that moved;
c. the stale champion's recall on the new and the retimed strategy, from the truth, at the score that
   flags 0.5 % of the humans (bench/exploration.py `recall_at_human_fpr`);
d. `genuine enforce` builds the review queue and the demo's simulated moderators decide its top
   (devtools/demo.py `moderator_round`, through `genuine review import` and `genuine appeal import`);
e. `genuine retrain`: the gates decide;
f. the last snapshot scored again by whatever is champion then, and the same recall.

Recall is given over all accounts of the strategy and over those without any label when retraining ran
(the new champion trained on the labelled ones). The simulated window ends yesterday (start_date is
moved), because moderator decisions carry the wall-clock time and retraining's shared holdout is the
`retrain.holdout_days` up to the newest label.

Two things the loop needs that a one-off run does not (each measured to break it without; docs/model.md
section 14): snapshots through the window, because a label joins the latest snapshot at or before its
decision, and with none between the shift and the last day every label decided after the shift carried
the features of the day before it (the new strategy's accounts: no activity at all); and a holdout that
is the last part of the labels since the champion, not all of them, because the challenger trains on
everything but the holdout: with the default 14 days every label since the shift was holdout and the
challenger learned nothing new (`holdout_days`, default a third of the days after the shift).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.lake import Lake
from genuine.core.session import get_spark
from genuine.devtools import simulate
from genuine.devtools.bench.exploration import HUMAN_FPR, recall_at_human_fpr
from genuine.devtools.bench.meter import ProcessMeter, Reading
from genuine.devtools.demo import ensure_text_detector, moderator_round
from genuine.jobs import enforce, features, ingest, monitor, retrain, score, train
from genuine.models.config import ModelConfig
from genuine.models.labels import read_truth

log = logging.getLogger(__name__)

ENTITIES = ("accounts", "posts", "interactions", "sessions", "reports")


@dataclass
class LoopResult:
    """What the loop measured; `steps` holds wall and CPU seconds per step."""

    accounts: int
    days: int
    seed: int
    start_date: date
    shift_day: date                                  # first day after the shift
    strategies: list[str]                            # the new and the retimed strategy
    monitor_exit: int | None = None
    moved: list[str] = field(default_factory=list)   # features past a drift threshold
    alert: str | None = None
    recall_before: dict[str, dict[str, float]] = field(default_factory=dict)   # strategy -> figures
    recall_after: dict[str, dict[str, float]] = field(default_factory=dict)
    moderators: dict[str, int] = field(default_factory=dict)
    labels_of_strategy: dict[str, dict[str, int]] = field(default_factory=dict)
    retrain_exit: int | None = None
    retrain_holdout: str = ""
    retrain_reasons: list[str] = field(default_factory=list)
    champion_before: str | None = None
    champion_forced: bool = False                    # the first-half model failed its gates: put in place by force
    champion_after: str | None = None
    snapshots: list[date] = field(default_factory=list)
    holdout_days: int | None = None                  # model.retrain.holdout_days the loop ran with
    text_detector: bool = False                      # AI-text features computed (a registered detector)
    steps: dict[str, Reading] = field(default_factory=dict)


def snapshot_days(start: date, days: int, every: int) -> list[date]:
    """Snapshot dates of the loop: every `every` days from the second day, and the last day. A label joins
    the latest snapshot at or before its decision, so the grid bounds how stale its features are."""
    if every < 1:
        raise ValueError(f"snapshot_every must be >= 1, got {every}")
    return [start + timedelta(days=d) for d in sorted({*range(1, days - 1, every), days - 1})]


def default_holdout_days(days: int, at_day: float) -> int:
    """A third of the days after the shift (at least 1): the challenger trains on the labels before
    that, the new strategy's included, and is judged with the champion on the rest."""
    return max(1, math.ceil((days - at_day) / 3))


def with_holdout_days(cfg: Config, holdout_days: int) -> Config:
    """`cfg` with model.retrain.holdout_days set (the model section is validated where it is read)."""
    model = dict(cfg.model)
    model["retrain"] = {**dict(model.get("retrain") or {}), "holdout_days": holdout_days}
    return cfg.model_copy(update={"model": model})


def first_half_export(export: Path, out: Path, until_ms: int) -> Path:
    """The export as the platform had it before the shift: every event file (snapshots cut by time
    themselves), the labels decided before `until_ms`. Links, not copies, for the events."""
    out.mkdir(parents=True, exist_ok=True)
    for entity in ENTITIES:
        link = out / entity
        if not link.exists():
            link.symlink_to((export / entity).resolve(), target_is_directory=True)
    (out / "labels").mkdir(exist_ok=True)
    labels = pq.read_table(export / "labels")
    mask = np.asarray(labels.column("decided_at").to_numpy(zero_copy_only=False)) < until_ms
    pq.write_table(labels.filter(mask), out / "labels" / "part-00000.parquet")
    return out


def strategy_recall(scores: pd.DataFrame, truth: pd.DataFrame, strategy: str,
                    labelled: set[str] | None = None) -> dict[str, float]:
    """Recall of `strategy` at the score that flags HUMAN_FPR of the humans; also over its unlabelled
    accounts only (those no model trained on)."""
    df = scores.merge(truth[["account_id", "population", "strategy"]], on="account_id")
    s = df["score"].to_numpy()
    human = (df["population"] != "ai").to_numpy()
    target = (df["strategy"] == strategy).to_numpy()
    fresh = ~df["account_id"].isin(labelled or set()).to_numpy()
    return {"recall": recall_at_human_fpr(s, target, human), "n": int(target.sum()),
            "recall_unlabelled": recall_at_human_fpr(s, target & fresh, human), "n_unlabelled": int((target & fresh).sum())}


def _labelled(lake: Lake) -> tuple[set[str], set[str]]:
    """Accounts with an imported label, and accounts with an applied moderator or appeal decision."""
    raw = {r[0] for r in lake.read("raw_labels").select("account_id").distinct().collect()}
    dec = {r[0] for r in lake.read("decisions").where(F.col("applied")).select("account_id").distinct().collect()}
    return raw, dec


def _scores(lake: Lake, scoring_run_id: str) -> pd.DataFrame:
    return (lake.read("scores").where(F.col("scoring_run_id") == scoring_run_id)
            .select("account_id", "score").toPandas())


def run(cfg: Config, accounts: int, days: int, seed: int, out: Path,
        spark_factory: Callable[[Config], SparkSession] = get_spark, *, snapshot_every: int = 2,
        holdout_days: int | None = None, text_detector: bool = False) -> LoopResult:
    """The whole loop (module docstring). `cfg.simulate.shift` gives the shift; it is switched on here.
    `holdout_days` None: default_holdout_days. `text_detector`: train and register one first if none is
    (devtools/demo.py ensure_text_detector), so the AI-text features are computed."""
    shift_cfg = cfg.simulate.shift.model_copy(update={"enabled": True})
    if not 0 < shift_cfg.at_day < days - 1:
        raise ValueError(f"simulate.shift.at_day ({shift_cfg.at_day}) must leave a day on each side of the "
                         f"shift in a window of {days} days")
    start = datetime.now(UTC).date() - timedelta(days=days)
    cfg = cfg.model_copy(update={"simulate": cfg.simulate.model_copy(update={
        "shift": shift_cfg, "start_date": start.isoformat(), "label_fraction": cfg.demo.label_fraction})})
    shift_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000
                   + shift_cfg.at_day * 86_400_000)
    shift_day = start + timedelta(days=int(np.ceil(shift_cfg.at_day)))
    strategies = [s for s in (shift_cfg.new_strategy, shift_cfg.retimed_strategy) if s]
    res = LoopResult(accounts, days, seed, start, shift_day, strategies)
    res.holdout_days = holdout_days or default_holdout_days(days, shift_cfg.at_day)
    cfg = with_holdout_days(cfg, res.holdout_days)
    res.snapshots = snapshot_days(start, days, snapshot_every)
    export, truth_path = out / "export", out / "export" / "_truth" / "accounts.parquet"

    meter = ProcessMeter()      # the simulator forks workers: it runs before the JVM starts
    with meter.span() as r:
        simulate.run(cfg, accounts, days, seed, export)
    res.steps["simulate"] = r
    spark = spark_factory(cfg)
    meter = ProcessMeter.for_spark(spark)
    if text_detector:      # its job takes the active session (getOrCreate)
        with meter.span() as r:
            res.text_detector = ensure_text_detector(cfg) is not None
        res.steps["text detector"] = r
    lake = Lake(spark, cfg)
    mcfg = cfg.section("model", ModelConfig)
    truth = read_truth(truth_path, mcfg.protected_strategies)

    def step(name: str, fn: Callable[[], Any]) -> Any:
        with meter.span() as reading:
            value = fn()
        res.steps[name] = reading
        log.info("drift loop %s: %.1f s wall, %.1f s CPU", name, reading.wall_s, reading.cpu_s_total)
        return value

    # a. the champion, from what the platform knew before the shift
    first = first_half_export(export, out / "export-before-shift", shift_ms)
    step("a. ingest before the shift", lambda: ingest.run(cfg, first, spark=spark))
    # before the shift: snapshots whose day ends by the shift instant (nothing after it in their features)
    pre = [d for d in res.snapshots if d < start + timedelta(days=math.floor(shift_cfg.at_day))]
    post = [d for d in res.snapshots if d not in pre]
    if not pre:
        raise ValueError(f"no snapshot before the shift on day {shift_cfg.at_day} (snapshots {res.snapshots}): "
                         "a smaller snapshot_every or a later shift")
    step("a. snapshots before the shift", lambda: [features.run(cfg, as_of=d, spark=spark) for d in pre])
    trained = step("a. train the champion", lambda: train.run(cfg, truth=truth_path, spark=spark))
    if not trained.decision.promoted:
        # The loop needs a champion to go stale; a small first half may not pass the first champion's
        # gates. The documented, logged override (`genuine promote --force`) puts it in place; retraining's
        # gates are never forced.
        log.warning("the first-half model v%s did not pass the gates (%s): promoted with --force for the loop",
                    trained.decision.challenger_version, "; ".join(trained.decision.reasons))
        train.promote_version(cfg, trained.decision.challenger_version, force=True)
        res.champion_forced = True
    res.champion_before = trained.decision.challenger_version

    # b. after the shift: the rest of the labels, the last day's snapshot, scored by the stale champion
    step("b. ingest after the shift", lambda: ingest.run(cfg, export, spark=spark))
    last = res.snapshots[-1]
    step("b. snapshots after the shift", lambda: [features.run(cfg, as_of=d, spark=spark) for d in post])
    stale = step("b. score (stale champion)", lambda: score.run(cfg, snapshot=last, spark=spark))
    mon = step("b. monitor", lambda: monitor.run(cfg, stale.run_id, spark=spark))
    res.monitor_exit, res.alert = mon.exit_status, mon.alert
    res.moved = sorted(mon.features.loc[mon.features["moved"].map(bool), "feature"]) if len(mon.features) else []

    # c. the stale champion's recall
    stale_scores = _scores(lake, stale.run_id)
    res.recall_before = {s: strategy_recall(stale_scores, truth, s) for s in strategies}

    # d. the review queue and the moderators' round on its top
    step("d. enforce (review queue)", lambda: enforce.run(cfg, stale.run_id, spark=spark))
    rnd = step("d. moderators", lambda: moderator_round(cfg, spark, truth_path, out / "decisions"))
    res.moderators = {"decided": rnd.decided, "wrong": rnd.wrong,
                      "applied": rnd.review.applied if rnd.review else 0, "appeals_filed": len(rnd.appeals_filed)}

    # e. retrain: the gates decide
    raw, decided = _labelled(lake)
    target_of = truth.set_index("account_id")["strategy"]
    for s in strategies:
        res.labels_of_strategy[s] = {"imported": int(sum(target_of.get(a) == s for a in raw)),
                                     "moderators": int(sum(target_of.get(a) == s for a in decided))}
    rt = step("e. retrain", lambda: retrain.run(cfg, truth=truth_path, spark=spark))
    assert rt.holdout is not None          # retrained unconditionally (no --if-drift)
    res.retrain_exit, res.retrain_holdout = rt.exit_status, rt.holdout.describe()
    hold = set(rt.holdout.account_ids)
    for s in strategies:     # the strategy's labelled accounts the challenger could train on, and judged on
        of_s = {a for a in raw | decided if target_of.get(a) == s}
        res.labels_of_strategy[s].update({"holdout": len(of_s & hold), "trainable": len(of_s - hold)})
    if rt.trained is not None:
        res.retrain_reasons = list(rt.trained.decision.reasons)
        res.champion_after = rt.trained.decision.champion_after
    else:
        res.champion_after = res.champion_before

    # f. the same snapshot scored by the champion now in place
    # (the same champion: the scoring run of that snapshot and version is already committed, and a re-run
    # writes nothing, so its scores are the stale run's)
    now = step("f. score (champion after retrain)", lambda: score.run(cfg, snapshot=last, spark=spark))
    after_scores = _scores(lake, now.run_id) if now.rows else stale_scores
    labelled = raw | decided
    res.recall_after = {s: strategy_recall(after_scores, truth, s, labelled) for s in strategies}
    # the stale champion's figure over the same unlabelled accounts, for a like-for-like comparison
    res.recall_before = {s: strategy_recall(stale_scores, truth, s, labelled) for s in strategies}
    for row in table_rows(res):
        log.info("drift loop figure: %s | %s | %s", *row)
    log.info("drift loop: monitor exit %s, retrain exit %s, moderators %s; snapshots %s, holdout_days %s",
             res.monitor_exit, res.retrain_exit, res.moderators, ", ".join(map(str, res.snapshots)), res.holdout_days)
    return res


def table_rows(res: LoopResult) -> list[tuple[str, str, str]]:
    """(figure, before, after) rows of the loop's report."""
    forced = " (forced)" if res.champion_forced else ""
    rows = [("champion version", f"{res.champion_before}{forced}", str(res.champion_after))]
    for s in res.strategies:
        b, a = res.recall_before[s], res.recall_after[s]
        rows.append((f"recall {s} @ {HUMAN_FPR:.1%} human FPR (n={b['n']})", f"{b['recall']:.3f}", f"{a['recall']:.3f}"))
        rows.append((f"  its unlabelled accounts (n={b['n_unlabelled']})", f"{b['recall_unlabelled']:.3f}",
                     f"{a['recall_unlabelled']:.3f}"))
        lab = res.labels_of_strategy.get(s, {})
        rows.append(("  labelled accounts of it: imported / moderators", "",
                     f"{lab.get('imported', 0)} / {lab.get('moderators', 0)}"))
        rows.append(("  of those: retrain's training part / its holdout", "",
                     f"{lab.get('trainable', 0)} / {lab.get('holdout', 0)}"))
    return rows
