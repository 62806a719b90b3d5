"""`hotline guard`: no caller is left in silence when the service hangs.

Asterisk waits on a FastAGI socket forever. A service that is stopped (SIGSTOP), deadlocked or
starved keeps its port open, so new callers connect and, like those it was serving, hear
nothing. The guard is a separate small process beside the service (its own unit or
container, the only one with CAP_NET_ADMIN; or a child of ``serve``): every second it asks the
service's API whether its event loop answers; after ``patience`` failed probes in a row it asks
Asterisk (AMI) for the callers waiting on the service and moves each one to their line's
fallback queue (dialplan [hotline-guarded]), where app_queue rings the line's operators.

A redirect alone cannot free a channel inside a FastAGI session: Asterisk then waits for the
script to close the connection, which a hung service never does. So the guard also resets
the hung service's FastAGI connections (``ss -K``, iproute2: root or CAP_NET_ADMIN in the
service's network namespace); each redirected caller then leaves at once. Without that right
the guard says so in the log, and the moved callers leave when the service runs again or dies.
The dialplan announces every move with a UserEvent, so the service, once it answers again,
lets those callers go instead of routing them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from hotline.asterisk.ami import AmiClient, AmiUnavailable
from hotline.asterisk.dialplan import Result, Var
from hotline.asterisk.messages import Channel, of_kind
from hotline.config.settings import Settings
from hotline.running.leadership import PostgresLease
from hotline.store.db import Store

log = logging.getLogger(__name__)

#: Where a caller waits on the service's FastAGI (the caller's side of the dialplan); a
#: caller there in any application but Queue (the fallback already) is moved.
RESCUED_CONTEXTS = frozenset({"hotline", "hotline-next", "hotline-message"})
#: Where only a caller in the service's FastAGI is moved (not one hearing music, or ringing
#: an operator).
AGI_CONTEXTS = frozenset({"hotline-wait", "hotline-connect"})
#: Seconds the guard waits for a standby to take a lease that ran out, before it moves the
#: hung service's callers to the fallback queues instead.
VACANT_GRACE = 2.0


def waits_on_the_service(channel: Channel) -> bool:
    """Whether a channel is a caller the hung service leaves in silence."""
    if channel.application == "Queue":
        return False
    return channel.context in RESCUED_CONTEXTS or (
        channel.context in AGI_CONTEXTS and channel.application == "AGI"
    )


Probe = Callable[[], Awaitable[bool]]


#: What :func:`api_answers` gives when nothing listens on the API's port: the service is not
#: running (stopped, restarting, dead), which is no hang. Its FastAGI port is closed too, so
#: the dialplan takes new callers to the fallback queues itself, and the kernel ended the
#: sessions of a process that died. Run apart from the service (its own container or unit),
#: the guard must not take a stop for a hang: it would cut the sessions of the instance
#: starting in its place.
NOT_RUNNING = b""


async def api_answers(host: str, port: int, timeout: float) -> bytes | None:
    """What the service's event loop answers to ``/health/live`` within ``timeout`` (None:
    nothing; NOT_RUNNING: the connection was refused). A hung process still holds its
    listening socket: the kernel accepts the connection, and nobody answers."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(b"GET /health/live HTTP/1.0\r\nHost: guard\r\n\r\n")
                answer = await reader.read(4096)
            finally:
                writer.close()
    except ConnectionRefusedError:
        return NOT_RUNNING
    except (OSError, TimeoutError):
        return None
    return answer if answer.startswith(b"HTTP/") else None


#: CAP_NET_ADMIN's bit in /proc/<pid>/status's capability masks.
CAP_NET_ADMIN = 12


def may_reset_connections(
    status: Path = Path("/proc/self/status"), ss: str | None = shutil.which("ss")
) -> bool:
    """Whether ``ss -K`` run from here may reset others' TCP connections: this process has
    CAP_NET_ADMIN (root has), or ``ss`` was given it (the image's setcap) and it is in this
    process's bounding set (the container's: compose.yaml adds it)."""
    caps = {}
    for line in status.read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("CapEff", "CapBnd"):
            caps[name] = bool(int(value.strip(), 16) >> CAP_NET_ADMIN & 1)
    if caps.get("CapEff"):
        return True
    try:
        given = ss is not None and bool(os.getxattr(ss, "security.capability"))
    except OSError:
        given = False
    return given and caps.get("CapBnd", False)


