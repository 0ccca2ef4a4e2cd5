"""Logging set-up for entrypoints (library modules only ever call logging.getLogger(__name__))."""

from __future__ import annotations

import logging
import os
import sys

from rich.logging import RichHandler

NOISY = ("py4j", "urllib3", "alembic", "mlflow.store", "numba", "matplotlib", "jieba")
# One record, one line, for a scheduler's log or a pipe (rich would wrap at 80 columns there).
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str | None = None) -> None:
    level = level or os.environ.get("GENUINE_LOG_LEVEL", "INFO")
    if sys.stderr.isatty():
        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        fmt = "%(name)s: %(message)s"
    else:
        handler, fmt = logging.StreamHandler(), PLAIN_FORMAT
    logging.basicConfig(level=level, format=fmt, datefmt="%H:%M:%S", handlers=[handler], force=True)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
