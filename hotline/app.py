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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import uvicorn

from hotline.api import phone
from hotline.api.access import (
    Principal,
    Role,
    Sessions,
    Streams,
    TokenError,
    Tokens,
    parse_tokens,
    token_hash,
)
from hotline.api.deps import Parts
from hotline.api.routes import create_api
from hotline.api.throttles import Counts, Throttles
from hotline.asterisk.agi import FastAgiServer, Handler
from hotline.asterisk.ami import AmiClient, AmiEffects, reload_modules
from hotline.asterisk.desk import DeskPhones
from hotline.asterisk.dialplan import WITNESSED, Route
from hotline.asterisk.listener import listen
from hotline.asterisk.messages import Hangup, PhoneState, Transferred
from hotline.asterisk.render import RELOAD_USER
from hotline.calls.announcements import AnnouncementRoute, Announcements
from hotline.calls.durable import Durable
from hotline.calls.features import FeatureRoutes
from hotline.calls.menus import CallService
from hotline.calls.recordings import Recorder
from hotline.calls.shelters import ShelterRoute
from hotline.calls.supervision import Supervision
from hotline.calls.switchboard import Switchboard
from hotline.calls.waiting import WaitingRoutes
from hotline.config.deployment import Deployment
from hotline.config.settings import Clock, Settings, weakness
from hotline.events import EventBus
from hotline.figures import metrics
from hotline.lifecycle.erasure import Eraser
from hotline.lifecycle.runner import Retention
from hotline.outbound.centre_sms import Texting, centre_sms
from hotline.outbound.deliverer import Deliverer, RetryPolicy
from hotline.outbound.doors import DoorError, open_doors
from hotline.outbound.duty_messages import duty_messages
from hotline.outbound.outbox import Composer
from hotline.outbound.webhooks import webhooks
from hotline.ownership import Ownership
from hotline.reports.duty import Duty
from hotline.reports.duty import watch as duty_gauges
from hotline.reports.duty_calls import DutyCallRoutes
from hotline.reports.escalations import Escalations
from hotline.reports.notifications import MessageRoute, NotificationStore
from hotline.reports.references import References
from hotline.running.interrupted import Interrupted
from hotline.running.leadership import AloneLease, Leadership, PostgresLease
from hotline.running.merging import Merger
from hotline.running.reload import Reloader, ReloadRefused
from hotline.running.takeover import Takeover
from hotline.store import trail as audit
from hotline.store.calllog import CallLog
from hotline.store.db import Store
from hotline.store.outbox import OutboxStore
from hotline.store.queuelog import QueueLog, QueueLogFile
from hotline.store.spool import Spool
from hotline.store.vault import SharedVault
from hotline.vault import Keys, Vault
from hotline.vault.spool import SpoolDoor
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
    leadership: Leadership
    escalations: Escalations
    api: Any
    #: Asterisk's queue_log of the queues this instance carries (None: HOTLINE_QUEUE_LOG unset).
    queue_log: QueueLogFile | None = None
    #: Who is on duty: the organisations' rotas, their calendars kept up to date.
    duty: Duty | None = None
    #: Sends the outbox's SMS, e-mail and webhooks (on the active instance).
    deliverer: Deliverer | None = None
    #: With a standby: what the shared database holds, merged in while active.
    merger: Merger | None = None
    #: Recordings and messages, sealed (with a standby: shared in the database).
    vault: Vault | None = None
    #: The vault beside Asterisk's spool: messages sealed there, and opened to be played.
    spool_door: SpoolDoor | None = None
    #: Each organisation's retention, applied daily on the active instance.
    retention: Retention | None = None
    #: The audit trail of access to personal data (written through the call log's spool).
    trail: audit.Trail | None = None
    #: What this instance does as it becomes the active one or stands down.
    takeover: Takeover | None = None
    #: The desk's phones' credentials (None: phones.browser is off).
    desk_phones: DeskPhones | None = None
    #: The lines' recorded announcements.
    announcements: Announcements | None = None
    #: Reads the config again while the service runs (`hotline reload`, SIGHUP, the API).
    reloader: Reloader | None = None

    async def health(self, organisation: str | None = None) -> dict[str, Any]:
        """The service's state; its rotas' calendars and its outbox of every organisation,
        or of ``organisation`` only (what its tokens see)."""
        ami = {
            "connected": self.ami.connected,
            "error": self.ami.last_error,
            "connects": self.ami.connects,
        }
        writer = self.call_log.state
        reachable, error = await self.call_log.store.reachable()
        database = {
            "connected": reachable,
            # its schema in place (migrations run): the call log's routes answer
            "ready": self.call_log.ready.is_set(),
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
        leadership = self.leadership
        return {
            "status": "ok" if ok else "degraded",
            # active: routes callers; standby: ready to take over (HOTLINE_HA)
            "role": leadership.role,
            "instance": leadership.me,
            "fence": leadership.fence,
            "lease_error": leadership.error,
            "ami": ami,
            "database": database,
            "disk": disk,
            # the rotas' calendars: a broken or unreachable one is served from its last good copy
            **({"duty": self.duty.health(organisation)} if self.duty is not None else {}),
            # pending by channel, the oldest's age, the last error: a gateway down shows here
            # (and in /metrics), never in the calls
            **(
                {"outbox": self.deliverer.health(organisation)}
                if self.deliverer is not None
                else {}
            ),
        }

    def links(self) -> dict[str, float]:
        """The links' state for /metrics (read at each scrape)."""
        return {
            "ami_up": float(self.ami.connected),
            "database_up": float(self.call_log.state.connected),
            "spool_events": float(self.call_log.backlog),
            "active": float(self.leadership.active),
        }

    def open_notifications(self) -> list[tuple[str, bool]]:
        """Each open notification's line, and whether it is overdue (for /metrics)."""
        now, target = self.switchboard.clock(), self.deployment.notification_target
        listing = self.notifications.listing()
        return [(n.line, n.overdue(now, target(n.line))) for n in listing if n.handled_at is None]

    # the Asterisk door's listener (hotline/asterisk/listener.py)
    def listening(self) -> bool:
        """Whether AMI's events are taken in: a standby keeps no queue (and logs nothing), it
        reads Asterisk on taking over; an instance whose lease is in doubt for a moment does
        (the switchboard keeps what it sees for its return)."""
        return self.leadership.active or self.leadership.in_doubt

    def phone(self, state: PhoneState) -> None:
        self.switchboard.phone(state)

    def transferred(self, transfer: Transferred) -> None:
        self.switchboard.transferred(transfer)

    def guarded(self, call: str, arrival: CallStarted) -> None:
        self.switchboard.guarded(call, arrival)
        self.interrupted.soon()  # and the hangups missed while hung

    def left(self, hangup: Hangup) -> None:
        if not self.leadership.answers_for(hangup.fence):
            return  # another instance's call (or this one's, before it stood down)
        if not self.switchboard.hung_up(hangup.call, hangup.by):
            self.interrupted.soon()  # begun before a restart: closed as a call ended unseen

    def routes(self) -> dict[Route, Handler]:
        """The FastAGI routes, by the path the dialplan calls."""
        assert self.spool_door is not None and self.announcements is not None  # (built with it)
        messages = MessageRoute(self.switchboard, self.notifications, self.spool_door)
        waiting = WaitingRoutes(self.switchboard, messages, self.recorder)
        duty_calls = DutyCallRoutes(self.escalations, self.notifications, self.spool_door)
        return {
            Route.CALL: self.calls.handle,
            Route.WAIT: waiting.wait,
            Route.DIALED: waiting.dialed,
            Route.ANSWERED: waiting.answered,
            Route.KEY: waiting.key,
            Route.CALLBACK: waiting.callback,
            Route.CALLBACK_REACHED: waiting.callback_reached,
            Route.CALLBACK_END: waiting.callback_end,
            Route.TRANSFER: waiting.transfer,
            Route.TRANSFERRED: waiting.transferred,
            Route.CENTRE_ANSWERED: waiting.centre_answered,
            Route.CENTRE_DIALED: waiting.centre_dialed,
            Route.FEATURE: FeatureRoutes(self.switchboard).feature,
            Route.ANNOUNCE: AnnouncementRoute(lambda: self.deployment, self.announcements).announce,
            Route.SHELTER: ShelterRoute(lambda: self.deployment, self.switchboard).shelter,
            Route.MESSAGE: messages.message,
            Route.ESCALATION: duty_calls.escalation,
            Route.ESCALATION_DIALED: duty_calls.dialed,
        }


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
        proxies = settings.trusted_proxy_networks()
        keys = Keys.from_environment(
            settings.recordings_key.get_secret_value(),
            settings.recordings_old_keys.get_secret_value(),
        )
    except ValueError as exc:
        raise TokenError(str(exc)) from None
    if supervisor := settings.api_token.get_secret_value():
        configured[token_hash(supervisor)] = Principal(Role.SUPERVISOR, name="HOTLINE_API_TOKEN")
    try:
        doors = open_doors(settings, deployment)
    except DoorError as exc:
        raise TokenError(str(exc)) from None
    bus = EventBus()

    # What the events send by SMS, e-mail and webhook, written to the outbox with them (a
    # composer more: one more line here; hotline/outbound/outbox.py says what one is)
    def composers(deployment: Deployment) -> list[Composer]:
        return [
            webhooks(deployment),
            centre_sms(deployment),
            duty_messages(deployment, settings.public_address()),
        ]

    store = Store(settings.database(), composers(deployment))
    call_log = CallLog(Spool(settings.data_dir / "spool"), store)
    call_log.attach(bus)
    clock = Clock(settings.clock_start)
    ami = AmiClient(
        settings.ami_host,
        settings.ami_port,
        settings.ami_username,
        settings.ami_secret.get_secret_value(),
    )
    # the desk's phones (the browser's): rung beside an operator's own while the desk's
    # session holds their credentials
    desk_phones = DeskPhones(settings.spool_of_asterisk() / "hotline")
    desk = desk_phones.holds if deployment.phones.browser else (lambda _: False)
    switchboard = Switchboard(
        deployment,
        bus,
        clock,
        AmiEffects(ami, desk, lambda number: service.deployment.dial(number)),
        Durable(settings.data_dir),
    )
    announcements = Announcements(settings.spool_of_asterisk(), settings.data_dir, bus, clock)
    calls = CallService(
        deployment,
        bus,
        clock,
        switchboard,
        Texting(deployment.callbacks, "sms" in doors),
        desk,
        announcements.current,
    )
    notifications = NotificationStore(settings.data_dir)
    notifications.references = References(store, settings.data_dir, settings.instance_name())
    bus.owner = ownership = Ownership(
        deployment,
        switchboard.line_of,
        lambda ref: found.line if (found := notifications.items.get(ref)) else None,
    )
    duty = Duty(deployment, clock)
    escalations = Escalations(
        deployment.escalations,
        lambda line: found.id if (found := service.deployment.organisation_of(line=line)) else None,
        duty,
        AmiEffects(ami, dial=lambda number: service.deployment.dial(number)),
        bus,
        clock,
        settings.data_dir,
        capped=lambda org, number: _allowed_from(switchboard.dial_refusal(number, org), clock()),
        dialling=lambda org, number: switchboard.dialling(number, org),
    )
    bus.subscribe(escalations)
    escalations.open_reports = lambda: (
        (n.stored(), n.call) for n in notifications.listing() if n.handled_at is None
    )
    if settings.ha and store.dialect != "postgresql":
        raise TokenError(
            "HOTLINE_HA needs PostgreSQL (HOTLINE_DATABASE_URL): the instances share it"
        )
    # recordings and messages sealed; with a standby, shared in the database it already has
    vault = Vault(
        keys,
        settings.vault_folder(),
        SharedVault(store.engine, settings.instance_name()) if settings.ha else None,
        clock,
        settings.spool_of_asterisk(),
    )
    recorder = Recorder(switchboard, store, settings.spool_of_asterisk(), vault)
    bus.subscribe(recorder)
    interrupted = Interrupted(
        store.open_calls, AmiEffects(ami).channels, call_log.caught_up, switchboard
    )
    bus.subscribe(interrupted)
    lease = PostgresLease(store.engine, url=settings.api_address()) if settings.ha else None
    leadership = Leadership(
        lease or AloneLease(),
        settings.instance_name(),
        settings.lease_seconds,
    )
    deliverer = Deliverer(
        OutboxStore(store.engine, store.dialect),
        doors,
        lambda: leadership.active,
        settings.instance_name(),
        RetryPolicy(
            settings.outbox_retry_first,
            settings.outbox_retry_max,
            settings.outbox_give_up_after,
        ),
        settings.outbox_timeout,
    )
    store.on_outboxed = deliverer.wake
    ami.may_act = switchboard.may_act = escalations.may_act = lambda: leadership.active
    recorder.active = lambda: leadership.active
    ami.fence = lambda: leadership.fence or 0
    ami.fenced = settings.ha
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
        leadership,
        escalations,
        None,
        deliverer=deliverer,
        vault=vault,
        spool_door=SpoolDoor(vault, settings.spool_of_asterisk()),
        desk_phones=desk_phones if deployment.phones.browser else None,
        announcements=announcements,
    )
    service.retention = retention = Retention(
        deployment,
        store,
        call_log,
        vault,
        notifications,
        recorder,
        keys.pseudonyms,
        clock,
        lambda: leadership.active,
        escalations,
    )
    eraser = Eraser(
        deployment,
        store,
        call_log,
        vault,
        notifications,
        switchboard,
        bus,
        keys.pseudonyms,
        clock,
        escalations,
    )
    service.merger = merger = Merger(
        store,
        deployment,
        switchboard,
        notifications,
        AmiEffects(ami).channel_list,
        lambda: leadership.active,
    )
    service.merger.attach(bus)
    switchboard.in_doubt = lambda: leadership.in_doubt
    ami.on_event = listen(service, service.listening)
    service.duty = duty
    duty_gauges(duty)
    # (dicts the figures read as they go: a reload updates them in place)
    owners: dict[str, str] = {}
    targets: dict[str, float] = {}
    lines_of: dict[str, Sequence[str]] = {}

    def figures_of(deployment: Deployment) -> None:
        owners.clear()
        owners.update(
            {line: org.id for org in deployment.organisations.values() for line in org.lines}
        )
        targets.clear()
        targets.update(
            {line: float(deployment.notification_target(line)) for line in deployment.lines}
        )
        lines_of.clear()
        lines_of.update({op.id: op.lines for op in deployment.operators.values()})
        metrics.outbox_series(deployment.organisations, ("sms", "email", "webhook"))

    figures_of(deployment)
    bus.subscribe(metrics.observer(owners, targets))
    metrics.watch(switchboard, service.links, owners, service.open_notifications)
    metrics.watch_outbox(deliverer.gauges)
    if settings.queue_log is not None:
        translation = QueueLog(lines_of, settings.queue_log_numbers)
        service.queue_log = QueueLogFile(settings.queue_log, translation)
        bus.subscribe(service.queue_log)
    service.takeover = takeover = Takeover(
        settings,
        deployment,
        leadership,
        AmiEffects(ami),
        switchboard,
        escalations,
        interrupted,
        store,
        service.merger,
        service.queue_log,
        announcements,
    )
    leadership.on_active, leadership.on_standby = takeover.take_over, takeover.stand_down
    leadership.on_regained = takeover.regained
    service.merger.learnt = takeover.escalations_learnt
    ami.on_connect = takeover.resync
    # who reached personal data: the API's routes say so, listening in is seen on the bus
    service.trail = audit.Trail(call_log, clock, lambda: call_log.disk_error)
    bus.subscribe(service.trail)
    tokens = Tokens(configured, store, ready=call_log.ready)
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
            role=lambda: leadership.role,
            holder_url=_holder_url(lease) if lease is not None else None,
            instance=settings.instance_name(),
            metrics_auth=settings.metrics_auth,
            vault=vault,
            escalations=escalations,
            duty=service.duty,
            eraser=eraser,
            streams=Streams(settings.streams_per_token),
            throttles=Throttles(Counts(settings.rate_limit_storage.get_secret_value())),
            trusted_proxies=proxies,
            trail=service.trail,
            desk_phones=service.desk_phones,
            ice_servers=_ice_servers(deployment, settings),
            announcements=announcements,
        )
    )

    def take(new: Deployment) -> None:
        """A reload: every part that holds the deployment, or something made of it, takes
        the new one (settings, tokens from the environment and the phones' transports stay
        as they were: those need a restart)."""
        service.deployment = new
        switchboard.reconfigure(new)
        calls.deployment = new
        if calls.texting is not None:
            calls.texting = Texting(new.callbacks, "sms" in doors)
        ownership.deployment = new
        duty.reconfigure(new)
        escalations.chains = new.escalations
        for part in (retention, eraser, merger, takeover):
            part.deployment = new
        store.composers = composers(new)
        figures_of(new)
        service.api.state.parts.deployment = new

    reload_secret = settings.ami_reload_secret.get_secret_value()
    service.reloader = service.api.state.parts.reloader = Reloader(
        settings,
        take,
        partial(reload_modules, settings.ami_host, settings.ami_port, RELOAD_USER, reload_secret)
        if reload_secret
        else None,
        bus,
        clock,
        lambda: leadership.active,
        takeover.claim_if_active,
    )
    return service


