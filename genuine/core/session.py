"""One place that turns configuration into a SparkSession, shared by jobs, tests and notebooks."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark import SparkContext
from pyspark.sql import SparkSession

from genuine.core.config import Config
from genuine.core.errors import DeltaSparkUnavailableError, JavaMissingError

log = logging.getLogger(__name__)

DELTA_CLASS = "io.delta.tables.DeltaTable"
SUBMITTED_GATEWAY = "PYSPARK_GATEWAY_PORT"
"""Set by spark-submit / pyspark for the Python driver: the JVM is already running with its classpath."""


def check_java() -> None:
    """Fail with one clear line instead of a py4j stack trace when there is no JVM."""
    if os.environ.get("JAVA_HOME") and os.path.exists(os.path.join(os.environ["JAVA_HOME"], "bin", "java")):
        return
    if shutil.which("java") is None:
        raise JavaMissingError(
            "genuine needs Java 17 or newer for Spark: install it (e.g. `apt-get install openjdk-17-jre-headless`) "
            "or set JAVA_HOME."
        )


def configure_builder(builder: SparkSession.Builder, cfg: Config, packages: Sequence[str] = (),
                      delta_extension: bool | None = None) -> SparkSession.Builder:
    """Builder in, builder out: apply this environment's settings and nothing the cluster already owns.

    `packages` are Maven coordinates for `spark.jars.packages` (see `jvm_packages`). The Delta SQL extension
    is registered where `delta_extension` says so; None: when delta-spark is among `packages` or
    `lake.engine=delta-spark` says the cluster ships it.
    """
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
    if packages:
        builder = builder.config("spark.jars.packages", ",".join(packages))
    if delta_extension is None:
        delta_extension = cfg.lake.engine == "delta-spark" or (s.packages.delta is not None and s.packages.delta in packages)
    if delta_extension:
        builder = (builder
                   .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
                   .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"))
    return builder


@dataclass(frozen=True)
class JvmPackages:
    """What a new session asks Spark to resolve: `required` must load, `optional` may be dropped."""

    required: tuple[str, ...]
    optional: tuple[str, ...]

    def attempts(self) -> list[tuple[str, ...]]:
        """All packages first, then the optional ones dropped from the last: delta before graphframes."""
        return [self.required + self.optional[:n] for n in range(len(self.optional), -1, -1)]


def jvm_packages(cfg: Config) -> JvmPackages:
    """The packages this configuration asks for: delta-spark unless `lake.engine=delta-rs` (required with
    `delta-spark`), graphframes where configured (always optional: the DataFrame algorithms stand in)."""
    p = cfg.spark.packages
    delta = () if p.delta is None or cfg.lake.engine == "delta-rs" else (p.delta,)
    graphs = () if p.graphframes is None else (p.graphframes,)
    if cfg.lake.engine == "delta-spark":
        return JvmPackages(required=delta, optional=graphs)
    return JvmPackages(required=(), optional=delta + graphs)


def get_spark(cfg: Config) -> SparkSession:
    """Create (or reuse) the session for this configuration, with the JVM packages it can resolve.

    A running session is reused as it is (its classpath is fixed). Otherwise the session is started with
    every package of `jvm_packages`; where Spark cannot resolve them (no Maven registry reachable, a
    version not served), it starts again without the optional ones, last first, and says so in one line.
    With `lake.engine=delta-spark` a delta-spark that does not resolve is an error.
    """
    check_java()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if SparkContext._active_spark_context is not None:
        return configure_builder(SparkSession.builder, cfg).getOrCreate()
    if os.environ.get(SUBMITTED_GATEWAY):
        return _attach(cfg)
    wanted = jvm_packages(cfg)
    attempts = wanted.attempts()
    failure: Exception | None = None
    for packages in attempts:
        try:
            spark = configure_builder(SparkSession.builder, cfg, packages).getOrCreate()
        except Exception as exc:  # py4j: JAVA_GATEWAY_EXITED; Ivy's report went to stderr
            failure = exc
            continue
        if packages != attempts[0]:
            missing = [p for p in attempts[0] if p not in packages]
            log.warning("Spark could not resolve %s (spark.jars.packages; Ivy's report above): started without it, %s",
                        ", ".join(missing), _consequence(cfg, missing))
        spark.sparkContext.setLogLevel("WARN")
        return spark
    if wanted.required:
        raise DeltaSparkUnavailableError(
            f"lake.engine=delta-spark but Spark could not resolve {', '.join(wanted.required)} "
            "(spark.jars.packages; Ivy's report above): reach a Maven registry, put the jar on the cluster's "
            "classpath and set spark.packages.delta=null, or use lake.engine=auto / delta-rs") from failure
    raise failure if failure else RuntimeError("no Spark session attempt was made")


def _attach(cfg: Config) -> SparkSession:
    """spark-submit (or a notebook kernel) started the JVM with its own --packages / --jars: nothing can be
    resolved from here, so the Delta extension is registered only where its classes loaded in that JVM."""
    SparkContext._ensure_initialized()
    delta = _loads(SparkContext._jvm, DELTA_CLASS)
    if cfg.lake.engine == "delta-spark" and not delta:
        raise DeltaSparkUnavailableError(
            f"lake.engine=delta-spark but {DELTA_CLASS} does not load in the JVM spark-submit started: pass "
            f"--packages {cfg.spark.packages.delta} (conf spark.packages.delta) or ship the jar on the cluster")
    if not delta and cfg.lake.engine == "auto" and cfg.spark.packages.delta is not None:
        log.warning("delta-spark does not load in the JVM spark-submit started (pass --packages %s): Delta tables "
                    "use delta-rs", cfg.spark.packages.delta)
    spark = configure_builder(SparkSession.builder, cfg, delta_extension=delta).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _consequence(cfg: Config, missing: list[str]) -> str:
    said = []
    if cfg.spark.packages.delta in missing:
        said.append("Delta tables use delta-rs")
    if cfg.spark.packages.graphframes in missing:
        said.append("graphs use the DataFrame algorithms")
    return " and ".join(said)


def delta_jvm_available(spark: SparkSession) -> bool:
    """True where the delta-spark classes load in this JVM (resolved by `get_spark` or shipped by the cluster)."""
    return jvm_class_loads(spark, DELTA_CLASS)


def jvm_class_loads(spark: SparkSession, name: str) -> bool:
    """True where `name` loads through the driver's context class loader (where `spark.jars` land)."""
    return _loads(spark.sparkContext._jvm, name)


def _loads(jvm: Any, name: str) -> bool:
    if jvm is None:  # Spark Connect: no JVM in this process
        return False
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(name, False, loader)
        return True
    except Exception:  # ClassNotFoundException, wrapped by py4j
        return False
