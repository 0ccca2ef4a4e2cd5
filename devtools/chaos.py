"""Chaos check of `genuine daily` (make chaos; not part of `make test`).

A simulated platform is cut into day exports; a base lake holds every day but the last (backfilled), and
a champion is trained on synthetic features into the same MLflow store. The last day is run once without
interruption (the reference), then N times on fresh copies of the base lake: each trial starts
`genuine daily` as a subprocess, kills its whole process group (the JVM too) with SIGKILL at a random
moment (seeded), checks the lake, re-runs the day and checks again:

- no partial Delta version: every table's log is the contiguous versions 0..n, each commit file is whole
  JSON, and the latest version reads back with every data file it names;
- no duplicate row in any table, by the table's keys in the catalog (genuine/core/catalog.py);
- the fingerprints in the incremental state's manifests name the lake's own raw part files
  (`stale_fingerprints`);
- every table equals the reference's by content, except the columns in `WALL_CLOCK` (the time a row was
  written, which no two runs share), those in `PHYSICAL` (the fingerprints: a trial's files have other
  names than the reference's) and, in the run ledger, everything but (run_id, job, status, params):
  its times, Delta versions read and written, and row counts describe an attempt, and a retried attempt
  reads later versions (its own earlier commits) and counts what it skipped. Run ids are NOT excluded:
  the daily derives them from the date, so they must be equal.

Each step of the day is aimed at in turn (ingest, features, score, enforce, report, ingest, ...). The kill
is timed from the trial's own ledger, not from its launch: the script polls the trial lake's run ledger
until the aimed step has started (its `running` row is committed), then waits a delay: a share of that
step's duration (uniform in [0, 1)), the duration being the reference's scaled by the trial's own pace so
far (`trial_delay`), then kills. A trial that runs faster or slower than the reference
(another load) is still hit inside the aimed step; the step actually interrupted (read from the ledger
after the kill) is what is reported.

`--set` configures the day under test (the reference and the trials), `--base-set` the backfill of the
days before it, e.g. both `features.incremental=true`, so the day killed continues the incremental state.

The reference is also re-run once: a finished day must leave every table at its version. Prints the
trials, the violations, wall and CPU seconds and the load average; exit status 1 on any violation. The CPU
seconds are the waited-for children's: the JVMs PySpark starts are not waited for, so they undercount.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

from genuine.core import catalog
from genuine.core.config import Config, load_config
from genuine.core.lake.arrow import live_files, read_arrow
from genuine.core.logs import setup_logging
from genuine.features.state import FINGERPRINTED, day_lines, fingerprints

log = logging.getLogger(__name__)

# Columns holding the wall-clock time a row was written: they differ between any two runs.
WALL_CLOCK: dict[str, tuple[str, ...]] = {
    "scores": ("scored_at",), "quarantine": ("quarantined_at",), "account_status": ("since", "updated_at"),
    "action_log": ("decided_at", "logged_at"), "review_queue": ("enqueued_at",),
}
# Columns that name the lake's own part files (a manifest's fingerprint of the raw files it counted): a trial's
# raw tables hold the same rows in files of other names, so these are checked against the trial's own files
# (`stale_fingerprints`), not against the reference's.
PHYSICAL: dict[str, tuple[str, ...]] = {manifest: ("files",) for manifest in FINGERPRINTED}
RUNS_COMPARED = ("run_id", "job", "status", "params")
# The champion: synthetic features big enough for the promotion gates (as the account-model job tests).
CHAMPION = {"n": 3000, "seed": 11, "label_fraction": 0.6, "snapshot": date(2026, 10, 31)}
# Gates loosened as in the account-model tests: ~80 protected humans in the holdout, one flag moves an FPR
# by more than a point; this model only has to exist, it is judged nowhere.
CHAMPION_SETTINGS = ("model.hgb.max_iter=60", "model.permutation_repeats=2", "model.gates.protected_fpr_limit.auto=0.04",
                     "model.gates.protected_fpr_limit.review=0.2")


def train_champion(cfg: Config, spark: Any, truth: Path) -> str:
    """Register and promote an account model trained on synthetic features in cfg's lake and MLflow."""
    from genuine.core.lake import Lake
    from genuine.devtools.synthetic import TRAINING_SHARES, write_synthetic_lake
    from genuine.jobs import train

    write_synthetic_lake(Lake(spark, cfg), truth, CHAMPION["n"], CHAMPION["snapshot"], seed=CHAMPION["seed"],
                         label_fraction=CHAMPION["label_fraction"], shares=TRAINING_SHARES)
    trained = train.run(cfg, truth, spark=spark)
    if not trained.decision.promoted:
        raise RuntimeError(f"the synthetic champion was not promoted: {trained.decision.reasons}")
    return str(trained.decision.champion_after)


