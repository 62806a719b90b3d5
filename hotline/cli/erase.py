"""A caller's data erased on request, through the running service (`erase`)."""

from __future__ import annotations

from typing import Annotated

import typer

from hotline.cli.common import USAGE, api_error, fail, read_settings, say


def erase(
    caller: Annotated[
        str | None, typer.Option(help="erase every call of this number (made, typed, reported)")
    ] = None,
    call_id: Annotated[str | None, typer.Option("--call", help="erase this call")] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="HOTLINE_ERASE_TOKEN",
            show_envvar=True,
            help="a supervisor's token: its organisation's data only (default: "
            "HOTLINE_API_TOKEN, every organisation's)",
        ),
    ] = None,
) -> None:
    """Erase a caller's data on request (their recordings, messages, reports, pending
    callbacks, the personal fields of their calls), through the running service (it holds
    the reports and callbacks); what was erased is recorded without the number. Exit 1 if
    the service refused or is away."""
    import httpx

    if (caller is None) == (call_id is None):
        fail("give --caller NUMBER or --call ID (one of them)", USAGE)
    settings = read_settings()
    url = f"http://{settings.api_host}:{settings.api_port}/api/v1/erasures"
    secret = token or settings.api_token.get_secret_value()
    if not secret:
        fail("no token: give --token (a supervisor's) or set HOTLINE_API_TOKEN", USAGE)
    what = f"call {call_id}" if call_id is not None else "the calls of the number given"
    say(f"erasing {what} through the service at {url}")
    body = {"caller": caller} if caller is not None else {"call_id": call_id}
    try:
        reply = httpx.post(
            url, json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=120
        )
        reply.raise_for_status()
    except httpx.HTTPError as exc:
        typer.secho(f"not erased: {api_error(exc)}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    done = reply.json()
    typer.echo(
        f"erased: {done['calls']} call(s), {done['recordings']} recording(s) and message(s), "
        f"{done['reports']} report(s), {done['callbacks']} pending callback(s)"
    )
