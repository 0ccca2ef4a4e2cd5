"""The session's JVM packages: declared once and matching the pinned Python packages; what a session does
when Spark cannot resolve them (one line and delta-rs, or an error where delta-spark is required)."""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pyspark
import pytest

from genuine.core.config import load_config
from genuine.core.session import delta_jvm_available, jvm_packages

REPO = Path(__file__).resolve().parents[2]
UNSERVED_DELTA = "io.delta:delta-spark_4.2_2.13:0.0.0"
"""A version no Maven registry serves: resolution fails the way it does offline."""


def _pins() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    return dict(d.split("==", 1) for d in deps if "==" in d)


def _scala_binary() -> str:
    """The Scala binary version pyspark was built with, read from the scala-library jar it ships."""
    jars = list((Path(pyspark.__file__).parent / "jars").glob("scala-library-*.jar"))
    assert len(jars) == 1, jars
    return ".".join(jars[0].name.removeprefix("scala-library-").split(".")[:2])


@pytest.mark.parametrize("env", ["local", "test", "cluster"])
def test_jvm_packages_match_the_pinned_python_packages(env):
    """conf's Maven coordinates and pyproject's pins name the same versions, and they are what is installed."""
    pins = _pins()
    packages = load_config(env).spark.packages
    spark_minor = ".".join(pins["pyspark"].split(".")[:2])
    scala = _scala_binary()
    assert packages.delta == f"io.delta:delta-spark_{spark_minor}_{scala}:{pins['delta-spark']}"
    # local and test leave GraphFrames out (no jar is served here, conf/local.yml); where named, it matches
    assert packages.graphframes in (None, f"io.graphframes:graphframes-spark{spark_minor.split('.')[0]}_{scala}:"
                                          f"{pins['graphframes-py']}")
    assert (packages.graphframes is None) == (env in ("local", "test"))
    for name in ("pyspark", "delta-spark", "graphframes-py"):
        assert md.version(name) == pins[name], name


@pytest.mark.parametrize("engine, required, optional", [
    ("auto", (), ("delta", "graphframes")),
    ("delta-spark", ("delta",), ("graphframes",)),
    ("delta-rs", (), ("graphframes",)),
])
def test_packages_per_engine_and_the_order_they_are_dropped(cfg_factory, engine, required, optional):
    cfg = cfg_factory(f"lake.engine={engine}")
    coords = {"delta": cfg.spark.packages.delta, "graphframes": cfg.spark.packages.graphframes}
    want = tuple(coords[n] for n in required), tuple(coords[n] for n in optional if coords[n] is not None)
    got = jvm_packages(cfg)
    assert (got.required, got.optional) == want
    # every optional package first, then the last one dropped, ...; the required ones stay in every attempt
    assert got.attempts() == [want[0] + want[1][:n] for n in range(len(want[1]), -1, -1)]


def test_the_test_session_has_delta_spark(spark):
    assert delta_jvm_available(spark)


SESSION_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="LOG %(levelname)s %(name)s: %(message)s")
from genuine.core.config import load_config
from genuine.core.lake import Lake
from genuine.core.session import get_spark
cfg = load_config("test", sys.argv[1:])
spark = get_spark(cfg)
print("ENGINE", Lake(spark, cfg).engine.name)
"""


def _session(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    """A new Python process, so a new JVM: the suite's own session cannot change its classpath."""
    args = [f"lake.root={tmp_path}", f"privacy.key_file={tmp_path}/hmac.key", f"spark.packages.delta={UNSERVED_DELTA}",
            "spark.packages.graphframes=null", *overrides]
    return subprocess.run([sys.executable, "-c", SESSION_SCRIPT, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_auto_falls_back_to_delta_rs_in_one_line_when_delta_does_not_resolve(tmp_path):
    proc = _session(tmp_path, "lake.engine=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "ENGINE delta-rs"
    said = [line for line in proc.stderr.splitlines() if line.startswith("LOG") and "genuine.core.session" in line]
    assert said == [f"LOG WARNING genuine.core.session: Spark could not resolve {UNSERVED_DELTA} (spark.jars.packages; "
                    "Ivy's report above): started without it, Delta tables use delta-rs"]


def test_forced_delta_spark_without_its_jar_is_an_error(tmp_path):
    proc = _session(tmp_path, "lake.engine=delta-spark")
    assert proc.returncode != 0
    assert "DeltaSparkUnavailableError: lake.engine=delta-spark but Spark could not resolve " + UNSERVED_DELTA in proc.stderr


SUBMITTED_SCRIPT = """
import sys
from genuine.core.config import load_config
from genuine.core.lake import Lake
from genuine.core.session import get_spark
cfg = load_config("test", sys.argv[1:])
spark = get_spark(cfg)
lake = Lake(spark, cfg)
lake.append("raw_accounts", spark.createDataFrame([("a", 1)], "k string, v long"))
spark.sql("select 1").collect()  # the session catalog works (no Delta catalog without Delta's classes)
print("ENGINE", lake.engine.name, lake.read("raw_accounts").count())
"""


def test_under_spark_submit_without_packages_the_lake_uses_delta_rs(tmp_path):
    """spark-submit starts the JVM itself: the session can add no package, so Delta's extension and catalog
    must not be registered unless its classes loaded there."""
    script = tmp_path / "job.py"
    script.write_text(SUBMITTED_SCRIPT, encoding="utf-8")
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    proc = subprocess.run([str(submit), "--master", "local[1]", str(script), f"lake.root={tmp_path}/lake",
                           f"privacy.key_file={tmp_path}/hmac.key"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYSPARK_PYTHON": sys.executable,
                                            "PYSPARK_DRIVER_PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1] == "ENGINE delta-rs 1"
