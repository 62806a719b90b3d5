"""The call log's database (`db upgrade|status`)."""

from __future__ import annotations

import json

import typer

from hotline.cli.common import JsonOption, with_store

app = typer.Typer(help="The call log's database (HOTLINE_DATABASE_URL).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Create the call log's tables, or migrate them to this version (Alembic)."""
    revision = with_store(lambda store: store.upgrade())
    typer.echo(f"database at revision {revision}")


@app.command("status")
def db_status(as_json: JsonOption = False) -> None:
    """Say whether the database is reachable and its schema current (exit 1 if it is not)."""
    current = with_store(lambda store: store.is_current())
    if as_json:
        typer.echo(json.dumps({"reachable": True, "current": current}))
    else:
        typer.echo("schema current" if current else "schema out of date: run `hotline db upgrade`")
    if not current:
        raise typer.Exit(1)
