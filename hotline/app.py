"""The one place that wires everything: config, event stream, call log, FastAGI, AMI, API."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from panoramisk.message import Message

from hotline import metrics
from hotline.api.access import (
    Principal,
    Role,
    Sessions,
    TokenError,
    Tokens,
    parse_tokens,
    token_hash,
)
from hotline.api.deps import Parts
from hotline.api.routes import create_api
from hotline.asterisk import messages
from hotline.asterisk.agi import FastAgiServer
from hotline.asterisk.ami import AmiClient, AmiEffects
from hotline.calllog import CallLog
from hotline.calls import CallService
from hotline.config import Deployment
from hotline.durable import Durable
from hotline.events import EventBus
from hotline.features import FeatureRoutes
from hotline.interrupted import Interrupted
from hotline.notifications import MessageRoute, NotificationStore
from hotline.recordings import Recorder
from hotline.settings import Clock, Settings, weakness
from hotline.spool import Spool
from hotline.store.db import Store
from hotline.supervision import Supervision
from hotline.switchboard import Switchboard
from hotline.waiting import WaitingRoutes
from routing.events import CallStarted

log = logging.getLogger(__name__)


@dataclass
class Service:
    """The running parts of the service, built by :func:`build`."""

    settings: Settings
    deployment: Deployment
    bus: EventBus
    call_log: CallLog
    switchboard: Switchboard
    notifications: NotificationStore
    calls: CallService
    ami: AmiClient
    recorder: Recorder
    interrupted: Interrupted
    api: Any

    async def health(self) -> dict[str, Any]:
        ami = {
            "connected": self.ami.connected,
            "error": self.ami.last_error,
            "connects": self.ami.connects,
        }
        writer = self.call_log.state
        reachable, error = await self.call_log.store.reachable()
        database = {
            "connected": reachable,
            "backend": self.call_log.store.dialect,
            "error": error or writer.error,
            "spooled": self.call_log.backlog,
            "written": writer.written,
        }
        disk = {
            "writable": self.call_log.disk_error is None,
            "error": self.call_log.disk_error,
            # events only in memory until the disk takes them
            "unwritten": self.call_log.unwritten,
        }
        ok = self.ami.connected and reachable and writer.connected and disk["writable"]
        return {
            "status": "ok" if ok else "degraded",
            "ami": ami,
            "database": database,
            "disk": disk,
        }

    def links(self) -> dict[str, float]:
        """The links' state for /metrics (read at each scrape)."""
        return {
            "ami_up": float(self.ami.connected),
            "database_up": float(self.call_log.state.connected),
            "spool_events": float(self.call_log.backlog),
        }

    def on_ami_event(self, event: Message) -> None:
        """AMI is the service's eyes for operators' phones (and the guard's moves)."""
        started = time.perf_counter()
        name = str(event.get("Event", ""))
        metrics.AMI_EVENTS.labels(name or "?").inc()
        if stamp := event.get("Timestamp"):
            with contextlib.suppress(ValueError):
                metrics.AMI_EVENT_LAG.observe(max(0.0, time.time() - float(stamp)))
        try:
            parsed = messages.parse(event)
        except messages.MalformedMessage as exc:
            log.warning("%s: ignored", exc)
            parsed = None
        match parsed:
            case messages.DeviceState(device, state):
                self._device(device, state)
            case messages.Guarded(call, caller, number, channel, sip_call_id):
                arrival = CallStarted(caller, number, channel=channel, sip_call_id=sip_call_id)
                self.switchboard.guarded(call, arrival)
                self.interrupted.soon()  # and the hangups missed while hung
        metrics.AMI_EVENT_SECONDS.observe(time.perf_counter() - started)

    def _device(self, device: str, state: str) -> None:
        if device.startswith("PJSIP/"):
            self.switchboard.reachable(
                device.removeprefix("PJSIP/"), state not in UNREACHABLE, state in IN_USE
            )

    async def resync(self) -> None:
        """After (re)connecting to Asterisk: every operator phone's state now, and the calls
        that ended while the service was not listening."""
        effects = AmiEffects(self.ami)
        states = await effects.device_states()
        for operator in self.deployment.operators:
            self._device(f"PJSIP/{operator}", states.get(f"PJSIP/{operator}", "UNAVAILABLE"))
        self.switchboard.reconcile(await effects.channels())
        await self.interrupted.close()

    def routes(self) -> dict[str, Any]:
        """The FastAGI routes, by the path the dialplan calls."""
        messages = MessageRoute(
            self.switchboard, self.notifications, self.settings.spool_of_asterisk()
        )
        waiting = WaitingRoutes(self.switchboard, messages, self.recorder, self.interrupted.soon)
        return {
            "call": self.calls.handle,
            "wait": waiting.wait,
            "dialed": waiting.dialed,
            "answered": waiting.answered,
            "hangup": waiting.hangup,
            "key": waiting.key,
            "callback": waiting.callback,
            "callback-reached": waiting.callback_reached,
            "callback-end": waiting.callback_end,
            "feature": FeatureRoutes(self.switchboard).feature,
            "message": messages.message,
        }


#: Device states of a phone that cannot be rung.
UNREACHABLE = frozenset({"UNAVAILABLE", "INVALID", "UNKNOWN", ""})
#: Device states of a phone busy with a call (ours, or one the service did not give).
IN_USE = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})


