"""The embedded demo: simulate a platform, then run the pipeline on local Spark, Delta and MLflow.

Each step is the same job a scheduler runs; the demo only chains them and says where things landed.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from genuine.config import Config
from jobs.common import base_parser, config_from

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    export_dir: Path
    steps: dict[str, object] = field(default_factory=dict)


def run(cfg: Config, accounts: int = 3000, days: int = 14, seed: int = 7,
        out: str | Path = "out/export") -> DemoResult:
    from jobs import ingest, simulate

    result = DemoResult(Path(out))
    # The simulator forks worker processes for big runs: it goes before the JVM starts.
    result.steps["simulate"] = simulate.run(cfg, accounts, days, seed, out)
    from genuine.session import get_spark

    spark = get_spark(cfg)
    result.steps["ingest"] = ingest.run(cfg, out, spark=spark)
    return result


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__ or "")
    p.add_argument("--accounts", type=int, default=3000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default="out/export")
    args = p.parse_args(argv)
    run(config_from(args), args.accounts, args.days, args.seed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
