"""The demo's round of moderator work (devtools/demo.py moderator_round) on the enforced test lake: the top
of the open queue decided from the truth with the configured error rate (same seeded draws, recomputed
here), through the real review and appeal imports; appeals filed, one decided, the rest left open; and the
command that opens the console on those tables."""

from __future__ import annotations

import numpy as np

from genuine.cli.app import _print_moderators
from genuine.cli.common import console as cli_console
from genuine.devtools.demo import DemoResult, console_command, moderator_round
from tests.console.conftest import open_queue, table

N, ERROR = 12, 0.25


def test_moderator_round_decides_the_top_of_the_queue_from_the_truth(spark, enforced_copy, tmp_path):
    cfg, inputs = enforced_copy(f"demo.moderator_round={N}", f"demo.moderator_error_rate={ERROR}",
                                "demo.appeals_filed=2", "demo.appeals_decided=1")
    truth = tmp_path / "accounts.parquet"
    inputs.truth[["account_id", "population", "strategy"]].to_parquet(truth)
    is_ai = dict(zip(inputs.truth.account_id, inputs.truth.population == "ai", strict=True))
    top = list(open_queue(cfg).account_id[:N])
    rng = np.random.default_rng(cfg.demo.seed)
    flips = [bool(rng.random() < ERROR) for _ in top]
    drawn = {a: ("confirm" if is_ai[a] != f else "clear") for a, f in zip(top, flips, strict=True)}
    # The fixture queues two accounts missing from raw_accounts (route account_unknown): the import rejects them.
    known = set(inputs.accounts.account_id)
    expected = {a: d for a, d in drawn.items() if a in known}
    unknown = N - len(expected)
    assert unknown > 0, "the fixture's queue top should hold an account the import rejects"

    m = moderator_round(cfg, spark, truth, tmp_path / "decisions")

    assert (m.decided, m.wrong, m.review.applied) == (N, sum(flips), len(expected))
    assert m.review.rejected == {"unknown_account": unknown}
    dec = table(cfg, "decisions")
    rev = dec[dec.kind == "review"]
    assert dict(zip(rev.account_id, rev.decision, strict=True)) == expected
    assert set(rev.moderator_id) == {cfg.demo.moderator_id}
    status = table(cfg, "account_status").set_index("account_id")
    confirmed = sorted((a for a, d in expected.items() if d == "confirm"), key=lambda a: (is_ai[a], a))
    assert len(confirmed) >= 2, "the fixture's queue top must hold two confirms for this test"
    assert m.appeals_filed == confirmed[:2] and m.open_appeals == confirmed[1:2]
    first = confirmed[0]
    assert status.loc[first, "status"] == ("upheld" if is_ai[first] else "restored")
    for a, d in expected.items():
        if a != first:
            assert status.loc[a, "status"] == {"confirm": "confirmed", "clear": "cleared"}[d]
    appeals = table(cfg, "appeals")
    assert sorted(appeals.account_id) == sorted(confirmed[:2])
    out = dec[dec.kind == "appeal"]
    assert list(zip(out.account_id, out.moderator_id, strict=True)) == [(first, cfg.demo.appeals_officer_id)]

    cmd = console_command(cfg)
    assert cmd.startswith("genuine console serve --env test --set lake.root=")
    assert f"lake.root={cfg.lake.root}" in cmd

    # `genuine demo` (make demo) ends with this round's summary and, last, that command.
    with cli_console.capture() as out:
        _print_moderators(cfg, DemoResult(tmp_path, {"moderators": m}))
    lines = out.get().splitlines()
    assert lines[-1].strip() == cmd
    assert f"{len(m.appeals_filed)} filed, 1 decided by the appeals officer, 1 open in the console" in out.get()
