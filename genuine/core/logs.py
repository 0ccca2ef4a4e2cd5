"""Logging set-up for entrypoints (library modules only ever call logging.getLogger(__name__))."""

from __future__ import annotations

import logging
import os


def setup_logging(level: str | None = None) -> None:
    from rich.logging import RichHandler

    level = level or os.environ.get("GENUINE_LOG_LEVEL", "INFO")
    logging.basicConfig(level=level, format="%(name)s: %(message)s", datefmt="%H:%M:%S",
                        handlers=[RichHandler(show_path=False, rich_tracebacks=False)], force=True)
    for noisy in ("py4j", "urllib3", "alembic", "mlflow.store", "numba", "matplotlib", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
