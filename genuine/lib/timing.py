"""Wall time of a part of a job, logged, so a bench or a slow day shows which part grew."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from time import time_ns


@contextmanager
def timed(log: logging.Logger, part: str) -> Iterator[None]:
    """Log `part` and its wall time in seconds once the block ends (not when it raises)."""
    started = time_ns()
    yield
    log.info("%s: %.1f s", part, (time_ns() - started) / 1e9)
