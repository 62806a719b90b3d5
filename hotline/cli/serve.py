"""Running the service (`serve`), its config read again while it runs (`reload`), and the
guard beside it (`guard`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from hotline.cli.common import (
    USAGE,
    ConfigOption,
    JsonOption,
    api_error,
    fail,
    read_deployment,
    read_settings,
    say,
    start_logging,
)


def serve(config: ConfigOption = None) -> None:
    """Run the service: FastAGI, the AMI client and the API, in one process. SIGHUP (or
    `hotline reload`) reads the config again while it runs."""
    import uvloop

    from hotline.api.access import TokenError
    from hotline.app import serve as run

    settings = read_settings()
    deployment = read_deployment(settings, config)
    if config is not None:  # (what a reload reads again)
        settings = settings.model_copy(update={"config": config})
    start_logging(settings)
    try:
        uvloop.run(run(settings, deployment))  # (asyncio's loop, on libuv)
    except TokenError as exc:  # (a secret missing or weak, a token entry malformed)
        fail(f"cannot start: {exc}", USAGE)
    except OSError as exc:
        fail(f"cannot start: {exc}")


def reload(
    token: Annotated[
        str | None,
        typer.Option(
            envvar="HOTLINE_RELOAD_TOKEN",
            show_envvar=True,
            help="a supervisor's token of every organisation (default: HOTLINE_API_TOKEN)",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Have the running service read its config again and take it while calls go on
    (operators, lines, menus, hours, holidays, centres, rotas, prompts; Asterisk's endpoints
    and dialplan written again and reloaded). A config that cannot run is refused with
    `hotline check`'s messages and the running one stays (exit 1); so is a change of `sip`
    or `phones`, which only a restart takes. `kill -HUP` on the service does the same,
    its answer in the service's log."""
    import json

    import httpx

    settings = read_settings()
    url = f"http://{settings.api_host}:{settings.api_port}/api/v1/config/reload"
    secret = token or settings.api_token.get_secret_value()
    if not secret:
        fail("no token: give --token (a supervisor's) or set HOTLINE_API_TOKEN", USAGE)
    if not as_json:
        say(f"reloading the config of the service at {url}")
    try:
        reply = httpx.post(url, headers={"Authorization": f"Bearer {secret}"}, timeout=120)
        reply.raise_for_status()
    except httpx.HTTPError as exc:
        typer.secho(f"not reloaded: {api_error(exc)}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    done = reply.json()
    if as_json:
        typer.echo(json.dumps(done, indent=2, ensure_ascii=False))
        return
    typer.echo(f"reloaded: {len(done['changes'])} change(s)")
    for change in done["changes"]:
        typer.echo(f"  {change}")
    typer.echo(f"Asterisk reloaded: {', '.join(done['asterisk']) or 'nothing'}")
    for note in done["notes"]:
        typer.secho(f"note: {note}", err=True, fg="yellow")


def guard(
    interval: Annotated[float, typer.Option(help="seconds between two probes")] = 1.0,
    patience: Annotated[int, typer.Option(help="failed probes before callers are moved")] = 3,
    parent: Annotated[
        int | None, typer.Option(help="exit when this process (the service) is gone")
    ] = None,
) -> None:
    """Run beside the service (`serve` starts it itself unless HOTLINE_GUARD=false): if the
    service stops answering (hung, not stopped), move its callers to the fallback queues so
    nobody waits in silence. Uses the service's AMI and API settings."""
    from hotline.asterisk.guard import serve as run

    settings = read_settings()
    start_logging(settings)
    asyncio.run(run(settings, interval, patience, parent))
