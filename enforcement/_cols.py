"""Small column helpers shared by the enforcement transforms."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructType

from genuine.core.errors import MissingColumnsError
from genuine.core.schemas import REASONS

STRING_ARRAY = ArrayType(StringType(), True)


def require(df: DataFrame, columns: Iterable[str], what: str) -> None:
    missing = sorted(set(columns) - set(df.columns))
    if missing:
        raise MissingColumnsError(f"{what} is missing columns {missing}")


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the schema's columns, in its order and types, so every writer sees one shape."""
    require(df, schema.fieldNames(), "frame")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def strings(values: Iterable[str]) -> Column:
    """A literal array<string> (typed even when empty)."""
    return F.array(*[F.lit(v) for v in values]).cast(STRING_ARRAY)


def reasons_or_empty(col: str = "reasons") -> Column:
    return F.coalesce(F.col(col), F.array().cast(REASONS))


def reason_codes(col: str = "reasons") -> Column:
    """`family.feature` for each reason, in the scorer's order (most important first)."""
    return F.transform(reasons_or_empty(col), lambda r: F.concat_ws(".", r["family"], r["feature"]))
