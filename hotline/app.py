"""The one place that wires everything: config, event stream, call log, FastAGI, AMI, API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from hotline.api.routes import create_api
from hotline.asterisk.agi import FastAgiServer
from hotline.asterisk.ami import AmiClient
from hotline.calllog import CallLog
from hotline.calls import CallService
from hotline.config import Deployment
from hotline.events import EventBus
from hotline.settings import Clock, Settings

log = logging.getLogger(__name__)


@dataclass
class Service:
    """The running parts of the service, built by :func:`build`."""

    settings: Settings
    deployment: Deployment
    bus: EventBus
    call_log: CallLog
    calls: CallService
    ami: AmiClient
    api: Any

    def health(self) -> dict[str, Any]:
        ami = {
            "connected": self.ami.connected,
            "error": self.ami.last_error,
            "connects": self.ami.connects,
        }
        return {
            "status": "ok" if self.ami.connected else "degraded",
            "ami": ami,
            "call_log": {"ok": True, "calls": len(self.call_log.calls)},
        }


def build(settings: Settings, deployment: Deployment) -> Service:
    bus = EventBus()
    call_log = CallLog(settings.data_dir)
    bus.subscribe(call_log)
    clock = Clock(settings.clock_start)
    calls = CallService(deployment, bus, clock)
    ami = AmiClient(
        settings.ami_host,
        settings.ami_port,
        settings.ami_username,
        settings.ami_secret.get_secret_value(),
    )
    service = Service(settings, deployment, bus, call_log, calls, ami, None)
    service.api = create_api(call_log, settings.api_token.get_secret_value(), service.health)
    return service


class _ApiServer(uvicorn.Server):
    """uvicorn in the service's loop; the service, not uvicorn, owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: Settings, deployment: Deployment) -> None:
    """Run FastAGI, AMI and the API in this event loop until SIGINT/SIGTERM."""
    service = build(settings, deployment)
    if not settings.api_token.get_secret_value():
        log.warning("HOTLINE_API_TOKEN is not set: every /api request will be refused")
    agi = FastAgiServer(on_rejected=service.calls.reject)
    agi.add_route("call", service.calls.handle)
    server = await agi.start(settings.agi_host, settings.agi_port)
    log.info("FastAGI listening on %s:%d", settings.agi_host, settings.agi_port)
    api = _ApiServer(
        uvicorn.Config(
            service.api,
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            lifespan="off",
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [
        asyncio.create_task(service.ami.run(), name="ami"),
        asyncio.create_task(api.serve(), name="api"),
    ]
    log.info("API on http://%s:%d (OpenAPI at /docs)", settings.api_host, settings.api_port)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        server.close()
        api.should_exit = True
        await asyncio.wait(tasks[1:], timeout=5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        service.call_log.close()
