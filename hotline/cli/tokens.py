"""API tokens kept in the database, hashed (`token create|list|revoke`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hotline.cli.common import (
    USAGE,
    ConfigOption,
    JsonOption,
    complete_operators,
    complete_organisations,
    fail,
    one_of,
    read_deployment,
    read_settings,
    say,
    with_store,
)
from hotline.config.deployment import Deployment
from hotline.roles import Role

app = typer.Typer(help="API tokens kept in the database (hashed).", no_args_is_help=True)


@app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="what it may do")],
    name: Annotated[str, typer.Option(help="who or what holds it, e.g. 'wallboard'")],
    operator: Annotated[
        str | None,
        typer.Option(
            help="for the operator role: which operator (e.g. op1)",
            autocompletion=complete_operators,
        ),
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option(
            help="the organisation whose data it sees (an operator's: theirs)",
            autocompletion=complete_organisations,
        ),
    ] = None,
    all_organisations: Annotated[
        bool,
        typer.Option(
            "--all-organisations",
            help="it sees every organisation's data (the platform's administrators, a "
            "Prometheus of the whole deployment)",
        ),
    ] = False,
    days: Annotated[
        int, typer.Option(min=1, max=3650, help="it stops working after so many days")
    ] = 365,
    never_expires: Annotated[
        bool, typer.Option("--never-expires", help="it works until revoked (not --days)")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Make a token; it is printed once and only its SHA-256 is kept. Whose data it sees is
    always said: --organisation ID, or --all-organisations (an operator's: their own). It
    expires after --days (365), or --never-expires."""
    from datetime import UTC, datetime, timedelta

    from hotline.api.access import new_token, token_hash
    from hotline.store.tables import ApiToken

    chosen = role
    deployment = read_deployment(read_settings(), config)
    organisation = whose(deployment, chosen, operator, organisation, all_organisations)
    if not 1 <= len(name) <= 64:
        fail("--name: 1 to 64 characters", USAGE)
    token = new_token()
    now = datetime.now(UTC)
    row = ApiToken(
        name=name,
        role=chosen.value,
        operator=operator,
        organisation=organisation,
        hash=token_hash(token),
        created_at=now,
        expires_at=None if never_expires else now + timedelta(days=days),
    )

    async def add(store: Any) -> Any:
        await store.upgrade()
        return await store.add_token(row)

    saved = with_store(add)
    who = (
        f"{chosen.value}{':' + operator if operator else ''}@{organisation or 'every organisation'}"
    )
    until = f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "never expires"
    say(f"token {saved.id} ({who}, {name}, {until}):")
    typer.echo(token)


def whose(
    deployment: Deployment,
    role: Role,
    operator: str | None,
    organisation: str | None,
    all_organisations: bool,
) -> str | None:
    """The organisation whose data a new token sees (None: every one's), from the options;
    a usage error names the option that is wrong (a token's reach is never guessed)."""
    known = ", ".join(deployment.organisations)
    if organisation is not None and organisation not in deployment.organisations:
        one_of("--organisation", organisation, deployment.organisations)
    if organisation is not None and all_organisations:
        fail("--organisation or --all-organisations, not both", USAGE)
    if role is Role.OPERATOR:
        if operator not in deployment.operators:
            one_of("--operator", operator, deployment.operators)
        theirs = deployment.organisation_of(operator=operator)
        assert theirs is not None
        if organisation not in (None, theirs.id) or all_organisations:
            fail(f"--organisation: {operator} belongs to {theirs.id}", USAGE)
        return theirs.id
    if operator is not None:
        fail("--operator goes with --role operator only", USAGE)
    if organisation is None and not all_organisations:
        fail(
            "say whose data the token sees: --organisation ID (one of "
            f"{known}), or --all-organisations (every organisation's)",
            USAGE,
        )
    return organisation


@app.command("list")
def token_list(
    all_: Annotated[bool, typer.Option("--all", help="include revoked tokens")] = False,
    as_json: JsonOption = False,
) -> None:
    """The tokens in the database (never the tokens themselves), when each expires and was
    last used."""
    from datetime import UTC, datetime

    rows = with_store(lambda store: store.tokens(include_revoked=all_))
    if as_json:
        fields = ("id", "role", "operator", "organisation", "name", "created_at", "revoked_at",
                  "expires_at", "last_used_at")  # fmt: skip
        listed = [{field: getattr(row, field) for field in fields} for row in rows]
        typer.echo(json.dumps(listed, indent=2, default=str, ensure_ascii=False))
        return
    for row in rows:
        revoked = f"  revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else ""
        who = f"{row.role}:{row.operator}" if row.operator else row.role
        where = row.organisation or "(every organisation)"
        gone = row.expires_at is not None and row.expires_at <= datetime.now(UTC)
        expires = (
            f"{'expired' if gone else 'expires'} {row.expires_at:%Y-%m-%d}"
            if row.expires_at
            else "never expires"
        )
        used = f"used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        typer.echo(
            f"{row.id:>4}  {who:<20} {where:<22} {row.name:<24} {row.created_at:%Y-%m-%d}  "
            f"{expires:<18} {used}{revoked}"
        )
    if not rows:
        say("no tokens in the database")


@app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="its id in `token list`")]) -> None:
    """Revoke a token (it stops working within 30 s)."""
    from datetime import UTC, datetime

    row = with_store(lambda store: store.revoke_token(token_id, datetime.now(UTC)))
    if row is None:
        fail(f"no token {token_id}")
