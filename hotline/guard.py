"""`hotline guard`: no caller is left in silence when the service hangs.

Asterisk waits on a FastAGI socket forever. A service that is stopped (SIGSTOP), deadlocked or
starved keeps its port open, so new callers connect and, like those it was serving, hear
nothing. The guard is a separate small process beside the service: every second it asks the
service's API whether its event loop answers; after ``patience`` failed probes in a row it asks
Asterisk (AMI) for the callers waiting on the service's FastAGI and moves each one to their
line's fallback queue (dialplan [hotline-guarded]), where app_queue rings the line's operators.
The dialplan announces every move with a UserEvent, so the service, once it answers again, lets
those callers go instead of routing them a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable

from hotline.asterisk.ami import AmiClient, AmiUnavailable
from hotline.settings import Settings

log = logging.getLogger(__name__)

#: Where a caller waits on the service's FastAGI (the caller's side of the dialplan).
RESCUED_CONTEXTS = frozenset(
    {"hotline", "hotline-wait", "hotline-next", "hotline-connect", "hotline-message"}
)

Probe = Callable[[], Awaitable[bool]]


async def api_answers(host: str, port: int, timeout: float) -> bool:
    """Whether the service's event loop answers an HTTP request within ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(b"GET /health/live HTTP/1.0\r\nHost: guard\r\n\r\n")
                status = await reader.readline()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return False
    return status.startswith(b"HTTP/")


async def rescue(ami: AmiClient) -> int:
    """Move every caller waiting on the service's FastAGI to the fallback; how many moved."""
    replies = await ami.action({"Action": "CoreShowChannels"}, as_list=True)
    moved = 0
    for channel in replies:
        if channel.get("Event") != "CoreShowChannel" or channel.get("Application") != "AGI":
            continue
        if channel.get("Context") not in RESCUED_CONTEXTS:
            continue
        reply = await ami.action(
            {
                "Action": "Redirect",
                "Channel": channel["Channel"],
                "Context": "hotline-guarded",
                "Exten": "s",
                "Priority": "1",
            }
        )
        if reply.success:
            moved += 1
            log.warning(
                "moved %s (%s) to the fallback queue", channel["Uniqueid"], channel["Context"]
            )
    return moved


class Guard:
    """Probes the service every ``interval`` seconds; rescues callers while it does not answer."""

    def __init__(
        self, ami: AmiClient, probe: Probe, interval: float = 1.0, patience: int = 3
    ) -> None:
        self.ami = ami
        self.probe = probe
        self.interval = interval
        self.patience = patience
        self.failures = 0
        #: Set by the first answer: a service still starting is not a hung one.
        self.armed = False

    async def check(self) -> None:
        """One probe, and a rescue when the service has not answered ``patience`` in a row."""
        if await self.probe():
            if self.failures >= self.patience:
                log.warning("the service answers again")
            self.failures, self.armed = 0, True
            return
        if not self.armed:
            return
        self.failures += 1
        if self.failures == self.patience:
            log.warning(
                "the service has not answered %d probes: its callers go to the fallback queues",
                self.failures,
            )
        if self.failures >= self.patience:
            try:
                await rescue(self.ami)
            except AmiUnavailable as exc:
                log.warning("cannot move callers: %s", exc)

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)


async def serve(
    settings: Settings, interval: float = 1.0, patience: int = 3, parent: int | None = None
) -> None:
    """Run the guard until SIGINT/SIGTERM, or until ``parent`` (the service that started it)
    is gone: a service that is not running closes its FastAGI port, and Asterisk's dialplan
    then takes its callers to the fallback queues itself."""
    ami = AmiClient(
        settings.ami_host,
        settings.ami_port,
        settings.ami_username,
        settings.ami_secret.get_secret_value(),
    )

    async def probe() -> bool:
        return await api_answers(settings.api_host, settings.api_port, timeout=interval)

    guard = Guard(ami, probe, interval, patience)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(ami.run()), asyncio.create_task(guard.run())]
    log.info(
        "guarding the service at %s:%d (a probe every %g s, rescue after %d failures)",
        settings.api_host,
        settings.api_port,
        interval,
        patience,
    )
    while not stop.is_set() and (parent is None or os.getppid() == parent):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks)
