"""One place that turns configuration into a SparkSession, shared by jobs, tests and notebooks."""

from __future__ import annotations

import logging
import os
import shutil
import sys

from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.core.errors import JavaMissingError

log = logging.getLogger(__name__)


def check_java() -> None:
    """Fail with one clear line instead of a py4j stack trace when there is no JVM."""
    if os.environ.get("JAVA_HOME") and os.path.exists(os.path.join(os.environ["JAVA_HOME"], "bin", "java")):
        return
    if shutil.which("java") is None:
        raise JavaMissingError(
            "genuine needs Java 17 or newer for Spark: install it (e.g. `apt-get install openjdk-17-jre-headless`) "
            "or set JAVA_HOME."
        )


def configure_builder(builder: SparkSession.Builder, cfg: Config) -> SparkSession.Builder:
    """Builder in, builder out: apply this environment's settings and nothing the cluster already owns."""
    s = cfg.spark
    builder = builder.appName(s.app_name)
    if s.master:
        builder = builder.master(s.master)
    if s.shuffle_partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(s.shuffle_partitions))
        builder = builder.config("spark.default.parallelism", str(s.shuffle_partitions))
    if s.driver_memory:
        builder = builder.config("spark.driver.memory", s.driver_memory)
    for key, value in s.conf.items():
        builder = builder.config(key, value)
    if s.master and s.master.startswith("local"):
        # Workers must run the interpreter that has our dependencies, not whatever python3 is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if cfg.lake.engine in ("auto", "delta-spark"):
        builder = _with_delta_jvm(builder, cfg)
    return builder


def _with_delta_jvm(builder: SparkSession.Builder, cfg: Config) -> SparkSession.Builder:
    """Register the Delta SQL extension only when its classes can be loaded (jars already on the cluster)."""
    if os.environ.get("GENUINE_DELTA_JARS") == "1" or cfg.lake.engine == "delta-spark":
        return (builder
                .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
                .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"))
    return builder


def get_spark(cfg: Config) -> SparkSession:
    """Create (or reuse) the session for this configuration."""
    check_java()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    spark = configure_builder(SparkSession.builder, cfg).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def delta_jvm_available(spark: SparkSession) -> bool:
    """True where the delta-spark classes load in this JVM (a cluster with the connector installed)."""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # type: ignore[union-attr]
        return True
    except Exception:
        return False