def build(settings: Settings, deployment: Deployment) -> Service:
    """Every part, wired (nothing runs until :func:`serve`). Raises TokenError on a malformed
    HOTLINE_API_TOKENS or a weak secret, before anything is opened."""
    configured = parse_tokens(
        settings.api_tokens.get_secret_value(),
        {
            operator: org.id
            for org in deployment.organisations.values()
            for operator in org.operators
        },
        deployment.organisations,
    )
    for name, secret in (
        ("HOTLINE_API_TOKEN", settings.api_token),
        ("HOTLINE_AMI_SECRET", settings.ami_secret),
        ("HOTLINE_AGI_SECRET", settings.agi_secret),
    ):
        if secret.get_secret_value() and (problem := weakness(secret.get_secret_value())):
            raise TokenError(f"{name} is too weak: {problem}")
    if not settings.agi_secret.get_secret_value():
        raise TokenError(
            "HOTLINE_AGI_SECRET is not set: the dialplan names it in every FastAGI call "
            "(`hotline sandbox up` generates one; production sets it for Asterisk and the service)"
        )
    try:
        settings.agi_peer_list()
    except ValueError as exc:
        raise TokenError(str(exc)) from None
    if supervisor := settings.api_token.get_secret_value():
        configured[token_hash(supervisor)] = Principal(Role.SUPERVISOR, name="HOTLINE_API_TOKEN")
    bus = EventBus()
    store = Store(settings.database())
    call_log = CallLog(Spool(settings.data_dir / "spool"), store)
    call_log.attach(bus)
    clock = Clock(settings.clock_start)
    ami = AmiClient(
        settings.ami_host,
        settings.ami_port,
        settings.ami_username,
        settings.ami_secret.get_secret_value(),
    )
    switchboard = Switchboard(
        deployment,
        bus,
        clock,
        AmiEffects(ami, deployment.policy.ring_timeout),
        Durable(settings.data_dir),
    )
    calls = CallService(deployment, bus, clock, switchboard)
    notifications = NotificationStore(settings.data_dir)
    recorder = Recorder(
        switchboard,
        store,
        settings.spool_of_asterisk(),
        settings.recordings_dir or settings.data_dir / "recordings",
    )
    bus.subscribe(recorder)
    interrupted = Interrupted(
        store.open_calls, AmiEffects(ami).channels, call_log.caught_up, switchboard
    )
    bus.subscribe(interrupted)
    service = Service(
        settings,
        deployment,
        bus,
        call_log,
        switchboard,
        notifications,
        calls,
        ami,
        recorder,
        interrupted,
        None,
    )
    ami.on_event = service.on_ami_event
    ami.on_connect = service.resync
    bus.subscribe(metrics.observe)
    metrics.watch(switchboard, service.links)
    tokens = Tokens(configured, store)
    service.api = create_api(
        Parts(
            deployment,
            switchboard,
            notifications,
            store,
            call_log,
            bus,
            tokens,
            Supervision(switchboard, AmiEffects(ami)),
            service.health,
            Sessions(store, tokens),
            metrics_auth=settings.metrics_auth,
        )
    )
    return service


class _ApiServer(uvicorn.Server):
    """uvicorn in the service's loop; the service, not uvicorn, owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start_guard(settings: Settings) -> asyncio.subprocess.Process:
    """`hotline guard` as a process of its own (it must run while this one hangs)."""
    command = [sys.executable, "-m", "hotline.cli", "guard", "--parent", str(os.getpid())]
    return await asyncio.create_subprocess_exec(*command)


async def serve(settings: Settings, deployment: Deployment) -> None:
    """Run FastAGI, AMI and the API in this event loop until SIGINT/SIGTERM."""
    service = build(settings, deployment)
    if not settings.api_token.get_secret_value() and not settings.api_tokens.get_secret_value():
        log.warning("no API token in the environment: only `hotline token create` ones will work")
    agi = FastAgiServer(
        on_rejected=service.calls.reject,
        secret=settings.agi_secret.get_secret_value(),
        peers=settings.agi_peer_list(),
    )
    for path, route in service.routes().items():
        agi.add_route(path, route)
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
    guard = await start_guard(settings) if settings.guard else None
    service.switchboard.restore()  # operators' states and pending callbacks, as they were
    # what start-up made (modules, config, the app) lives as long as the process: out of the
    # collector's way, so its rounds only look at what calls make
    gc.collect()
    gc.freeze()
    tasks = [
        asyncio.create_task(service.call_log.run(), name="call-log"),
        asyncio.create_task(service.ami.run(), name="ami"),
        asyncio.create_task(
            service.recorder.run_retention(service.call_log.ready), name="retention"
        ),
        asyncio.create_task(api.serve(), name="api"),
        asyncio.create_task(metrics.watch_loop(), name="loop-lag"),
    ]
    log.info("API on http://%s:%d (OpenAPI at /docs)", settings.api_host, settings.api_port)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        if guard is not None:  # a stopping service stops answering: that is no hang
            guard.terminate()
            await guard.wait()
        server.close()  # new callers: the dialplan's fallback queue
        handed = await service.switchboard.hand_over(AmiEffects(service.ami).hand_over)
        log.info("%d waiting caller(s) handed to the fallback queues", handed)
        # their sessions end (a message under way is kept); callers in the menus fall back
        # at their next step once this process is gone
        await agi.drain(3)
        api.should_exit = True
        await asyncio.wait([t for t in tasks if t.get_name() == "api"], timeout=5)
        if not await service.call_log.flush(timeout=5):
            log.warning(
                "call log: %d events left in the spool; written at the next start",
                service.call_log.backlog,
            )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        service.call_log.close()
        await service.call_log.store.close()
