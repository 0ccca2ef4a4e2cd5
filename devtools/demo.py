"""The embedded demo: simulate a platform, then run the whole pipeline on local Spark, Delta and MLflow.

simulate -> (text detector, once) -> ingest -> features -> train -> score -> enforce -> run report ->
one round of moderator work and appeals. Each step is the same job a scheduler runs (the moderators'
decisions go through `genuine review import` / `genuine appeal import`); the demo only chains them, says
where things landed and which command opens the console on them.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.console.data import Reader
from genuine.core.config import Config, load_config
from genuine.core.lake import Lake
from genuine.core.session import get_spark
from genuine.devtools import simulate
from genuine.devtools.bench.meter import ProcessMeter
from genuine.enforcement.import_run import ImportRun
from genuine.features.post_scores import text_model_uri
from genuine.jobs import appeal, enforce, features, ingest, report, review, score, train, train_text_detector
from genuine.jobs.common import base_parser, config_from
from genuine.models.config import ModelConfig, text_detector_config
from genuine.models.text_corpus import resolve_corpus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepTime:
    wall_s: float
    cpu_s: float        # this process and the JVM, each with its Python workers and reaped children


@dataclass
class DemoResult:
    export_dir: Path
    steps: dict[str, Any] = field(default_factory=dict)
    times: dict[str, StepTime] = field(default_factory=dict)
    engine: str | None = None       # the Delta engine the lake ran on (delta-spark or delta-rs)

    def timed(self, name: str, meter: ProcessMeter, step: Callable[[], Any]) -> Any:
        """Run one step, keep its result under `name` and its wall and CPU time: the demo on delta-spark and
        on delta-rs (`--set lake.engine=delta-rs`) print these side by side in docs/stack-facts.md."""
        with meter.span() as reading:
            self.steps[name] = step()
        self.times[name] = StepTime(reading.wall_s, reading.cpu_s_total)
        return self.steps[name]

    @property
    def truth(self) -> Path:
        return self.export_dir / "_truth" / "accounts.parquet"


def ensure_text_detector(cfg: Config) -> Any:
    """Train and register the AI-text detector once, from the configured corpus, if none is registered.

    Without a corpus (a fresh machine without the development data) the demo goes on: the AI-text
    features are then null, which the feature job logs, and the other content signals still count.
    """
    if (model := text_model_uri(cfg)) is not None:
        log.info("text detector %s version %s is registered: reusing it", cfg.mlflow.text_model, model[1])
        return {"reused_version": model[1]}
    params = text_detector_config(cfg)
    files = resolve_corpus(params.corpus)
    if not files:
        log.warning("no text-detector corpus (text_detector.corpus=%s): AI-text features stay null", params.corpus)
        return None
    return train_text_detector.run(cfg, files)


def training_snapshot_dates(cfg: Config, days: int) -> list[date]:
    """Earlier snapshot dates inside the simulated window (the last day's snapshot is always taken)."""
    start = date.fromisoformat(cfg.simulate.start_date)
    return [start + timedelta(days=d) for d in sorted(set(cfg.demo.training_snapshot_days)) if 0 < d < days - 1]


def run(cfg: Config, accounts: int | None = None, days: int | None = None, seed: int | None = None,
        out: str | Path | None = None) -> DemoResult:
    d = cfg.demo
    accounts, days, seed = accounts or d.accounts, days or d.days, d.seed if seed is None else seed
    result = DemoResult(Path(out or d.out))
    # The simulator forks worker processes for big runs: it goes before the JVM starts.
    sim_cfg = cfg.model_copy(update={"simulate": cfg.simulate.model_copy(update={"label_fraction": d.label_fraction})})
    alone = ProcessMeter()
    result.timed("simulate", alone, lambda: simulate.run(sim_cfg, accounts, days, seed, result.export_dir))
    result.timed("text_detector", alone, lambda: ensure_text_detector(cfg))
    spark = result.timed("spark_session", alone, lambda: get_spark(cfg))
    result.engine = Lake(spark, cfg).engine.name
    meter = ProcessMeter.for_spark(spark)
    result.timed("ingest", meter, lambda: ingest.run(cfg, result.export_dir, spark=spark))
    # A scheduler takes a snapshot every day; the demo takes a few, so that labels decided during the
    # window find a snapshot from before their decision (training is point in time).
    result.timed("training_snapshots", meter, lambda: [features.run(cfg, as_of=day, spark=spark)
                                                       for day in training_snapshot_dates(cfg, days)])
    result.timed("features", meter, lambda: features.run(cfg, truth=result.truth, spark=spark))
    result.timed("train", meter, lambda: train.run(cfg, truth=result.truth, spark=spark))
    result.timed("score", meter, lambda: score.run(cfg, spark=spark))
    # The newest scoring run: the one just made.
    result.timed("enforce", meter, lambda: enforce.run(cfg, spark=spark))
    result.timed("report", meter, lambda: run_report(cfg, spark, result))
    # After the report: it describes what the model and the policy did, before any human.
    result.timed("moderators", meter, lambda: moderator_round(cfg, spark, result.truth,
                                                               result.export_dir.parent / "demo-decisions"))
    return result


@dataclass
class ModeratorRound:
    """One simulated round of human work: decisions on the top of the queue, appeals filed and decided."""

    decided: int                     # queue items decided (from the top)
    wrong: int                       # of those, decisions that contradict the simulator's truth
    review: ImportRun | None
    appeals_filed: list[str]         # account ids
    appeal: ImportRun | None
    open_appeals: list[str]          # filed and left for the console
    files: list[Path] = field(default_factory=list)


def _write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path


def moderator_round(cfg: Config, spark: SparkSession, truth: Path, out_dir: Path) -> ModeratorRound:
    """The top `demo.moderator_round` open queue items decided from the simulator's truth, each wrong with
    probability `demo.moderator_error_rate` (seeded), imported as a moderator's file; then
    `demo.appeals_filed` confirmed accounts appeal (wrongly confirmed humans first) and the first
    `demo.appeals_decided` are decided from the truth through the appeal import. The rest stay open."""
    d = cfg.demo
    lake = Lake(spark, cfg)
    items = Reader(lake, cfg.section("model", ModelConfig)).queue(limit=d.moderator_round)["items"]
    t = pq.read_table(truth, columns=["account_id", "population"]).to_pydict()
    is_ai = {a: p == "ai" for a, p in zip(t["account_id"], t["population"], strict=True)}
    rng = np.random.default_rng(d.seed)
    now = datetime.now(UTC)
    at = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    lines, wrong_ids = [], set()
    for item in items:
        acc = item["account_id"]
        right = "confirm" if is_ai.get(acc, False) else "clear"
        wrong = bool(rng.random() < d.moderator_error_rate)
        if wrong:
            wrong_ids.add(acc)
        decision = ("clear" if right == "confirm" else "confirm") if wrong else right
        lines.append({"account_id": acc, "decision": decision, "moderator_id": d.moderator_id,
                      "note": f"demo round: {decision}" + (" (a simulated mistake)" if wrong else ""),
                      "decided_at": at})
    out = ModeratorRound(len(lines), len(wrong_ids), None, [], None, [])
    if not lines:
        log.warning("the review queue is empty: no moderator round")
        return out
    path = _write_lines(out_dir / f"review-{now:%Y%m%dT%H%M%S}.jsonl", lines)
    out.files.append(path)
    out.review = review.run(cfg, path, "review", spark=spark)

    # Appeals against the confirms that took effect (the import rejects, e.g., an account unknown to raw_accounts).
    applied = (lake.read("decisions").where((F.col("import_run_id") == out.review.run_id) & F.col("applied")
                                            & (F.col("decision") == "confirm")).select("account_id").collect())
    confirmed = sorted((r["account_id"] for r in applied), key=lambda a: (is_ai.get(a, False), a))  # humans first
    out.appeals_filed = confirmed[:d.appeals_filed]
    for acc in out.appeals_filed:
        appeal.file_appeal(lake, acc, "I run this account myself and never used automation.", now, source="demo")
    decided = out.appeals_filed[:d.appeals_decided]
    out.open_appeals = out.appeals_filed[d.appeals_decided:]
    if decided:
        later = (now + timedelta(seconds=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
        apath = _write_lines(out_dir / f"appeal-{now:%Y%m%dT%H%M%S}.jsonl", [
            {"account_id": a, "outcome": "uphold" if is_ai.get(a, False) else "restore",
             "moderator_id": d.appeals_officer_id, "note": "demo appeal decided from the simulator's truth",
             "decided_at": later} for a in decided])
        out.files.append(apath)
        out.appeal = appeal.run(cfg, apath, spark=spark)
    log.info("moderator round: %d decided (%d wrong), %d appeals filed, %d decided", out.decided, out.wrong,
             len(out.appeals_filed), len(decided))
    return out


def console_command(cfg: Config) -> str:
    """The one command that serves the console on this config's tables (settings that differ from the
    environment's defaults are passed with --set)."""
    default = load_config(cfg.env)
    args = ["genuine", "console", "serve"]
    if cfg.env != "local":
        args += ["--env", cfg.env]
    for key, value, base in (("lake.root", cfg.lake.root, default.lake.root),
                             ("mlflow.tracking_uri", cfg.mlflow.tracking_uri, default.mlflow.tracking_uri)):
        if value != base:
            args += ["--set", f"{key}={value}"]
    return shlex.join(args)


def run_report(cfg: Config, spark: SparkSession, result: DemoResult) -> Any:
    """The enforcement run report (jobs/report.py), against the simulator's truth."""
    sc, enf = result.steps["score"], result.steps["enforce"]
    context = {"model": f"{sc.model_name} version {sc.model_version}", "snapshot": sc.snapshot_date,
               "feature table version": sc.feature_table_version, "enforce run": enf.run_id,
               "export": result.export_dir}
    return report.run(cfg, enf.scoring_run_id, cfg.reports.path("run"), truth=result.truth,
                      breaker_reason=enf.breaker.get("reason"), context=context, spark=spark)


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--accounts", type=int, default=None, help="default: demo.accounts")
    p.add_argument("--days", type=int, default=None, help="default: demo.days")
    p.add_argument("--seed", type=int, default=None, help="default: demo.seed")
    p.add_argument("--out", default=None, help="default: demo.out")
    args = p.parse_args(argv)
    run(config_from(args), args.accounts, args.days, args.seed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
