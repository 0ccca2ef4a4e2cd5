"""AI-text scores of posts, an input of the content family: which detector scores them, which posts it
has not scored yet, and what the family sees when no detector is registered.

The scoring itself belongs to the models stage (models/text_detector.py `score_posts`), above this one:
the feature job runs it on `unscored_texts` and caches the result in `post_scores`, per detector version.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from genuine.core import tracking
from genuine.core.config import Config

CHAMPION = "champion"


def text_model_uri(cfg: Config) -> tuple[str, str] | None:
    """(pinned uri, version) of the text detector's champion, or None when none is registered yet."""
    name = cfg.mlflow.text_model
    mv = tracking.version_by_alias(tracking.client(cfg.mlflow), name, CHAMPION)
    return None if mv is None else (tracking.version_uri(name, mv.version), str(mv.version))


def unscored_texts(posts: DataFrame, scored: DataFrame) -> DataFrame:
    """post_id, account_id, text of the posts not in `scored` (the cached scores of one version)."""
    todo = posts.join(scored.select("post_id"), "post_id", "left_anti")
    return todo.select("post_id", "account_id",
                       F.concat_ws("\n", F.coalesce("title", F.lit("")), F.coalesce("body", F.lit(""))).alias("text"))


def no_scores(posts: DataFrame) -> DataFrame:
    """Every post with a null p_ai: the AI-text features are then null."""
    return posts.select("post_id", "account_id", F.lit(None).cast("double").alias("p_ai"))
