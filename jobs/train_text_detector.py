"""Train the AI-text detector on a labelled corpus and register it in MLflow (spark-submit jobs/train_text_detector.py).

spark-submit jobs/train_text_detector.py [--corpus FILE|DIR|GLOB ...] [--alias champion]

Training itself is scikit-learn on the driver; the job's session is for the run ledger (a Delta table),
which records the corpus, the alias and the registered version like any other job's inputs and outputs.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.core.errors import CorpusError
from genuine.core.lake import WriteResult
from genuine.jobs.common import base_parser, config_from, job
from genuine.models.config import text_detector_config
from genuine.models.text_corpus import resolve_corpus
from genuine.models.text_detector import CHAMPION
from genuine.models.text_training import TextDetectorResult, train_text_detector

log = logging.getLogger(__name__)


def run(cfg: Config, corpus_files: list[Path], alias: str = CHAMPION, run_id: str | None = None,
        spark: SparkSession | None = None) -> TextDetectorResult:
    params = text_detector_config(cfg)
    with job("train-text-detector", cfg, {"corpus": [str(f) for f in corpus_files], "alias": alias},
             run_id, spark) as ctx:
        result = train_text_detector(corpus_files, cfg, alias=alias, params=params)
        if result.version is not None:     # the registered version is what this run wrote
            ctx.ledger.wrote(f"models:/{result.registered_name}", WriteResult(int(result.version), 1))
        ctx.ledger.count("corpus_rows", sum(result.n_rows.values()))
        log.info("text detector %s version %s @%s (MLflow run %s)", result.registered_name, result.version,
                 result.alias, result.run_id)
        return result


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--corpus", action="append", default=None, metavar="PATH",
                   help="JSON Lines file, folder of *.jsonl or glob (repeatable); default: text_detector.corpus")
    p.add_argument("--alias", default=CHAMPION, help="registry alias the new version gets")
    args = p.parse_args(argv)
    cfg = config_from(args)
    files = resolve_corpus(args.corpus or text_detector_config(cfg).corpus)
    if not files:
        raise CorpusError("no corpus: pass --corpus FILE (JSON Lines of {\"text\", \"label\"}) "
                          "or set text_detector.corpus")
    run(cfg, files, args.alias, args.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