# --- checks (no Spark: delta-rs and pyarrow, so the only JVM is the daily's) ---------------------------
def tables_of(cfg: Config) -> dict[str, Path]:
    return {name: Path(cfg.table(name)) for name in catalog.TABLES if (Path(cfg.table(name)) / "_delta_log").is_dir()}


def versions(cfg: Config) -> dict[str, int]:
    return {name: DeltaTable(str(path)).version() for name, path in tables_of(cfg).items()}


def partial_versions(cfg: Config) -> list[str]:
    """Tables whose log has a gap or a torn commit, or whose latest version names a missing file."""
    bad = []
    for name, path in tables_of(cfg).items():
        commits = sorted(int(p.stem) for p in (path / "_delta_log").glob("*.json") if p.stem.isdigit())
        if commits != list(range(len(commits))):
            bad.append(f"{name}: log versions {commits[:3]}..{commits[-3:]} are not contiguous from 0")
            continue
        for n in commits:
            for line in (path / "_delta_log" / f"{n:020d}.json").read_text().splitlines():
                try:
                    json.loads(line)
                except ValueError:
                    bad.append(f"{name}: commit {n} is not whole JSON")
                    break
        try:
            read_arrow(str(path))
        except Exception as exc:         # a missing data file, an unreadable log: both are violations
            bad.append(f"{name}: latest version does not read back: {exc}")
    return bad


def _rows(path: Path, table: str) -> list[str]:
    t = read_arrow(str(path))
    left_out = (*WALL_CLOCK.get(table, ()), *PHYSICAL.get(table, ()))
    keep = RUNS_COMPARED if table == "runs" else [c for c in t.column_names if c not in left_out]
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in t.select(list(keep)).to_pylist())


def duplicates(cfg: Config) -> list[str]:
    bad = []
    for name, path in tables_of(cfg).items():
        keys = list(catalog.table(name).keys)
        t = read_arrow(str(path), columns=keys)
        n = t.num_rows
        distinct = t.group_by(keys).aggregate([]).num_rows if n else 0
        if distinct != n:
            bad.append(f"{name}: {n - distinct} duplicate rows by {keys}")
    return bad


def stale_fingerprints(cfg: Config) -> list[str]:
    """Manifest rows whose fingerprint is not that of the raw part files holding their day now. Nothing
    compacts the raw tables between the day's runs here, so every fingerprint a finished day leaves must name
    the lake's current files (a day fingerprinted over other files would be taken as counted when it is not)."""
    tables = tables_of(cfg)
    raw = sorted({t for group in FINGERPRINTED.values() for t in group})
    lines = {t: day_lines(t, live_files(str(tables[t]))) if t in tables else {} for t in raw}
    bad = []
    for manifest, group in FINGERPRINTED.items():
        if manifest not in tables:
            continue
        now = fingerprints(lines, group)
        for row in read_arrow(str(tables[manifest]), columns=[catalog.EVENT_DATE, "files"]).to_pylist():
            day = row[catalog.EVENT_DATE]
            if row["files"] is not None and row["files"] != now.get(day):
                bad.append(f"{manifest}: the fingerprint of {day} names other part files than the raw tables hold")
    return bad


def content(cfg: Config) -> dict[str, list[str]]:
    return {name: _rows(path, name) for name, path in tables_of(cfg).items()}


def differences(got: dict[str, list[str]], want: dict[str, list[str]]) -> list[str]:
    bad = []
    for name in sorted(set(got) | set(want)):
        a, b = Counter(got.get(name, [])), Counter(want.get(name, []))
        if a != b:
            bad.append(f"{name}: {sum((a - b).values())} rows not in the reference, {sum((b - a).values())} missing")
    return bad


