"""Wall time of a part of a job, logged, so a bench or a slow day shows which part grew.

`recording()` also hands every finished part to the caller (`genuine bench daily` tabulates the features
job's parts by day), whatever the log level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from time import time_ns

_recorders: list[list[tuple[str, float]]] = []


@contextmanager
def timed(log: logging.Logger, part: str) -> Iterator[None]:
    """Log `part` and its wall time in seconds once the block ends (not when it raises)."""
    started = time_ns()
    yield
    seconds = (time_ns() - started) / 1e9
    log.info("%s: %.1f s", part, seconds)
    for parts in _recorders:
        parts.append((part, seconds))


@contextmanager
def recording() -> Iterator[list[tuple[str, float]]]:
    """The (part, seconds) of every `timed` block that ends inside this one, in order (driver side)."""
    parts: list[tuple[str, float]] = []
    _recorders.append(parts)
    try:
        yield parts
    finally:
        _recorders.remove(parts)
