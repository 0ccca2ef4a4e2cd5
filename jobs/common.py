"""What every job entrypoint shares: arguments, config, session, lake and the run ledger."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from genuine.core.config import Config, load_config
from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from genuine.core.logs import setup_logging
from genuine.core.session import get_spark

log = logging.getLogger(__name__)

# Test hook: a job named here ends its process (os._exit, no clean-up, like kill -9) after its work is
# committed and before its ledger entry says succeeded: the nastiest point for a re-run to recover from
# (tests/jobs/test_daily.py). Unset in production.
EXIT_ENV = "GENUINE_EXIT_BEFORE_SUCCESS"


@dataclass
class JobContext:
    cfg: Config
    spark: SparkSession
    lake: Lake
    ledger: RunLedger

    @property
    def run_id(self) -> str:
        return self.ledger.run_id


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--env", default=None, help="config environment (conf/<env>.yml); default $GENUINE_ENV or local")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set lake.root=/tmp/x (repeatable)")
    p.add_argument("--run-id", default=None, help="reuse a run id to retry a run: committed writes are skipped")
    return p


def config_from(args: argparse.Namespace) -> Config:
    setup_logging()
    return load_config(args.env, args.overrides)


@contextmanager
def job(name: str, cfg: Config, params: dict[str, Any] | None = None, run_id: str | None = None,
        spark: SparkSession | None = None) -> Iterator[JobContext]:
    """Session + lake + a ledger entry that ends as succeeded or failed (with its error)."""
    spark = spark or get_spark(cfg)
    lake = Lake(spark, cfg)
    with RunLedger(lake, name, params, run_id) as ledger:
        yield JobContext(cfg, spark, lake, ledger)
        if os.environ.get(EXIT_ENV) == name:
            log.warning("%s=%s: ending the process before the ledger records success (test hook)", EXIT_ENV, name)
            os._exit(137)