# --- the driver -----------------------------------------------------------------------------------------
class Runner:
    """`genuine` subprocesses on one config; CPU seconds of the children that finished are summed."""

    def __init__(self, env: str, sets: list[str], log_dir: Path):
        self.env, self.sets, self.log_dir = env, sets, log_dir
        self.n = 0

    def argv(self, root: Path, *args: str) -> list[str]:
        sets = [*self.sets, f"lake.root={root}"]
        return [sys.executable, "-m", "genuine.cli.app", *args, "--env", self.env, *[x for s in sets for x in ("--set", s)]]

    def start(self, argv: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
        self.n += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = self.log_dir / f"{self.n:03d}-{argv[3]}.log"
        with out.open("wb") as fh:
            return subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True), out

    def run(self, argv: list[str]) -> float:
        t0 = time.monotonic()
        proc, out = self.start(argv)
        if proc.wait() != 0:
            raise RuntimeError(f"{' '.join(argv[3:5])} failed (exit {proc.returncode}): see {out}")
        return time.monotonic() - t0


def _cfg(env: str, sets: list[str], root: Path) -> Config:
    return load_config(env, [*sets, f"lake.root={root}"])


def prepare(args: argparse.Namespace) -> int:
    """In one process (one JVM): the champion, then the base lake backfilled up to the day before the last."""
    from genuine.core.session import get_spark
    from genuine.jobs.daily import backfill

    setup_logging()
    out, sets = Path(args.out), _sets(args)
    base = _cfg(args.env, sets, out / "base")
    spark = get_spark(base)
    train_champion(_cfg(args.env, [*sets, *CHAMPION_SETTINGS], out / "champion-lake"), spark,
                   out / "champion-lake" / "truth.parquet")
    first = date.fromisoformat(base.simulate.start_date)
    if args.days > 1:
        backfill(base, first, first + timedelta(days=args.days - 2), out / "days", spark)
    return 0


def prepare_command(args: argparse.Namespace, out: Path) -> list[str]:
    """The subprocess that trains the champion and backfills the base lake: `--set` there is `--base-set` here,
    so the days before the one killed can be run with the state the day under test continues from."""
    return [sys.executable, "-m", "genuine.devtools.chaos", "--prepare", "--out", str(out), "--days", str(args.days),
            "--env", args.env, *(["--engine", args.engine] if args.engine else []),
            *[x for s in args.base_sets for x in ("--set", s)]]


def _sets(args: argparse.Namespace) -> list[str]:
    out = Path(args.out).resolve()
    # One report folder for every lake: the report step's parameters (compared, in the ledger) name it.
    sets = [f"mlflow.tracking_uri=sqlite:///{out}/mlflow.db", f"privacy.key_file={out}/hmac.key",
            f"reports.root={out}/reports"]
    return sets + ([f"lake.engine={args.engine}"] if args.engine else []) + list(args.sets)


def _fresh(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)


def step_windows(runs: list[dict[str, Any]], started: datetime) -> dict[str, tuple[float, float]]:
    """Each daily step's (start, end), in seconds after `started` (the reference's launch), from the
    ledger's rows of its succeeded runs since then (the lake also holds the backfilled days' runs)."""
    from genuine.jobs.daily import STEPS

    windows = {r["job"]: ((r["started_at"] - started).total_seconds(), (r["ended_at"] - started).total_seconds())
               for r in runs if r["job"] in STEPS and r["status"] == "succeeded" and r["started_at"] >= started}
    return {step: windows[step] for step in STEPS if step in windows}


def kill_moments(windows: dict[str, tuple[float, float]], trials: int, rng: random.Random,
                 only: list[str] | None = None) -> list[tuple[str, float]]:
    """(step aimed at, share of that step's duration) per trial: the steps in turn (or those of `only`), each
    share uniform in [0, 1). The share becomes a delay only in the trial (`trial_delay`), at the pace the
    trial runs."""
    steps = [s for s in windows if only is None or s in only]
    if not steps:
        raise ValueError(f"the reference run's ledger has no step run since its launch{' among ' + str(only) if only else ''}: "
                         "nothing to aim at")
    return [(steps[i % len(steps)], rng.random()) for i in range(trials)]