async def _reload(reloader: Reloader, by: str) -> None:
    try:
        await reloader.reload(by)
    except ReloadRefused as exc:
        log.error("reload refused, the running config stays:\n%s", exc)
    except Exception:  # (never the end of the service)
        log.exception("reload failed, the running config stays")


def _ice_servers(
    deployment: Deployment, settings: Settings
) -> Callable[[str], list[dict[str, Any]]]:
    """The TURN server a desk's phone relays through (phones.turn), with credentials of its
    own for each desk session; none without one."""
    turn, secret = deployment.phones.turn, settings.turn_secret.get_secret_value()
    if turn is None:
        return lambda _: []
    if problem := weakness(secret):
        raise TokenError(
            f"HOTLINE_TURN_SECRET: {problem}: phones.turn relays the desk phones' media with "
            "credentials made from it (coturn's static-auth-secret, the same value)"
        )
    return lambda operator: [phone.relay(turn.urls, secret, operator, turn.hours, time.time())]


def _allowed_from(refused: tuple[str, datetime | None] | None, now: datetime) -> datetime | None:
    """When a refused outbound call may be made (None: now); never (the callback patterns
    refuse the number: the config's check says so of every duty phone): a day on, looked at
    again then."""
    if refused is None:
        return None
    return refused[1] or now + timedelta(days=1)


