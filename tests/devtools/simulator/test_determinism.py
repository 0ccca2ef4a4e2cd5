"""Same seed, same bytes (whatever the number of worker processes); runs are measured and reported."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from genuine.devtools.bench.simulate import bench
from genuine.devtools.simulator import params as P
from genuine.devtools.simulator import simulate


@pytest.fixture
def tiny(small_shares) -> dict:
    """Two chunks of 120 accounts over 4 days: every strategy present, a second or two per run."""
    return {"n_accounts": 240, "days": 4, "chunk_accounts": 120, "shares": small_shares}


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


def test_same_seed_gives_byte_identical_parquet_with_one_or_two_workers(tmp_path, tiny):
    one = simulate(seed=5, out_dir=tmp_path / "a", workers=1, **tiny)
    two = simulate(seed=5, out_dir=tmp_path / "b", workers=2, **tiny)
    assert one.rows == two.rows
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert len(a) == 12   # 5 entities x 2 chunks + labels + truth
    assert a == b
    other = digest(simulate(seed=6, out_dir=tmp_path / "c", workers=1, **tiny).out_dir)
    assert other.keys() == a.keys()
    assert all(other[k] != a[k] for k in a), "a different seed must change every file"
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        ["_truth", "accounts", "interactions", "labels", "posts", "reports", "sessions"])


def test_rerun_into_the_same_folder_leaves_no_stale_parts(tmp_path, tiny, read_export):
    simulate(seed=5, out_dir=tmp_path, workers=1, **tiny)
    small = simulate(seed=5, out_dir=tmp_path, workers=1, **{**tiny, "n_accounts": 100, "chunk_accounts": 100})
    assert sorted(p.name for p in (tmp_path / "posts").glob("*.parquet")) == ["part-00000.parquet"]
    tables, truth = read_export(tmp_path)
    assert len(tables["accounts"]) == len(truth) == 100
    assert small.rows == {e: len(t) for e, t in tables.items()}


def test_progress_reports_every_step(tmp_path, tiny):
    seen: list[tuple[int, int]] = []
    simulate(seed=1, out_dir=tmp_path, workers=1, progress=lambda d, t: seen.append((d, t)), **tiny)
    assert seen == [(i, 5) for i in range(1, 6)]   # 2 chunks x 2 passes + labels/truth


def test_brigades_report_one_person_within_an_hour(tmp_path, monkeypatch, tiny, read_export):
    monkeypatch.setattr(P, "BRIGADES_PER_10K", 400.0)
    simulate(seed=2, out_dir=tmp_path, workers=1, **tiny)
    tables, truth = read_export(tmp_path)
    rep = tables["reports"].merge(truth, left_on="reported_account_id", right_on="account_id")
    burst = rep[rep.population != "ai"].groupby("reported_account_id").created_at.agg(
        ["size", lambda t: t.max() - t.min()])
    burst.columns = ["size", "span"]
    assert ((burst["size"] >= 5) & (burst["span"] <= 3_600_000)).any()


def test_bench_reports_time_memory_and_throughput(tmp_path, small_shares):
    result = bench(120, 2, tmp_path, workers=1, shares=small_shares, chunk_accounts=120)
    assert result["events"] == sum(result["rows"].values()) > 0
    assert result["wall_seconds"] > 0 and result["cpu_seconds"] > 0 and result["peak_rss_mib"] > 10
    # wall_seconds is rounded to 10 ms: the rate must lie within what that rounding allows
    wall = result["wall_seconds"]
    assert result["events"] / (wall + 0.006) <= result["events_per_second"] <= result["events"] / max(wall - 0.006, 1e-3)
    assert result["bytes_on_disk"] > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"shares": {"robot": 1.0}}, "unknown strategies"),
    ({"shares": {"ordinary": 0.0}}, "not all zero"),
    ({"label_fraction": 1.5}, "label_fraction"),
    ({"n_accounts": 0}, "n_accounts"),
])
def test_bad_arguments_are_refused_with_a_clear_message(tmp_path, kwargs, message):
    args = {"n_accounts": 10, "days": 1, "seed": 1, "out_dir": tmp_path, **kwargs}
    with pytest.raises(ValueError, match=message):
        simulate(**args)


def test_labels_follow_the_error_rate(tmp_path, tiny, read_export):
    simulate(seed=3, out_dir=tmp_path, workers=1, moderator_error_rate=0.0, label_fraction=1.0, **tiny)
    tables, truth = read_export(tmp_path)
    lab = tables["labels"].merge(truth, on="account_id")
    assert len(lab) == len(truth)
    expected = lab.population.map({"ai": "ai_managed", "human": "human", "unusual_human": "human"})
    pd.testing.assert_series_equal(lab.label, expected, check_names=False)
