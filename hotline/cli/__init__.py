"""The `hotline` command: the typer app, every command listed in the order `--help` shows
them. Each command lives with its group in this package and is a few lines that call into
the service; what they share (settings, config, exit codes) is in :mod:`hotline.cli.common`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hotline import __version__
from hotline.cli import (
    asterisk,
    call,
    database,
    deployment,
    erase,
    forecast,
    report,
    sandbox,
    serve,
    tokens,
    vault,
)

app = typer.Typer(
    help=(
        "IVR and call routing for free legal aid hotlines.\n\n"
        "Settings come from HOTLINE_* environment variables and a .env file in the working "
        "folder (docs/config.md: Settings). Exit codes: 0 done, 1 a failure while running, "
        "2 a usage or config error (what was wrong is printed)."
    ),
    no_args_is_help=True,
    add_completion=True,  # `hotline --install-completion`: options offer the config's ids
    pretty_exceptions_enable=False,
)
app.command()(deployment.check)
app.command()(serve.serve)
app.command()(serve.reload)
app.command()(serve.guard)
app.command()(sandbox.up)
app.command("env")(deployment.env_file)
app.command("prompts")(deployment.build_prompts)
app.command(hidden=True, context_settings=call.SETTINGS)(call.call)
app.command("forecast")(forecast.forecast_command)
app.command("report")(report.report_command)
app.command()(erase.erase)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(asterisk.app, name="asterisk")
app.add_typer(database.app, name="db")
app.add_typer(tokens.app, name="token")
app.add_typer(vault.app, name="vault")


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"hotline {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """(The options before any command.)"""


def main() -> None:
    """The `hotline` script (pyproject.toml) and `python -m hotline.cli`."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