async def _ss(wrapper: Sequence[str], *args: str) -> tuple[int, list[str], str]:
    """``ss``'s exit code, the TCP sockets it printed, and its complaints."""
    process = await asyncio.create_subprocess_exec(
        *wrapper,
        *("ss", "-H", "-t", "-n", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, error = await process.communicate()
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    return process.returncode or 0, lines, error.decode(errors="replace").strip()


async def reset_agi(port: int, wrapper: Sequence[str] = ()) -> int:
    """Reset the service's FastAGI connections (its side: Asterisk's side sees the reset and
    ends each session), every one stuck with the hung service; how many were reset. ``ss -K``
    says nothing wrong in its exit code when it may not (no CAP_NET_ADMIN): what it printed,
    and the connections still there afterwards, tell. ``wrapper``: a command to run ``ss``
    under (a test's, to take the right away)."""
    match = ("sport", "=", f":{port}")
    try:
        code, killed, error = await _ss(wrapper, "-K", *match)
        _, left, _ = await _ss((), *match)
    except OSError as exc:  # no `ss` (iproute2) here
        log.error("CANNOT reset the FastAGI connections: %s: callers moved stay stuck", exc)
        return 0
    if code or left:
        log.error(
            "CANNOT reset %d FastAGI connection(s) of the hung service (%s): the callers "
            "moved stay in silence until it dies; the guard needs root or CAP_NET_ADMIN",
            len(left),
            error or f"ss exited with {code}",
        )
    elif killed:
        log.warning("reset %d FastAGI connection(s) of the hung service", len(killed))
    return len(killed)


async def rescue(ami: AmiClient, cut: Callable[[], Awaitable[None]]) -> int:
    """Move every caller waiting on the service to the fallback, then ``cut`` the FastAGI
    sessions that hold them; how many moved."""
    channels = of_kind(Channel, await ami.action({"Action": "CoreShowChannels"}, as_list=True))
    moved = 0
    in_agi = any(c.application == "AGI" for c in channels)
    for channel in channels:
        if not waits_on_the_service(channel):
            continue
        reply = await ami.action(
            {
                "Action": "Redirect",
                "Channel": channel.channel,
                "Context": "hotline-guarded",
                "Exten": "s",
                "Priority": "1",
            }
        )
        if reply.success:
            moved += 1
            log.warning("moved %s (%s) to the fallback queue", channel.uniqueid, channel.context)
        else:
            log.warning("could not move %s: %s", channel.uniqueid, reply.get("Message"))
    if in_agi:
        await cut()
    return moved


async def hand_on(ami: AmiClient, cut: Callable[[], Awaitable[None]], address: str = "") -> int:
    """Another instance took over from the hung one: every caller in one of its FastAGI
    sessions (``address``: its FastAGI URL, which the session's AGI() names; empty: any) is
    told to try again (HOTLINE_RESULT=retry), then the sessions are cut. A cut session ends
    as a finished one (AGISTATUS=SUCCESS), which the dialplan takes for the service's own
    fault (the fallback queue, unseen by any instance); told to try again, the caller goes to
    the active instance instead: a caller who had just arrived, or was in the menus, goes
    through its menus, and it logs the call. How many were told."""
    channels = of_kind(Channel, await ami.action({"Action": "CoreShowChannels"}, as_list=True))
    told = 0
    for channel in channels:
        if channel.application != "AGI" or not waits_on_the_service(channel):
            continue
        if address and channel.data and not channel.data.startswith(f"{address}/"):
            continue  # a session with another instance (the active one, say)
        reply = await ami.action(
            {
                "Action": "Setvar",
                "Channel": channel.channel,
                "Variable": Var.RESULT,
                "Value": Result.RETRY,
            }
        )
        if reply.success:
            told += 1
            log.warning("%s (%s) sent to the active instance", channel.uniqueid, channel.context)
        else:
            log.warning(
                "could not tell %s to try again: %s", channel.uniqueid, reply.get("Message")
            )
    await cut()
    return told


class Guard:
    """Probes the service every ``interval`` seconds; rescues callers while it does not answer."""

    def __init__(
        self,
        ami: AmiClient,
        probe: Probe,
        cut: Callable[[], Awaitable[None]],
        interval: float = 1.0,
        patience: int = 3,
        taken_over: Callable[[], Awaitable[bool | None]] | None = None,
        address: str = "",
    ) -> None:
        self.ami = ami
        #: With a standby (HOTLINE_HA): whether another instance holds the lease now (None:
        #: the hung one's own lease still runs, and a standby may take it only once it ran
        #: out: its callers wait for that); taken, the hung one's callers are sent to that
        #: instance (:func:`hand_on`), not moved to the fallback queues.
        self.taken_over = taken_over
        #: The service's FastAGI URL (its sessions name it).
        self.address = address
        self.probe = probe
        self.cut = cut
        self.interval = interval
        self.patience = patience
        self.failures = 0
        #: Set by the first answer: a service still starting is not a hung one.
        self.armed = False
        #: The service last said it is a standby (HOTLINE_HA): its callers, if any, are the
        #: active instance's to serve, and this guard moves none.
        self.standby = False

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
                "the service has not answered %d probes: its callers go to %s",
                self.failures,
                "a standby taking over, else the fallback queues"
                if self.taken_over
                else "the fallback queues",
            )
        if self.failures >= self.patience and not self.standby:
            try:
                taken = await self.taken_over() if self.taken_over is not None else False
                if taken:
                    await hand_on(self.ami, self.cut, self.address)
                elif taken is None:
                    log.info("no other instance holds the lease yet: a standby may take over")
                else:
                    await rescue(self.ami, self.cut)
            except AmiUnavailable as exc:
                log.warning("cannot move callers: %s", exc)
            except Exception as exc:  # (the database, asked whether another took over)
                log.warning("cannot tell whether another instance took over: %s", exc)
                await rescue(self.ami, self.cut)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:  # a check every interval, however long the probe took
            started = loop.time()
            try:
                await self.check()
            except Exception:  # the guard itself must not die of a bad moment
                log.exception("guard check failed")
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))


