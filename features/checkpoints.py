"""A reliable checkpoint dir for the iterative graph algorithms of the network family.

When the Spark session has none, the feature job sets `features.snapshot.checkpoint_dir` (relative to
lake.root unless absolute or a URI) and empties it when the run ends. A dir someone else set is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from genuine.core.config import under_root
from genuine.features.snapshot import SnapshotConfig

log = logging.getLogger(__name__)

_OWNED_CHECKPOINT_DIRS: set[str] = set()
"""Checkpoint dirs this process set on the session (so it may empty them after each run)."""


def ensure_checkpoint_dir(spark: SparkSession, lake_root: str, scfg: SnapshotConfig) -> str | None:
    """Give the graph algorithms a reliable checkpoint dir when the session has none; the dir we own, if any."""
    sc = spark.sparkContext
    current = sc.getCheckpointDir()
    if current is None:
        root = scfg.checkpoint_dir
        sc.setCheckpointDir(root if "://" in root or Path(root).is_absolute() else under_root(lake_root, root))
        current = sc.getCheckpointDir()
        if current is not None:
            _OWNED_CHECKPOINT_DIRS.add(current)
    return current if current in _OWNED_CHECKPOINT_DIRS else None


def empty_checkpoints(spark: SparkSession, directory: str) -> None:
    """Delete this run's checkpoint files (Spark recreates the folder on the next checkpoint)."""
    sc = spark.sparkContext
    jvm = sc._jvm
    assert jvm is not None, "checkpoint cleanup needs a classic (non-Connect) SparkContext"
    path = jvm.org.apache.hadoop.fs.Path(directory)
    path.getFileSystem(sc._jsc.hadoopConfiguration()).delete(path, True)  # type: ignore[union-attr]
    log.debug("emptied checkpoint dir %s", directory)


@contextmanager
def run_checkpoints(spark: SparkSession, lake_root: str, scfg: SnapshotConfig) -> Iterator[str | None]:
    """`ensure_checkpoint_dir` for the duration of a run; our own dir is emptied when it ends."""
    owned = ensure_checkpoint_dir(spark, lake_root, scfg)
    try:
        yield owned
    finally:
        if owned:
            empty_checkpoints(spark, owned)
