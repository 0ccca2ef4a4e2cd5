"""The text detector's corpus: labelled JSON Lines (`{"text", "label": "human"|"ai", "lang"?}`), one file per
source, and how command-line or configured patterns expand to files.

A bad line stops the read with its file:line: a silently skipped line would change what the detector
learns without anyone noticing.
"""

from __future__ import annotations

import glob
import json
import logging
from pathlib import Path

import pandas as pd

from genuine.core.errors import CorpusError

log = logging.getLogger(__name__)

LABELS = {"human": 0, "ai": 1}


def read_corpus(files: list[Path]) -> pd.DataFrame:
    """Read labelled JSON Lines into text, label (1 = ai), lang, source; any bad line raises CorpusError."""
    rows: list[tuple[str, int, str | None, str]] = []
    for path in map(Path, files):
        if not path.is_file():
            raise CorpusError(f"{path}: corpus file not found")
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                row = _parse_line(raw, path, lineno)
                if row is not None:
                    rows.append(row)
        log.info("corpus %s read: %d rows in all so far", path, len(rows))
    frame = pd.DataFrame(rows, columns=["text", "label", "lang", "source"])
    if frame.empty or frame["label"].nunique() < 2:
        raise CorpusError(f"corpus {', '.join(map(str, files))}: needs both 'human' and 'ai' rows, "
                          f"got {frame['label'].map({0: 'human', 1: 'ai'}).value_counts().to_dict()}")
    return frame


def _parse_line(raw: bytes, path: Path, lineno: int) -> tuple[str, int, str | None, str] | None:
    where = f"{path}:{lineno}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not line.strip():
        return None                                  # blank lines (e.g. a trailing newline) carry nothing
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    text, label, lang = obj.get("text"), obj.get("label"), obj.get("lang")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: 'text' must be a non-empty string, got {text!r:.60}")
    if label not in LABELS:
        raise CorpusError(f"{where}: 'label' must be one of {sorted(LABELS)}, got {label!r:.60}")
    if lang is not None and not isinstance(lang, str):
        raise CorpusError(f"{where}: 'lang' must be a string when present, got {lang!r:.60}")
    return text, LABELS[label], lang, path.stem


def resolve_corpus(patterns: list[str] | list[Path]) -> list[Path]:
    """Expand files, folders (their *.jsonl) and glob patterns; the corpus is optional, so none is no error."""
    found: list[Path] = []
    for pattern in map(str, patterns):
        path = Path(pattern)
        if path.is_dir():
            hits = sorted(path.glob("*.jsonl"))
        else:
            hits = [Path(h) for h in sorted(glob.glob(pattern))]
        if not hits:
            log.warning("text-detector corpus %s: nothing there", pattern)
        found.extend(h for h in hits if h not in found)
    return found
