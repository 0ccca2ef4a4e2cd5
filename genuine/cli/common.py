"""Options and helpers every command module shares."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from genuine.core.config import Config, load_config
from genuine.core.errors import ConfigError
from genuine.core.logs import setup_logging

console = Console()

EnvOpt = Annotated[str | None, typer.Option("--env", help="config environment: conf/<env>.yml")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="override a config value: key.path=value")]
RunOpt = Annotated[str | None, typer.Option("--run-id", help="retry a run: its committed writes are skipped")]


def load_cfg(env: str | None, overrides: list[str] | None) -> Config:
    """Config for a command; a bad key or value ends the command with exit status 2 and one line."""
    setup_logging()
    try:
        return load_config(env, overrides or [])
    except ConfigError as exc:
        console.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from None
