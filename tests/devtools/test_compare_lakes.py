"""The cluster demo's verdict (devtools/compare_lakes.py): equal tables pass whatever their run ids and row
order, and every kind of difference it must see is reported for the column it is in."""

from __future__ import annotations

from datetime import date

import pandas as pd

from genuine.devtools.compare_lakes import RTOL, compare_frames

D = date(2026, 10, 14)


def scores(run: str, score_b: float = 0.25, band_b: str = "review") -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["a", "b"], "snapshot_date": [D, D], "score": [0.5, score_b], "band": ["none", band_b],
        "reasons": [[{"family": "behaviour", "value": 1.0}], []], "model_version": ["1", "1"],
        "scoring_run_id": [run, run], "model_run_id": [run + "m", run + "m"],
        "scored_at": pd.to_datetime(["2026-12-05T10:00:00Z"] * 2) if run == "r1" else pd.to_datetime(["2026-12-05T11:00:00Z"] * 2),
    })


def test_equal_tables_pass_whatever_the_run_and_the_row_order():
    a, b = scores("r1"), scores("r2").iloc[::-1]
    diff = compare_frames("scores", a, b)
    assert diff.equal and diff.rows == (2, 2)
    assert (diff.columns_compared, diff.exact_columns) == (6, 6)


def test_a_double_within_the_tolerance_is_equal_but_not_bit_for_bit():
    diff = compare_frames("scores", scores("r1"), scores("r2", score_b=0.25 * (1 + RTOL / 10)))
    assert diff.equal and diff.exact_columns == 5


def test_every_difference_is_named():
    far = compare_frames("scores", scores("r1"), scores("r2", score_b=0.26, band_b="auto"))
    assert far.problems == (f"score: 1 rows differ beyond rtol {RTOL}", "band: 1 rows differ")
    nested = scores("r2")
    nested.at[0, "reasons"] = [{"family": "behaviour", "value": 2.0}]
    assert compare_frames("scores", scores("r1"), nested).problems == ("reasons: 1 rows differ",)
    assert compare_frames("scores", scores("r1"), scores("r2").iloc[:1]).problems == ("2 rows against 1",)
    other = scores("r2").assign(account_id=["a", "c"])
    assert compare_frames("scores", scores("r1"), other).problems == ("the row keys differ",)
