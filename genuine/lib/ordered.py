"""Aggregates of doubles whose value does not depend on the order the rows arrive in.

Spark adds up a group's doubles in the order its shuffle blocks arrive, which changes with the number of
partitions and executors. Floating-point addition is not associative, so the same data gave features that
differed in the last bits between local mode and a cluster, and the models trained on them differed by
up to 1e-4 (docs/decisions.md). Adding a group's values in ascending order fixes the result bit for bit.
Sums of integers (counts, 0/1 flags, as doubles too) are exact in any order and need none of this.

Two forms, by the size of a group:
- `ordered_sum`/`ordered_avg` collect a group's values and add them sorted: exact double semantics, for
  groups of an account's size (its posts, its partners).
- `exact_sum`/`exact_avg` add fixed-point decimals, which Spark sums exactly and so in any order, with
  partial sums per partition: for aggregates over the whole population (the hour profile, PageRank's
  change and dangling mass), where collecting every value into one task would cost one task N doubles
  (24 arrays of 1M at 1M accounts). Each value is rounded to `scale` decimals first.
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


EXACT_SCALE = 28     # decimals kept of each value: DECIMAL(38, 28) holds sums below 1e10


def exact_sum(col: Column | str, scale: int = EXACT_SCALE) -> Column:
    """The sum of the non-null values, each rounded to `scale` decimals, added exactly (so in any order and
    partitioning); NULL when there is none. The sum must stay below 10^(38 - scale): Spark's ANSI mode
    raises on overflow rather than return a wrong figure."""
    c = F.col(col) if isinstance(col, str) else col
    return F.sum(c.cast(f"decimal(38,{scale})")).cast("double")


def exact_avg(col: Column | str, scale: int = EXACT_SCALE) -> Column:
    """`exact_sum` over the count of non-null values; NULL when there is none."""
    c = F.col(col) if isinstance(col, str) else col
    return F.when(F.count(c) > 0, exact_sum(c, scale) / F.count(c))