def _holder_url(lease: PostgresLease) -> Callable[[], Awaitable[str | None]]:
    async def url() -> str | None:
        return (await lease.holder()).url

    return url


class _ApiServer(uvicorn.Server):
    """uvicorn in the service's loop; the service, not uvicorn, owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def api_server(settings: Settings, api: Any) -> uvicorn.Server:
    """The API's server (uvicorn), as `hotline serve` runs it."""
    return _ApiServer(
        uvicorn.Config(
            api,
            host=settings.api_host,
            port=settings.api_port,
            log_level=None,  # (the service's logging: hotline/running/logs.py)
            log_config=None,
            access_log=settings.access_log,
            lifespan="off",
            # (X-Forwarded-For is read by hotline/api/proxies.py, from the configured proxies
            # only: uvicorn's own believes anyone on 127.0.0.1)
            proxy_headers=False,
        )
    )


async def start_guard(settings: Settings) -> asyncio.subprocess.Process:
    """`hotline guard` as a process of its own (it must run while this one hangs)."""
    command = [sys.executable, "-m", "hotline.cli", "guard", "--parent", str(os.getpid())]
    return await asyncio.create_subprocess_exec(*command)


async def _cancelled(tasks: list[asyncio.Task[Any]], within: float = 10.0) -> None:
    """Cancel the tasks and wait for them to end, cancelling again any that let one
    cancellation go by (Python 3.11's wait_for can swallow one that comes as its awaitable
    finishes: the AMI link's keeper then went on, and a stop never ended)."""
    loop = asyncio.get_running_loop()
    pending, deadline = set(tasks), loop.time() + within
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # (retrieved: an error at the stop is not worth a warning)
    if pending:
        log.warning("stopping: %s would not end", ", ".join(t.get_name() for t in pending))


