"""Options and helpers every command module shares."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.rule import Rule
from rich.table import Table

from genuine.core.config import Config, load_config
from genuine.core.errors import ConfigError
from genuine.core.logs import setup_logging

# Width of output that is not a terminal: wide enough for any table, and the table still takes only the
# width its cells need (tables here never expand).
UNLIMITED_COLUMNS = 10_000
# A rule (a full-width line) in such output: a log line of ordinary length.
RULE_COLUMNS = 80


class CliConsole(Console):
    """rich's Console, except where stdout is not a terminal (a scheduler's log, a pipe, CliRunner).

    There rich assumes 80 columns and cuts table cells ("precisi…", "held_ou…") and wraps long lines;
    here the width is unlimited (unless COLUMNS sets one), so a table is as wide as its content and a
    line is one line. A terminal keeps its own width.
    """

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(UNLIMITED_COLUMNS, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def rule(self, title: Any = "", **kwargs: Any) -> None:
        if self.is_terminal:
            super().rule(title, **kwargs)
        else:
            self.print(Rule(title, **kwargs), width=RULE_COLUMNS)


console = CliConsole()

EnvOpt = Annotated[str | None, typer.Option("--env", help="config environment: conf/<env>.yml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="override a config value: key.path=value")]
RunOpt = Annotated[str | None, typer.Option("--run-id", help="retry a run: its committed writes are skipped")]


def make_table(*columns: str, title: str | None = None, left: tuple[str, ...] = ()) -> Table:
    """A table of the CLI: the given columns, right-aligned (figures) except those in `left`."""
    t = Table(title=title)
    for col in columns:
        t.add_column(col, justify="left" if col in left else "right")
    return t


def load_cfg(env: str | None, overrides: list[str] | None) -> Config:
    """Config for a command; a bad key or value ends the command with exit status 2 and one line."""
    setup_logging()
    try:
        return load_config(env, overrides or [])
    except ConfigError as exc:
        console.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from None
