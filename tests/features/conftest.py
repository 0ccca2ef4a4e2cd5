"""A tiny simulated platform, ingested once, shared by the feature-job tests (CLI and point in time)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from genuine.devtools.simulator import simulate
from genuine.jobs import ingest

TINY = {"n_accounts": 300, "days": 7, "seed": 11}


@dataclass
class TinyLake:
    cfg: object
    overrides: list[str]     # --set arguments that give a CLI command this config
    root: Path
    export: Path

    @property
    def truth(self) -> Path:
        return self.export / "_truth" / "accounts.parquet"


@pytest.fixture(scope="session")
def tiny_lake(spark, cfg_factory, tmp_path_factory) -> TinyLake:
    root = tmp_path_factory.mktemp("tiny_lake")
    overrides = [f"lake.root={root}", f"mlflow.tracking_uri=sqlite:///{root}/mlflow.db",
                 f"privacy.key_file={root}/hmac.key", "lake.engine=delta-rs",
                 f"features.separation.out_dir={root}/reports"]
    cfg = cfg_factory(*overrides[4:], root=root)
    export = root / "export"
    simulate(TINY["n_accounts"], TINY["days"], TINY["seed"], export, start_date=cfg.simulate.start_date,
             label_fraction=cfg.simulate.label_fraction, workers=1)   # no fork: the JVM is running
    ingest.run(cfg, export, spark=spark)
    return TinyLake(cfg, overrides, root, export)
