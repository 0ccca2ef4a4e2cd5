"""Content-derived identifiers: the same decision always gets the same id, so a retried job or a
re-imported file merges onto rows that already exist instead of adding new ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F

_SEP = "\x1f"     # unit separator: cannot occur in ids, keeps ("ab", "c") apart from ("a", "bc")
_NULL = "\x00"    # marks a null part, so (null, "a") and ("a", null) differ


def stable_id(*parts: Column | str) -> Column:
    """SHA-256 hex of the parts; a str is a literal namespace (e.g. "auto"), a Column is cast to string."""
    cols = [F.lit(p) if isinstance(p, str) else F.coalesce(p.cast("string"), F.lit(_NULL)) for p in parts]
    return F.sha2(F.concat_ws(_SEP, *cols), 256)


def stable_id_py(parts: Iterable[str | None]) -> str:
    """The driver-side twin of `stable_id`, for tests and for ids computed outside Spark."""
    text = _SEP.join(_NULL if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
