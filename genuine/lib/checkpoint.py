"""Compute a Spark intermediate once and cut its lineage: for state that several consumers read, and for
the steps of iterative algorithms whose plans would otherwise grow with every step."""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def materialize(df: DataFrame, *, local_checkpoints: bool = False) -> DataFrame:
    """Compute `df` once and cut its lineage, for state that is reused or returned.

    Unlike persist(), nothing has to be released by hand: the blocks of a local checkpoint are freed
    when the DataFrame is garbage collected (reliable checkpoint files stay in the checkpoint dir unless
    spark.cleaner.referenceTracking.cleanCheckpoints is set). Reliable checkpoints survive the loss of
    an executor, local ones are faster and need no checkpoint dir.
    """
    if not local_checkpoints:
        if has_checkpoint_dir(df.sparkSession):
            return df.checkpoint(eager=True)
        log.warning("no Spark checkpoint dir set (SparkContext.setCheckpointDir): using local checkpoints")
    return df.localCheckpoint(eager=True)


def has_checkpoint_dir(spark: SparkSession) -> bool:
    """True when reliable checkpoints can be written (SparkContext.setCheckpointDir was called)."""
    try:
        return spark.sparkContext.getCheckpointDir() is not None
    except Exception:  # Spark Connect: no SparkContext
        return False
