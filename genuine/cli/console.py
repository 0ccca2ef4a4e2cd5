"""`genuine console`: the moderator console (docs/console.md). `add-user` creates a console user (the first
admin too: there is no default user or password), `serve` starts the web app, on 127.0.0.1 by default.

The console and Spark are imported in the commands: they would make every `genuine` invocation slower,
and the console's web libraries are the optional `console` extra.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from genuine.cli.common import EnvOpt, SetOpt, console, load_cfg

console_app = typer.Typer(no_args_is_help=True, help="The moderator console: review, appeals and audit in a web page.")

MISSING_EXTRA = "the console needs its web libraries: pip install 'genuine[console]'"


def _console_modules() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        console.print(f"[red]{MISSING_EXTRA}[/red]")
        raise typer.Exit(2) from None


def read_password(stdin: bool) -> str:
    """From stdin (one line) when asked or when stdin is not a terminal; else a hidden prompt, twice."""
    if stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@console_app.command("add-user")
def add_user(username: str,
             role: Annotated[str, typer.Option(help="moderator | appeals_officer | auditor | admin")],
             password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                          help="read the password from stdin")] = False,
             env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Create a console user; the password is read from a hidden prompt or stdin, never an argument."""
    _console_modules()
    from genuine.console.users import UserError, Users, check_new_user  # lazy (module docstring)
    from genuine.core.lake import Lake
    from genuine.core.session import get_spark

    cfg = load_cfg(env, set_)
    password = read_password(password_stdin)
    try:
        check_new_user(username, role, password)      # before Spark starts: a typo costs no JVM
        Users(Lake(get_spark(cfg), cfg)).add(username, role, password, created_by="cli")
    except UserError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    console.print(f"console user {username} ({role}) created in {cfg.table('console_users')}", soft_wrap=True,
                  highlight=False)


@console_app.command("serve")
def serve(host: Annotated[str | None, typer.Option(help="address to bind (default console.host)")] = None,
          port: Annotated[int | None, typer.Option(help="port (default console.port)")] = None,
          env: EnvOpt = None, set_: SetOpt = None) -> None:
    """Serve the console (one process, one lazily started Spark session)."""
    _console_modules()
    import uvicorn

    from genuine.console.app import create_app  # lazy (module docstring)
    from genuine.console.config import console_config

    cfg = load_cfg(env, set_)
    ccfg = console_config(cfg)
    host, port = host or ccfg.host, port or ccfg.port
    console.print(f"genuine console on http://{host}:{port}/ (lake {cfg.lake.root})", soft_wrap=True,
                  highlight=False)
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="info", proxy_headers=False)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.add_typer(console_app, name="console")
