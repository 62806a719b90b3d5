"""Recordings and messages sealed at rest (`vault key|rotate`)."""

from __future__ import annotations

import asyncio

import typer

from hotline.cli.common import USAGE, fail, read_settings

app = typer.Typer(
    help="Recordings and messages, encrypted at rest (HOTLINE_RECORDINGS_KEY).",
    no_args_is_help=True,
)


@app.command("key")
def vault_key() -> None:
    """Print a new random key for HOTLINE_RECORDINGS_KEY (32 bytes, base64)."""
    from hotline.vault import new_key

    typer.echo(new_key())


@app.command("rotate")
def vault_rotate() -> None:
    """Seal again, under HOTLINE_RECORDINGS_KEY, every recording and message sealed under one
    of HOTLINE_RECORDINGS_OLD_KEYS: this instance's folder, and with a standby (HOTLINE_HA)
    the shared database; seal those still kept in plaintext from before the vault. Safe while
    the service runs. Exit 1 if some could not be opened (each named, with why)."""
    from hotline.vault.rotation import rotate

    settings = read_settings()
    try:
        lines, failed = asyncio.run(rotate(settings))
    except ValueError as exc:  # a key missing or malformed (named, never shown)
        fail(str(exc), USAGE)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        typer.secho(f"rotation stopped: {reason}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)
    if failed:
        raise typer.Exit(1)
