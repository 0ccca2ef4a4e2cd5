"""`genuine maintain`: the refusal names the right run and changes nothing; a dry run deletes nothing; a
real run compacts and vacuums every catalog table that exists (delta-rs engine; both engines' maintenance
itself is in tests/core/lake/test_maintenance.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.core.errors import RetentionTooShort
from genuine.core.lake import Lake
from genuine.jobs import maintain
from genuine.jobs.common import job
from tests.oracles import data_files_on_disk, live_files

SCHEMA = StructType([StructField("account_id", StringType(), True), StructField("v", LongType(), True)])


def rows(spark, *vals: int):
    return spark.createDataFrame([(f"a{v}", v) for v in vals], SCHEMA).coalesce(1)


def data_files(cfg, table: str) -> set[str]:
    return data_files_on_disk(Path(cfg.table(table)))


def reads(cfg, spark, run_job: str, table: str) -> str:
    """A run of `run_job` that records reading the latest version of `table` in the ledger."""
    with job(run_job, cfg, spark=spark) as ctx:
        ctx.ledger.read(table)
        return ctx.run_id


@pytest.fixture(scope="module")
def history(cfg_factory, spark):
    """features rewritten after each of two replayable runs read it; an earlier ingest run (not replayable)
    and an earlier score run that read a table nobody rewrote (scores) do not count."""
    cfg = cfg_factory()
    lake = Lake(spark, cfg)
    lake.append("scores", rows(spark, 1), schema=SCHEMA)
    lake.append("features", rows(spark, 1), schema=SCHEMA)                 # features v1
    lake.append("features", rows(spark, 2), schema=SCHEMA)                 # v2: a second small file
    ingest = reads(cfg, spark, "ingest", "features")
    safe = reads(cfg, spark, "score", "scores")
    lost = reads(cfg, spark, "score", "features")                          # reads v2
    lake.overwrite("features", rows(spark, 1, 2, 3), schema=SCHEMA)        # v3 removes v2's files
    later = reads(cfg, spark, "enforce", "features")
    lake.overwrite("features", rows(spark, 1, 2, 3, 4), schema=SCHEMA)     # v4
    return cfg, {"ingest": ingest, "safe": safe, "lost": lost, "later": later}


def cli(cfg, *args: str, sets: tuple[str, ...] = ()):
    base = [f"lake.root={cfg.lake.root}", f"mlflow.tracking_uri={cfg.mlflow.tracking_uri}",
            f"lake.engine={cfg.lake.engine}", f"privacy.key_file={cfg.privacy.key_file}", *sets]
    return CliRunner().invoke(app, ["maintain", *args, "--env", "test", *[x for s in base for x in ("--set", s)]],
                              catch_exceptions=False)


def test_a_retention_under_the_audit_window_is_refused_naming_the_earliest_unreplayable_run(history, spark):
    cfg, runs = history
    lake = Lake(spark, cfg)
    before = {t: (lake.version(t), data_files(cfg, t)) for t in ("features", "scores", "runs")}
    short = ("lake.maintenance.data_retention_hours=0", "enforcement.audit.replay_window_days=1")
    out = cli(cfg, sets=short)
    assert out.exit_code == 1
    line = out.output.strip()
    assert "\n" not in line and line.startswith("refused:")
    assert f"run {runs['lost']} (score" in line and "features@v2, whose data files" in line
    assert "2 run(s)" in line                       # lost and later; never ingest (not replayable) or safe
    after = {t: (lake.version(t), data_files(cfg, t)) for t in ("features", "scores", "runs")}
    assert after == before                          # nothing changed, not even the ledger

    # The log retention is checked as well: every replayable run inside the window is named by it.
    with pytest.raises(RetentionTooShort, match=f"log_retention_hours=0 .*run {runs['lost']}.*log would be deleted"):
        maintain.run(cfg.model_copy(update={"lake": cfg.lake.model_copy(update={
            "maintenance": cfg.lake.maintenance.model_copy(update={"log_retention_hours": 0})})}), spark=spark)


def test_dry_run_deletes_nothing_then_the_run_compacts_and_vacuums(history, spark):
    cfg, _ = history
    lake = Lake(spark, cfg)
    zero = ("lake.maintenance.data_retention_hours=0", "lake.maintenance.log_retention_hours=0",
            "enforcement.audit.replay_window_days=0")
    feats = lake.read("features").collect()
    on_disk = data_files(cfg, "features")
    dry = cli(cfg, "--dry-run", sets=zero)
    assert dry.exit_code == 0, dry.output
    assert data_files(cfg, "features") == on_disk and lake.version("features") == 4
    listed = {line.split(": ", 1)[1] for line in dry.output.splitlines() if line.startswith("features: ")}
    assert listed & on_disk == on_disk - live_files(Path(cfg.table("features"))) != set()

    done = cli(cfg, sets=zero)
    assert done.exit_code == 0, done.output
    assert len(data_files(cfg, "features")) == 1                     # compacted, the rest vacuumed
    assertDataFrameEqual(lake.read("features"), spark.createDataFrame(feats, SCHEMA))
    last = lake.read("runs").where("job = 'maintain'").collect()
    assert [r["status"] for r in last] == ["succeeded"] and last[0]["row_counts"]["files_removed"] > 0
