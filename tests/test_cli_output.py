"""CLI output that is not a terminal (a scheduler's log, a pipe) keeps whole tables and whole lines:
rich would otherwise assume 80 columns and cut cells to "precisi…" and "held_ou…"."""

from __future__ import annotations

import pandas as pd
import typer
from typer.testing import CliRunner

from genuine.cli.app import CHAMPION_COLUMNS, champion_table
from genuine.cli.common import RULE_COLUMNS, console, make_table

STRATEGIES = ["human_ordinary", "ai_engagement_farm_coordinated", "ai_assisted_disclosed_creator"]


def _summary() -> pd.DataFrame:
    rows = [{"section": "overall", "name": "random_holdout", "n": 1200.0}]
    rows += [{"section": "held_out_strategy", "name": s, "n": 400.0} for s in STRATEGIES]
    rows += [{"section": "protected", "name": "declared_ai_assisted_accounts", "n": 90.0}]
    frame = pd.DataFrame(rows)
    for i, col in enumerate(CHAMPION_COLUMNS[3:]):
        frame[col] = 0.5 + i / 100
    frame.loc[4, "precision_auto"] = float("nan")
    frame.attrs.update({"model_name": "genuine-account-model", "model_version": "12",
                        "thresholds": {"review": 0.512345, "auto": 0.934567}})
    return frame


def _run(body) -> str:
    cli = typer.Typer()
    cli.command()(body)
    res = CliRunner().invoke(cli, [], env={"COLUMNS": None}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_champion_table_is_whole_in_a_log():
    out = _run(lambda: console.print(champion_table(_summary())))
    assert "…" not in out
    header = next(ln for ln in out.splitlines() if "precision_auto" in ln)
    assert all(col in header for col in CHAMPION_COLUMNS)
    body = [ln for ln in out.splitlines() if "held_out_strategy" in ln]
    assert len(body) == len(STRATEGIES) and all(any(s in ln for ln in body) for s in STRATEGIES)
    assert "declared_ai_assisted_accounts" in out and "version 12" in out and "0.934567" in out
    assert len(header) > 80          # wider than the 80 columns rich assumes without a terminal


def test_shared_table_lines_and_rules_in_a_log():
    long_line = "ingest: " + ", ".join(f"entity_{i}=accepted" for i in range(20))

    def body() -> None:
        t = make_table("entity", *[f"a_long_column_name_{i}" for i in range(8)], left=("entity",))
        t.add_row("interactions", *[f"{10**i:,}" for i in range(8)])
        console.print(t)
        console.print(long_line)
        console.rule("genuine demo")

    out = _run(body)
    assert "…" not in out and "a_long_column_name_7" in out and "10,000,000" in out
    assert long_line in out.splitlines()                 # one line, not wrapped at 80 columns
    rule = next(ln for ln in out.splitlines() if "genuine demo" in ln)
    assert len(rule) == RULE_COLUMNS                     # a rule stays a line of ordinary length


def test_parts_table_puts_days_against_state_updates_then_families():
    from genuine.cli.daily import parts_table

    by_day = {"2026-10-01": {"features: family network": 34.5, "features: behaviour state": 17.9,
                             "features: network: follow graph": 3.2, "features: family behaviour": 4.5},
              "2026-10-02": {"features: family network": 39.8, "features: behaviour state": 14.9}}
    table = parts_table(by_day)
    assert [c.header for c in table.columns] == ["day", "behaviour state", "family behaviour", "family network"]
    assert [list(c.cells) for c in table.columns] == [["2026-10-01", "2026-10-02"], ["17.9", "14.9"],
                                                      ["4.5", "-"], ["34.5", "39.8"]]
    assert parts_table({"2026-10-01": {}}) is None
    out = _run(lambda: console.print(table))
    assert "follow graph" not in out and "…" not in out
