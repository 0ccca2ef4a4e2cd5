"""Aggregates of doubles whose value does not depend on the order the rows arrive in.

Spark adds up a group's doubles in the order its shuffle blocks arrive, which changes with the number of
partitions and executors. Floating-point addition is not associative, so the same data gave features that
differed in the last bits between local mode and a cluster, and the models trained on them differed by
up to 1e-4 (docs/decisions.md). Adding a group's values in ascending order fixes the result bit for bit.
Sums of integers (counts, 0/1 flags, as doubles too) are exact in any order and need none of this.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def _sorted_total(col: Column | str) -> tuple[Column, Column]:
    values = F.array_sort(F.collect_list(col))
    return values, F.aggregate(values, F.lit(0.0), lambda acc, x: acc + x.cast("double"))


def ordered_sum(col: Column | str) -> Column:
    """The sum of a group's non-null values, added in ascending order; NULL when there is none, as F.sum."""
    values, total = _sorted_total(col)
    return F.when(F.size(values) > 0, total)


def ordered_avg(col: Column | str) -> Column:
    """The mean of a group's non-null values (their ordered sum over their count); NULL when there is none."""
    values, total = _sorted_total(col)
    return F.when(F.size(values) > 0, total / F.size(values))