async def serve(settings: Settings, deployment: Deployment) -> None:
    """Run FastAGI, AMI and the API in this event loop until SIGINT/SIGTERM."""
    service = build(settings, deployment)
    deliverer, vault, spool_door = service.deliverer, service.vault, service.spool_door
    assert deliverer is not None and vault is not None and spool_door is not None  # (built)
    retention, takeover, reloader = service.retention, service.takeover, service.reloader
    assert retention is not None and takeover is not None and reloader is not None  # (built)
    if not settings.api_token.get_secret_value() and not settings.api_tokens.get_secret_value():
        log.warning("no API token in the environment: only `hotline token create` ones will work")
    agi = FastAgiServer(
        on_rejected=service.calls.reject,
        secret=settings.agi_secret.get_secret_value(),
        peers=settings.agi_peer_list(),
    )
    routes = service.routes()
    if unserved := set(Route) - routes.keys():  # the dialplan calls every one of them
        raise RuntimeError(f"FastAGI routes without a handler: {sorted(unserved)}")
    for path, route in routes.items():
        agi.add_route(path, route)
    agi.may_serve = lambda script: (
        service.leadership.active or (service.switchboard.witnessing and script in WITNESSED)
    )
    server = await agi.start(settings.agi_host, settings.agi_port)
    log.info("FastAGI listening on %s:%d", settings.agi_host, settings.agi_port)
    api = api_server(settings, service.api)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    def hangup() -> None:  # SIGHUP: the config read again (its answer in the log)
        task = loop.create_task(_reload(reloader, "SIGHUP"))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)
    guard = await start_guard(settings) if settings.guard else None
    if not settings.ha:  # (with a standby: from the database, once this one is active)
        if service.queue_log is not None:
            service.queue_log.start(service.switchboard.clock())
        service.switchboard.restore()  # operators' states and pending callbacks, as they were
        service.escalations.restore()  # reports' escalations under way (resumed with AMI)
    # what start-up made (modules, config, the app) lives as long as the process: out of the
    # collector's way, so its rounds only look at what calls make
    gc.collect()
    gc.freeze()
    tasks = [
        asyncio.create_task(service.call_log.run(), name="call-log"),
        asyncio.create_task(service.ami.run(), name="ami"),
        asyncio.create_task(service.recorder.run(service.call_log.ready), name="recordings"),
        asyncio.create_task(retention.run(service.call_log.ready), name="retention"),
        asyncio.create_task(api.serve(), name="api"),
        asyncio.create_task(metrics.watch_loop(), name="loop-lag"),
        asyncio.create_task(deliverer.run(service.call_log.ready), name="outbox"),
        asyncio.create_task(vault.run(service.call_log.ready), name="vault"),
        asyncio.create_task(spool_door.run(lambda: service.leadership.active), name="spool"),
        asyncio.create_task(
            audit.prune(
                service.call_log.store,
                lambda: (
                    service.deployment.audit_days,
                    {org.id: org.audit_days for org in service.deployment.organisations.values()},
                ),
                service.switchboard.clock,
                service.call_log.ready,
                lambda: service.leadership.active,
            ),
            name="audit",
        ),
    ]
    if (desk_phones := service.desk_phones) is not None:
        keep = phone.keep_valid(
            desk_phones,
            service.call_log.store,
            service.api.state.parts.tokens,
            service.switchboard.clock,
            service.call_log.ready,
        )
        tasks.append(asyncio.create_task(keep, name="desk-phones"))
    if service.duty is not None:  # (a standby reads them too: it may be active any moment)
        tasks.append(asyncio.create_task(service.duty.run(), name="duty"))
    if (references := service.notifications.references) is not None:
        tasks.append(asyncio.create_task(references.run(service.call_log.ready), name="refs"))
    if settings.ha:
        tasks.append(asyncio.create_task(service.leadership.run(), name="leadership"))
        tasks.append(asyncio.create_task(takeover.keep_claim(), name="claim"))
        follow = reloader.follow(service.call_log.store.last_reload)
        tasks.append(asyncio.create_task(follow, name="reloads"))
        if service.merger is not None:
            tasks.append(asyncio.create_task(service.merger.run(), name="merge"))
    log.info("API on http://%s:%d (OpenAPI at /docs)", settings.api_host, settings.api_port)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        if guard is not None:  # a stopping service stops answering: that is no hang
            guard.terminate()
            await guard.wait()
        taken: asyncio.Task[bool] | None = None
        if settings.ha:  # a standby takes the lease, and the waiting callers, at once;
            # until it has, the calls this one served report here how they go on and end
            fence = service.leadership.fence
            await service.leadership.release()
            if fence is not None:
                taken = asyncio.create_task(takeover.taken_over(fence, settings.takeover_seconds()))
        else:
            server.close()  # new callers: the dialplan's fallback queue
            handed = await service.switchboard.hand_over(AmiEffects(service.ami).hand_over)
            log.info("%d waiting caller(s) handed to the fallback queues", handed)
        # their sessions end (a message under way is kept); callers in the menus fall back
        # at their next step once this process is gone. With a standby: the menus under way
        # have 10 s to end (their callers then queued by the active one), and whatever is
        # still going tries again there (a caller in the menus starting them again)
        still_going = await agi.drain(10 if settings.ha else 3)
        if taken is not None and not await taken:
            log.warning("no instance took over within %d s", settings.takeover_seconds())
        if still_going and settings.ha:
            log.info("%d call(s) in progress sent to the next instance", agi.retry_elsewhere())
        server.close()
        api.should_exit = True
        await asyncio.wait([t for t in tasks if t.get_name() == "api"], timeout=5)
        if not await service.call_log.flush(timeout=5):
            log.warning(
                "call log: %d events left in the spool; written at the next start",
                service.call_log.backlog,
            )
        await _cancelled([t for t in tasks if t.get_name() == "outbox"])
        await deliverer.stop()  # what is in flight lands (else: sent again, by id)
        await _cancelled(tasks)
        with contextlib.suppress(Exception):  # (when each token was last used, if it can)
            await service.api.state.parts.tokens.close()
        with contextlib.suppress(Exception):  # (Redis' connections, if any)
            await service.api.state.parts.throttles.counts.close()
        await service.call_log.close()
        spool_door.forget()  # messages opened for calls this process served
        if service.queue_log is not None:
            await service.queue_log.close()
        if service.switchboard.durable is not None:
            await service.switchboard.durable.flush()
        await service.call_log.store.close()
