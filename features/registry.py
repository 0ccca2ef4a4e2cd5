"""The feature registry: every account feature, its family, unit and meaning, named once.

The feature table's schema and docs/features.md are both generated from this list, so a feature
that is computed but not registered (or registered but not computed) is caught by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyspark.sql.types import DataType, DoubleType, LongType

Family = Literal["behaviour", "content", "network", "reports", "change"]
FAMILIES: tuple[Family, ...] = ("behaviour", "content", "network", "reports", "change")


@dataclass(frozen=True)
class Feature:
    name: str
    family: Family
    unit: str
    meaning: str
    dtype: DataType = DoubleType()
    # "higher" means a larger value is more bot-like; used to phrase reason codes. None: no direction.
    direction: Literal["higher", "lower"] | None = "higher"
    # Computed from moderator labels (label propagation): a benchmark that hides a strategy's labels must
    # leave it out, or the hidden labels leak back through it.
    from_labels: bool = False

    @property
    def is_count(self) -> bool:
        return isinstance(self.dtype, LongType)


def count(name: str, family: Family, meaning: str, unit: str = "count",
          direction: Literal["higher", "lower"] | None = "higher") -> Feature:
    return Feature(name, family, unit, meaning, LongType(), direction)


def ratio(name: str, family: Family, meaning: str, unit: str = "share 0-1",
          direction: Literal["higher", "lower"] | None = "higher", from_labels: bool = False) -> Feature:
    return Feature(name, family, unit, meaning, DoubleType(), direction, from_labels)
