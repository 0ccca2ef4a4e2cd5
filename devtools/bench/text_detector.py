"""`genuine bench text-detector`: the AI-text detector against the character n-gram baseline.

Both models on the same stratified K folds of the corpus (strata = file x label), trained on all files:
out-of-fold AUROC per file, each file scored by models trained on the other files (leave-one-file-out),
the false-positive rate on human text by language and by length, and predict speed. The figures come
from `genuine.models.text_training.evaluate`, which training also logs to MLflow; here fits and
predictions are timed by the one process meter (devtools/bench/meter.py), so posts per CPU second
compare with the other benchmarks'.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from genuine.core.errors import CorpusError
from genuine.devtools.bench.meter import ProcessMeter
from genuine.models.config import TextDetectorConfig
from genuine.models.text_corpus import read_corpus, resolve_corpus
from genuine.models.text_training import evaluate

log = logging.getLogger(__name__)


def bench_text_detector(corpus: Path | list[Path], folds: int = 5, seed: int = 0,
                        params: TextDetectorConfig | None = None, *,
                        leave_one_file_out: bool = True) -> dict[str, Any]:
    """Figures of the detector and the baseline on `corpus`: a folder (its *.jsonl files) or a list of files."""
    params = params or TextDetectorConfig()
    files = resolve_corpus([corpus] if isinstance(corpus, Path) else corpus)
    if not files:
        raise CorpusError(f"{corpus}: no *.jsonl corpus files")
    load_before = os.getloadavg()
    result = evaluate(read_corpus(files), params, folds, seed, meter=ProcessMeter(),
                      leave_one_file_out=leave_one_file_out)
    result["machine"] = {"cpu_count": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()}
    return result