class TakenOver:
    """With a standby: whether another instance holds the lease now. True: the hung
    service's callers go to it; None: not yet (the lease is still the hung one's, or it ran
    out moments ago and a standby is about to take it); False: nobody took it within
    :data:`VACANT_GRACE`, so there is no standby to wait for."""

    def __init__(
        self,
        lease: PostgresLease,
        me: str,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease, self.me, self.timeout, self.clock = lease, me, timeout, clock
        self._vacant_since: float | None = None

    async def __call__(self) -> bool | None:
        async with asyncio.timeout(self.timeout):
            holder = (await self.lease.holder()).instance
        if holder is not None:
            self._vacant_since = None
            return None if holder == self.me else True
        # run out and not taken yet: a standby takes it within a fraction of a second (it
        # tries every STANDBY_TRY); none that soon, there is none to wait for
        now = self.clock()
        if self._vacant_since is None:
            self._vacant_since = now
        return None if now - self._vacant_since < VACANT_GRACE else False


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
        answer = await api_answers(settings.api_host, settings.api_port, timeout=interval)
        if answer == NOT_RUNNING:  # (stopped, not hung: armed again by its next answer)
            guard.armed = False
            return True
        if answer is not None:
            guard.standby = b'"role":"standby"' in answer
        return answer is not None

    async def cut() -> None:
        await reset_agi(settings.agi_port)

    if not may_reset_connections():
        log.error(
            "the guard lacks CAP_NET_ADMIN: it can move a hung service's callers but not "
            "free them from its FastAGI connections (give it the capability: compose.yaml's "
            "guard container and config/systemd/hotline-guard.service do)"
        )

    taken_over = None
    if settings.ha:
        lease = PostgresLease(Store(settings.database()).engine)
        taken_over = TakenOver(lease, settings.instance_name(), interval)

    guard = Guard(ami, probe, cut, interval, patience, taken_over, settings.agi_address())
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