def trial_delay(windows: dict[str, tuple[float, float]], step: str, share: float, began: float) -> float:
    """Seconds after the step's start in the trial: `share` of the step's duration in the reference, scaled
    by the trial's pace so far (its start of the step over the reference's). A trial that runs faster than
    the reference (less load) gets a shorter delay, so the kill still lands inside the step."""
    start, end = windows[step]
    pace = began / start if start > 0 else 1.0
    return share * (end - start) * pace


def step_start(runs: list[dict[str, Any]], step: str, since: datetime) -> float | None:
    """Seconds after `since` at which the ledger's first run of `step` started since then (running or
    already ended); None while there is none."""
    starts = [r["started_at"] for r in runs if r["job"] == step and r["started_at"] is not None
              and r["started_at"] >= since]
    return (min(starts) - since).total_seconds() if starts else None


def wait_for_step(cfg: Config, proc: subprocess.Popen[bytes], step: str, since: datetime,
                  poll_s: float) -> float | None:
    """Poll the trial's ledger until `step` has started: `step_start`, or None when the process ended first."""
    runs_log = Path(cfg.table("runs")) / "_delta_log"
    while proc.poll() is None:
        began = step_start(_ledger_rows(cfg), step, since) if runs_log.is_dir() else None
        if began is not None:
            return began
        time.sleep(poll_s)
    return None


def _ledger_rows(cfg: Config) -> list[dict[str, Any]]:
    return read_arrow(cfg.table("runs"), columns=["job", "status", "started_at", "ended_at"]).to_pylist()


def _running_step(cfg: Config) -> str:
    """The steps left `running` in the ledger by the kill (what it interrupted)."""
    if not (Path(cfg.table("runs")) / "_delta_log").is_dir():
        return "start-up"
    runs = _ledger_rows(cfg)
    left = sorted(r["job"] for r in runs if r["status"] == "running" and r["job"] != "daily")
    return ",".join(left) or "between steps"


