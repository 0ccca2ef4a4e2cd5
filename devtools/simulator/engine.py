"""The platform simulator: writes a platform export (input contract) plus the ground truth.

Two passes over chunks of accounts keep memory bounded:
1. accounts and posts per chunk; only a compact index of every post (author, time) is kept;
2. interactions, sessions and reports per chunk, with targets drawn from the whole platform's posts
   (a popularity-weighted feed), so engagement crosses chunk boundaries like on a real platform.
Every step is vectorized over the events of a chunk; Python loops run over strategies, farms and rings
(tens per chunk), never over events.

This module is the orchestration (chunks, the fork pool, labels and truth at the end); pass 1 is
posts.py, pass 2 is activity.py, the shared encoders and writer are encode.py and schema.py.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.activity import Targets, write_activity
from genuine.devtools.simulator.encode import Ids
from genuine.devtools.simulator.population import S_LABELS, S_SHIFT, Population, build_population, rng_for
from genuine.devtools.simulator.posts import PostIndex, accounts_columns, post_columns
from genuine.devtools.simulator.schema import ENTITIES, TRUTH_DIR, TRUTH_FILE, TRUTH_SCHEMA, write_part
from genuine.devtools.simulator.strategies import build_timeline

logger = logging.getLogger(__name__)


@dataclass
class SimulationSummary:
    """What a simulation wrote: rows and part files per entity, the truth file, and the time it took."""

    out_dir: Path
    n_accounts: int
    days: int
    seed: int
    start_date: str
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    truth_path: Path | None = None
    truth_rows: int = 0
    seconds: float = 0.0

    @property
    def events(self) -> int:
        """Rows across all entities of the export (the benchmark's event count)."""
        return sum(self.rows.values())


def _start_ms(start_date: str) -> int:
    dt = datetime.fromisoformat(start_date)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _clear_previous(out: Path) -> None:
    """Remove part files of an earlier run in the same folder, so a smaller run leaves no stale parts."""
    for entity in ENTITIES:
        for old in sorted((out / entity).glob("part-*.parquet")):
            old.unlink()
    truth = out / TRUTH_DIR / TRUTH_FILE
    if truth.exists():
        truth.unlink()


# --- labels and truth -------------------------------------------------------------------------------------


def _labels(pop: Population, seed: int, sim: P.SimParams, first_seen: np.ndarray, ids: Ids) -> dict[str, pa.Array]:
    """Moderator labels for a stratified sample (every strategy represented), ~1 % of them wrong."""
    rng = rng_for(seed, 0, S_LABELS)
    chosen = []
    for code in range(len(P.STRATEGIES)):
        members = np.flatnonzero(pop.strategy == code)
        if members.size == 0 or sim.label_fraction <= 0:
            continue
        k = min(members.size, max(1, int(round(sim.label_fraction * members.size))))
        chosen.append(rng.choice(members, size=k, replace=False))
    acc = np.sort(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)
    is_ai = np.array([P.STRATEGY_POPULATION[s] == "ai" for s in P.STRATEGIES])[pop.strategy[acc]]
    wrong = rng.random(acc.size) < sim.moderator_error_rate
    label = np.where(is_ai ^ wrong, "ai_managed", "human")
    seen = np.where(first_seen[acc] < np.iinfo(np.int64).max, first_seen[acc], pop.t0[acc])
    # A hijacked account or a sleeper comes to a moderator once it misbehaves, as its reports do: before
    # the takeover or the wake-up it was a person's account or a silent one, and no evidence could be seen.
    switch = pop.switch_ms[acc]
    seen = np.where(switch < pop.end_ms, np.maximum(seen, switch), seen)
    seen = np.minimum(seen, pop.end_ms - 2)
    span = pop.end_ms - 2 - seen          # decided in (seen, end): late in what is left of the period
    decided = seen + 1 + (rng.uniform(0.4, 1.0, acc.size) * span).astype(np.int64)
    if pop.shift is not None:
        decided = _labelled_before_shift(pop, seed, seen, decided)
    return {
        "account_id": ids.account(acc),
        "label": pa.array(label, type=pa.string()),
        "source": pa.array(np.full(acc.size, "moderator"), type=pa.string()),
        "decided_at": pa.array(decided.astype(np.int64)),
    }


def _labelled_before_shift(pop: Population, seed: int, seen: np.ndarray, decided: np.ndarray) -> np.ndarray:
    """On a shifted platform, `labelled_before_share` of the labels of accounts seen before the shift are
    decided before it (same rule, the shift as the end), so a model trained on the first half has labels to
    learn from. Own stream, drawn after the unshifted labels."""
    assert pop.shift is not None
    at = pop.shift.at_ms(pop.start_ms)
    rng = rng_for(seed, 1, S_SHIFT)
    pick = (seen < at - 2) & (rng.random(seen.size) < pop.shift.labelled_before_share)
    early = seen + 1 + (rng.uniform(0.4, 1.0, seen.size) * np.maximum(at - 2 - seen, 0)).astype(np.int64)
    return np.where(pick, early, decided)


def _truth(pop: Population, ids: Ids) -> pa.Table:
    acc = np.arange(pop.n, dtype=np.int64)
    strategy = pa.array(list(P.STRATEGIES)).take(pa.array(pop.strategy.astype(np.int64)))
    population = pa.array([P.STRATEGY_POPULATION[s] for s in P.STRATEGIES]).take(pa.array(pop.strategy.astype(np.int64)))
    names = pa.array(pop.cluster_names + [""], type=pa.string())
    cl = pop.cluster.astype(np.int64)
    cluster = names.take(pa.array(np.where(cl >= 0, cl, 0), mask=cl < 0))
    return pa.Table.from_arrays([ids.account(acc), population, strategy, cluster], schema=TRUTH_SCHEMA)


# --- orchestration ----------------------------------------------------------------------------------------


@dataclass
class _Context:
    """What a chunk job needs. Forked workers inherit it (and the post index) without copying."""

    pop: Population
    seed: int
    out: Path
    index: PostIndex | None = None
    _targets: Targets | None = None

    @property
    def ids(self) -> Ids:
        return Ids(self.seed)

    def targets(self) -> Targets:
        if self._targets is None:
            self._targets = Targets.of(self.pop)
        return self._targets


def _pass1(ctx: _Context, chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    """Accounts and posts of one chunk; returns the compact (author, time) of its posts."""
    pop, seed, ids = ctx.pop, ctx.seed, ctx.ids
    written = {"accounts": write_part(ctx.out, "accounts", chunk, accounts_columns(pop, chunk, seed, ids))}
    cols, author, when = post_columns(pop, chunk, seed, build_timeline(pop, chunk, seed), ids)
    written["posts"] = write_part(ctx.out, "posts", chunk, cols)
    return written, author.astype(np.int32), when


def _pass2(ctx: _Context, chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    """Interactions, sessions and reports of one chunk (activity.write_activity)."""
    if ctx.index is None:
        raise RuntimeError("pass 2 needs the post index built after pass 1")
    return write_activity(ctx.pop, ctx.seed, ctx.ids, ctx.out, ctx.index, ctx.targets(), chunk)


_FORKED: dict[str, _Context] = {}   # set just before forking; read by the pool's jobs


def _job1(chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    return _pass1(_FORKED["ctx"], chunk)


def _job2(chunk: int) -> tuple[dict[str, tuple[str, int]], np.ndarray, np.ndarray]:
    return _pass2(_FORKED["ctx"], chunk)


def _chunks(ctx: _Context, n_chunks: int, workers: int, job: Callable[[int], Any],
            inline: Callable[[_Context, int], Any]) -> Iterator[Any]:
    """Run one pass over all chunks, in chunk order, in this process or in a fork pool."""
    if workers <= 1:
        for chunk in range(n_chunks):
            yield inline(ctx, chunk)
        return
    _FORKED["ctx"] = ctx
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(job, range(n_chunks))
    finally:
        _FORKED.clear()


def default_workers(n_chunks: int) -> int:
    """One process per core, at most one per chunk (a single chunk is not worth a pool); one where the
    platform cannot fork."""
    if "fork" not in mp.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, n_chunks))


def simulate(n_accounts: int, days: int, seed: int, out_dir: str | Path, start_date: str = "2026-10-01",
             label_fraction: float = 0.3, progress: Callable[[int, int], None] | None = None, *,
             shares: Mapping[str, float] | None = None, chunk_accounts: int = P.CHUNK_ACCOUNTS,
             moderator_error_rate: float = P.MODERATOR_ERROR_RATE, workers: int | None = None,
             shift: P.Shift | None = None) -> SimulationSummary:
    """Write a simulated platform export (input contract) and its ground truth to `out_dir`.

    Same arguments, same bytes, whatever `workers` is: every random draw comes from a stream keyed by
    (seed, chunk, purpose) and each chunk writes its own part files. `progress(done, total)` is called
    after each step (two per chunk, one for labels and truth). `shares` overrides DEFAULT_SHARES (missing
    strategies get 0, the rest is renormalized). `shift` makes AI strategies change mid-window
    (params.Shift); None, the default, writes exactly what the simulator wrote before the option existed.
    """
    if n_accounts < 1 or days < 1:
        raise ValueError("n_accounts and days must be >= 1")
    began = time.perf_counter()
    sim = P.SimParams(dict(shares) if shares is not None else dict(P.DEFAULT_SHARES), chunk_accounts,
                      label_fraction, moderator_error_rate).validated()
    start_ms = _start_ms(start_date)
    end_ms = start_ms + days * P.DAY_MS
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    if shift is not None:
        shift = shift.validated(days)
    pop = build_population(n_accounts, seed, start_ms, end_ms, sim, shift)
    ctx = _Context(pop, seed, out)
    n_chunks = pop.n_chunks
    workers = default_workers(n_chunks) if workers is None else max(1, min(workers, n_chunks))
    if workers > 1 and "fork" not in mp.get_all_start_methods():
        logger.warning("this platform cannot fork: simulating with one process")
        workers = 1
    total, step = 2 * n_chunks + 1, 0
    summary = SimulationSummary(out, n_accounts, days, seed, start_date)
    first_seen = np.full(pop.n, np.iinfo(np.int64).max, dtype=np.int64)

    def record(written: dict[str, tuple[str, int]]) -> None:
        nonlocal step
        for entity, (path, rows) in written.items():
            summary.files.setdefault(entity, []).append(path)
            summary.rows[entity] = summary.rows.get(entity, 0) + rows
        step += 1
        if progress is not None:
            progress(step, total)

    authors, times = [], []
    for chunk, (written, author, when) in enumerate(_chunks(ctx, n_chunks, workers, _job1, _pass1)):
        record(written)
        np.minimum.at(first_seen, author, when)
        authors.append(author)
        times.append(when)
        logger.info("simulate pass 1 chunk %d/%d: %d posts", chunk + 1, n_chunks, author.size)
    ctx.index = PostIndex.build(pop, authors, times, seed)
    ctx.targets()   # built once here, inherited by the workers
    del authors, times
    for chunk, (written, seen_acc, seen_t) in enumerate(_chunks(ctx, n_chunks, workers, _job2, _pass2)):
        record(written)
        np.minimum.at(first_seen, seen_acc, seen_t)
        logger.info("simulate pass 2 chunk %d/%d", chunk + 1, n_chunks)
    ctx.index = None
    ids = ctx.ids
    labels = write_part(out, "labels", 0, _labels(pop, seed, sim, first_seen, ids))
    truth = _truth(pop, ids)
    (out / TRUTH_DIR).mkdir(exist_ok=True)
    summary.truth_path = out / TRUTH_DIR / TRUTH_FILE
    pq.write_table(truth, summary.truth_path, compression="zstd")
    summary.truth_rows = truth.num_rows
    record({"labels": labels})
    summary.seconds = time.perf_counter() - began
    logger.info("simulated %d accounts x %d days with %d worker(s): %s rows in %.1f s", n_accounts, days, workers,
                summary.rows, summary.seconds)
    return summary
