"""Running the service (`serve`) and the guard beside it (`guard`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from hotline.cli.common import (
    USAGE,
    ConfigOption,
    fail,
    read_deployment,
    read_settings,
    start_logging,
)


def serve(config: ConfigOption = None) -> None:
    """Run the service: FastAGI, the AMI client and the API, in one process."""
    import uvloop

    from hotline.api.access import TokenError
    from hotline.app import serve as run

    settings = read_settings()
    deployment = read_deployment(settings, config)
    start_logging(settings)
    try:
        uvloop.run(run(settings, deployment))  # (asyncio's loop, on libuv)
    except TokenError as exc:  # (a secret missing or weak, a token entry malformed)
        fail(f"cannot start: {exc}", USAGE)
    except OSError as exc:
        fail(f"cannot start: {exc}")


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