def chaos(args: argparse.Namespace) -> int:
    from genuine.devtools.day_exports import split_by_day
    from genuine.devtools.simulator import simulate

    setup_logging()
    out = Path(args.out).resolve()
    sets = _sets(args)
    t_start, load_start = time.monotonic(), os.getloadavg()
    first = date.fromisoformat(load_config(args.env).simulate.start_date)
    day = first + timedelta(days=args.days - 1)
    spec = {"accounts": args.accounts, "days": args.days, "seed": args.seed, "engine": args.engine,
            "base_sets": args.base_sets}
    marker = out / "prepared.json"
    runner = Runner(args.env, sets, out / "logs")
    if not marker.exists() or json.loads(marker.read_text()) != spec:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        simulate(args.accounts, args.days, args.seed, out / "export", start_date=first.isoformat(), workers=1)
        split_by_day(out / "export", out / "days", first, args.days)
        prep = prepare_command(args, out)
        log.info("preparing the champion and the base lake (%d days backfilled)", args.days - 1)
        runner.run(prep)
        marker.write_text(json.dumps(spec))
    (out / "base").mkdir(exist_ok=True)       # empty when the day killed is the first
    daily = ["daily", "--date", day.isoformat(), "--export", str(out / "days" / day.isoformat())]

    ref_root = out / "reference"
    _fresh(out / "base", ref_root)
    ref_cfg = _cfg(args.env, sets, ref_root)
    launched = datetime.now(UTC)
    ref_wall = runner.run(runner.argv(ref_root, *daily))
    windows = step_windows(_ledger_rows(ref_cfg), launched)
    before = versions(ref_cfg)
    want = content(ref_cfg)
    violations = [f"reference: {v}" for v in partial_versions(ref_cfg) + duplicates(ref_cfg) + stale_fingerprints(ref_cfg)]
    runner.run(runner.argv(ref_root, *daily))
    moved = {t: (v, versions(ref_cfg).get(t)) for t, v in before.items() if versions(ref_cfg).get(t) != v}
    if moved:
        violations.append(f"reference re-run of a finished day wrote new versions: {moved}")
    log.info("reference day %s: %.0f s wall; a second run changed %d tables", day, ref_wall, len(moved))

    steps_s = {k: [round(a, 1), round(b, 1)] for k, (a, b) in windows.items()}
    log.info("reference steps (s after launch): %s", steps_s)

    where: Counter[str] = Counter()
    moments = kill_moments(windows, args.trials, random.Random(args.seed), args.steps)
    trial_root = out / "trial"
    hits: list[dict[str, Any]] = []
    for i, (aimed, share) in enumerate(moments):
        _fresh(out / "base", trial_root)
        cfg = _cfg(args.env, sets, trial_root)
        since = datetime.now(UTC)
        proc, logf = runner.start(runner.argv(trial_root, *daily))
        began = wait_for_step(cfg, proc, aimed, since, args.poll)
        delay = trial_delay(windows, aimed, share, began) if began is not None else 0.0
        at = (began or 0.0) + delay
        if began is None:
            killed = f"finished before {aimed} was seen running"
        else:
            try:
                proc.wait(timeout=delay)
                killed = "finished before the kill"
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                killed = _running_step(cfg)
        where[killed] += 1
        found = [f"after the kill: {v}" for v in partial_versions(cfg)]
        try:
            runner.run(runner.argv(trial_root, *daily))
        except RuntimeError as exc:
            found.append(f"the re-run failed: {exc}")
        else:
            found += (partial_versions(cfg) + duplicates(cfg) + stale_fingerprints(cfg)
                      + differences(content(cfg), want))
        log.info("trial %d/%d: aimed at %s, %.1f s into it (%.1f s after launch): killed in %s: %s", i + 1,
                 args.trials, aimed, delay, at, killed, "; ".join(found) or "no violation")
        hits.append({"aimed": aimed, "share": round(share, 3), "delay_s": round(delay, 1), "at_s": round(at, 1),
                     "killed_in": killed})
        violations += [f"trial {i + 1} (kill at {at:.1f} s, {killed}): {v}" for v in found]

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {"trials": args.trials, "violations": len(violations), "accounts": args.accounts, "days": args.days,
               "seed": args.seed, "day": day.isoformat(), "reference_wall_s": round(ref_wall, 1),
               "reference_steps_s": steps_s,
               "wall_s": round(time.monotonic() - t_start, 1),
               "cpu_s_children": round(usage.ru_utime + usage.ru_stime, 1),
               "load_average_start": [round(x, 2) for x in load_start],
               "load_average_end": [round(x, 2) for x in os.getloadavg()], "killed_in": dict(where),
               "aimed_at": dict(Counter(step for step, _ in moments)),
               "hit_aimed_step": sum(h["killed_in"] == h["aimed"] for h in hits), "trials_detail": hits}
    for v in violations:
        print(f"VIOLATION {v}")
    print(json.dumps(figures, indent=1))
    print(f"chaos: {args.trials} trials, {len(violations)} violations")
    return 1 if violations else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=300)
    p.add_argument("--days", type=int, default=3, help="simulated days; the last one is the day killed")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=7, help="the platform's and the kill moments' seed")
    p.add_argument("--out", default="chaos-out")
    p.add_argument("--env", default="local")
    p.add_argument("--engine", default=None, help="lake.engine (default: the environment's)")
    p.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE",
                   help="config override for the day under test (the reference and the trials), e.g. "
                        "features.incremental=true; the base lake's backfill runs without it (see --base-set)")
    p.add_argument("--base-set", action="append", default=[], dest="base_sets", metavar="KEY=VALUE",
                   help="config override for the base lake's backfill, e.g. features.incremental=true, so that the "
                        "day under test continues the incremental state of the days before it")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between two reads of the trial's ledger")
    p.add_argument("--steps", type=lambda v: v.split(","), default=None, metavar="STEP,...",
                   help="aim only at these steps of the day (default: every step in turn), e.g. features")
    p.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return prepare(args) if args.prepare else chaos(args)


if __name__ == "__main__":
    sys.exit(main())
