"""Write a simulated platform export in the input contract (python jobs/simulate.py --accounts N ...).

Needs no Spark: the simulator is vectorized numpy writing Parquet, so it also runs where no JVM is.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from rich.progress import Progress

from genuine.core.config import Config, ShiftConfig
from genuine.devtools.simulator import SimulationSummary, simulate
from genuine.devtools.simulator import params as P
from genuine.jobs.common import base_parser, config_from

log = logging.getLogger(__name__)


def shift_of(c: ShiftConfig) -> tuple[P.Shift | None, dict[str, float] | None]:
    """The simulator's Shift and shares for `simulate.shift` (None, None when it is off)."""
    if not c.enabled:
        return None, None
    shift = P.Shift(c.at_day, c.new_strategy, c.retimed_strategy, c.retimed_as, c.new_spread_days,
                    c.labelled_before_share)
    if c.new_share is None or c.new_strategy is None:
        return shift, None
    rest = {s: v for s, v in P.DEFAULT_SHARES.items() if s != c.new_strategy}
    total = sum(rest.values())
    return shift, {**{s: v / total * (1 - c.new_share) for s, v in rest.items()}, c.new_strategy: c.new_share}


def run(cfg: Config, accounts: int, days: int, seed: int, out: str | Path,
        workers: int | None = None) -> SimulationSummary:
    """Simulate with the config's start date, label share and shift; `workers=1` simulates in this
    process (no fork: for a caller whose JVM is already up)."""
    with Progress(transient=True) as bar:
        task = bar.add_task("simulating accounts", total=accounts)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        shift, shares = shift_of(cfg.simulate.shift)
        summary = simulate(accounts, days, seed, out, start_date=cfg.simulate.start_date,
                           label_fraction=cfg.simulate.label_fraction, progress=progress, shift=shift, shares=shares,
                           workers=workers)
    log.info("simulated %d accounts x %d days: %s in %.1fs", accounts, days, summary.rows, summary.seconds)
    return summary


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
