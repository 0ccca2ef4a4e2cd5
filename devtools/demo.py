"""The embedded demo: simulate a platform, then run the whole pipeline on local Spark, Delta and MLflow.

simulate -> (text detector, once) -> ingest -> features -> train -> score -> enforce -> run report.
Each step is the same job a scheduler runs; the demo only chains them and says where things landed.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.lake import Lake
from genuine.core.session import get_spark
from genuine.devtools import simulate
from genuine.enforcement.run_report import outcome_counts, recorded_decisions, summarize, write_report
from genuine.features.post_scores import text_model_uri
from genuine.jobs import enforce, features, ingest, score, train, train_text_detector
from genuine.jobs.common import base_parser, config_from
from genuine.models.config import text_detector_config
from genuine.models.text_corpus import resolve_corpus

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    export_dir: Path
    steps: dict[str, Any] = field(default_factory=dict)

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
    result.steps["simulate"] = simulate.run(sim_cfg, accounts, days, seed, result.export_dir)
    result.steps["text_detector"] = ensure_text_detector(cfg)
    spark = get_spark(cfg)
    result.steps["ingest"] = ingest.run(cfg, result.export_dir, spark=spark)
    # A scheduler takes a snapshot every day; the demo takes a few, so that labels decided during the
    # window find a snapshot from before their decision (training is point in time).
    result.steps["training_snapshots"] = [features.run(cfg, as_of=day, spark=spark)
                                          for day in training_snapshot_dates(cfg, days)]
    result.steps["features"] = features.run(cfg, truth=result.truth, spark=spark)
    result.steps["train"] = train.run(cfg, truth=result.truth, spark=spark)
    result.steps["score"] = score.run(cfg, spark=spark)
    result.steps["enforce"] = enforce.run(cfg, spark=spark)     # the newest scoring run: the one just made
    result.steps["report"] = run_report(cfg, spark, result)
    return result


def run_report(cfg: Config, spark: SparkSession, result: DemoResult) -> Any:
    """The enforcement run report, read back from the tables the run wrote, against the simulator's truth."""
    lake = Lake(spark, cfg)
    sc, enf = result.steps["score"], result.steps["enforce"]
    scores = lake.read("scores").where(F.col("scoring_run_id") == enf.scoring_run_id)
    decisions = recorded_decisions(lake.read("review_queue"), lake.read("action_log"), enf.scoring_run_id)
    truth = spark.read.parquet(str(result.truth))
    report = summarize(outcome_counts(scores, decisions, truth), breaker_reason=enf.breaker.get("reason"))
    context = {"scoring run": enf.scoring_run_id, "model": f"{sc.model_name} version {sc.model_version}",
               "snapshot": sc.snapshot_date, "feature table version": sc.feature_table_version,
               "enforce run": enf.run_id, "export": result.export_dir}
    return write_report(report, cfg.reports.path("run"), "genuine run report", context)


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
