"""The AMI link: one per Asterisk server, kept alive with backoff, never replaying stale actions.

panoramisk's public message classes frame the actions and parse the replies and events; the
connection and its life are this module's (``_Link``, ``AmiClient``): connected once, pinged,
reconnected with backoff, and never replaying an action queued while it was down.

A link that stops answering (a ping or an action without a reply in time) is reset, not closed:
a graceful close would leave an unanswered action in the kernel's send buffer, to be delivered
and carried out whenever the network came back. A reset throws it away, so an action is done
now or never.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, cast

from panoramisk.actions import Action, Command
from panoramisk.message import Message
from panoramisk.utils import EOL

from hotline.asterisk.dialplan import (
    WAITING,
    Context,
    Var,
    assign,
    desk_phone,
    escalation_call,
    parse_escalation_call,
    ring,
    rung,
)
from hotline.asterisk.messages import (
    UNREACHABLE,
    Channel,
    DeviceState,
    PhoneState,
    callback_channel_id,
    endpoint,
    of_kind,
    operators_phones,
    phone_state,
)
from hotline.asterisk.port import ChannelGone, NoAnswer, Uncertain
from hotline.figures.metrics import AMI_SECONDS
from routing.events import EscalationRinging
from routing.signals import CallerQueued

log = logging.getLogger(__name__)

#: The dialplan global (with the report's reference) that keeps a report's last escalation
#: call in Asterisk, where an instance taking over finds it. (Not Asterisk's database: its
#: AMI actions need the system class, which the service's AMI user is not given.)
ESCALATIONS = f"{Var.ESCALATION}_"

EventHandler = Callable[[Message], None]


class AmiUnavailable(Exception):
    """The AMI link is down (or an action got no reply in time); the action was not sent."""


class AmiNoReply(AmiUnavailable):
    """An action was sent and got no reply in time: Asterisk may have carried it out (the
    link is reset, so it never does so later)."""


class NotActive(AmiUnavailable):
    """This instance is standby (or was deposed): it sends no action that acts on calls."""


#: Actions that only read: a standby may send them (it follows Asterisk's state).
READING = frozenset(
    {"Ping", "Getvar", "CoreShowChannels", "DeviceStateList", "Status", "PJSIPShowContacts"}
)


#: The module Asterisk reloads to read each generated file again, calls going on (PJSIP's
#: endpoints and the dialplan are swapped under them). Those left out (the web server's, the
#: AMI accounts') are taken at Asterisk's next start only: they change with the settings, not
#: with the hotline config.
RELOADS = {
    "pjsip_hotline.conf": "res_pjsip.so",
    "extensions_hotline.conf": "pbx_config.so",
    "queues_hotline.conf": "app_queue.so",
}


def modules_of(files: Iterable[str]) -> list[str]:
    """The modules to reload for the generated ``files`` written, in order, once each."""
    return list(dict.fromkeys(RELOADS[name] for name in files if name in RELOADS))


async def reload_modules(
    host: str, port: int, username: str, secret: str, modules: Iterable[str], timeout: float = 10
) -> list[str]:
    """Have Asterisk reload ``modules`` (AMI's Reload action) in a session of its own, as the
    reload account (the service's own may not: hotline/asterisk/render.py, RELOAD_USER); the
    modules reloaded. AmiUnavailable names what failed (those before it were reloaded)."""
    done: list[str] = []
    link = await _Link.open(host, port, username, secret, timeout)
    try:
        for module in modules:
            action = {"Action": "Reload", "Module": module}
            reply = await asyncio.wait_for(link.send_action(action), timeout)
            if not reply.success:
                raise AmiUnavailable(f"Reload {module}: {reply.get('Message')}")
            done.append(module)
    except TimeoutError:
        raise AmiUnavailable(f"AMI {host}:{port}: no reply in {timeout:g} s") from None
    finally:
        link.reset()
    return done


class _Link(asyncio.Protocol):
    """One AMI connection, never reconnected (AmiClient opens the next one itself).

    panoramisk's public message classes do the protocol's words: ``Action`` (an action's
    framing, its ActionID, when its replies are complete) and ``Message`` (a reply or an
    event). Its ``Manager`` is not used: it reconnects on its own every 2 s, replays actions
    queued while it was down and never checks its pings' replies, all of which this module
    must do otherwise; this connection is the few lines of socket handling that leaves."""

    def __init__(self, on_event: EventHandler | None = None) -> None:
        self.on_event = on_event
        #: Done when the connection is gone (Asterisk closed it, it was reset, a Shutdown).
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        #: The protocol's version from Asterisk's greeting ("11.0.0" for Asterisk 22).
        self.version: str | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = ""
        #: The actions sent that await their replies, by ActionID (a Command's by CommandID).
        self._waiting: dict[str, Action] = {}

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        username: str,
        secret: str,
        timeout: float,
        on_event: EventHandler | None = None,
    ) -> _Link:
        """Connect and log in (with events only for an ``on_event`` to take them), or raise
        AmiUnavailable saying why; nothing is left open then."""
        loop = asyncio.get_running_loop()
        link = cls(on_event)
        login = {"Action": "Login", "Username": username, "Secret": secret}
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: link, host, port)
                reply = await link.send_action(login | {"Events": "on" if on_event else "off"})
        except (OSError, TimeoutError) as exc:
            link.reset()
            raise AmiUnavailable(f"cannot connect: {exc or 'timed out'}") from None
        except AmiUnavailable:
            link.reset()
            raise
        if not reply.success:
            link.reset()
            raise AmiUnavailable(f"login refused for user {username!r}: {reply.message}")
        return link

    def send_action(self, fields: dict[str, Any], as_list: bool | None = None) -> Any:
        """Write one action; a future of its reply (a list of messages for a list action)."""
        if self._transport is None or self._transport.is_closing():
            raise AmiUnavailable("the AMI connection is closed")
        action = (Command if "Command" in fields else Action)(fields, as_list=as_list)
        self._waiting[action.id] = self._waiting[action.action_id] = action
        self._transport.write(str(action).encode())
        return action.future

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # (uvloop's is no subclass)

    def data_received(self, data: bytes) -> None:
        self._buffer += data.decode("utf-8", "ignore")
        if self.version is None:  # Asterisk's greeting, one line before any message
            greeting, eol, rest = self._buffer.partition(EOL)
            if not eol:
                return
            self.version = greeting.removeprefix("Asterisk Call Manager/").strip()
            self._buffer = rest
            log.info("AMI protocol version %s", self.version)
        *whole, self._buffer = self._buffer.split(EOL + EOL)
        for text in whole:
            message = Message.from_line(text.strip())
            if message is not None:
                self._take(message)

    def _take(self, message: Message) -> None:
        action = self._waiting.get(message.id or "") or self._waiting.get(message.action_id or "")
        if action is not None:
            if action.add_message(message):  # its last reply
                self._waiting.pop(action.id, None)
                self._waiting.pop(action.action_id, None)
            return
        if "event" not in message:
            return
        if self.on_event is not None:
            try:
                self.on_event(message)
            except Exception:  # one event badly taken must not cost the link
                log.exception("AMI event %s: not taken in", message.event)
        if message.event == "Shutdown":  # Asterisk stops: no reply will come on this link
            self.reset()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        for action in list(self._waiting.values()):  # sent, unanswered: it may have been done
            if not action.future.done():
                action.future.set_exception(AmiNoReply(f"connection lost before {action.id}"))
        self._waiting.clear()

    def reset(self) -> None:
        """Drop the connection at once with a TCP reset: nothing still unsent goes out."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


class AmiClient:
    """Keeps one AMI connection up; ``action`` sends now or fails, never later."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: EventHandler | None = None,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        ping_interval: float = 10.0,
        action_timeout: float = 5.0,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.on_event = on_event
        self.on_connect = on_connect
        self.ping_interval = ping_interval
        self.action_timeout = action_timeout
        self.backoff = backoff
        self.connected = False
        self.last_error: str | None = "not connected yet"
        self.connects = 0
        self._link: _Link | None = None
        #: Whether this instance may act (the leadership's ``active``): asked before every
        #: action that is not a mere reading, at the moment it would be sent.
        self.may_act: Callable[[], bool] = lambda: True
        #: The fencing number this instance's actions carry (the leadership's): the dialplan
        #: ignores one smaller than its HOTLINE_FENCE, set by the newest active instance.
        self.fence: Callable[[], int] = lambda: 1
        #: Moves go through [hotline-fenced] (with a standby; alone, straight to their place).
        self.fenced = False

    async def run(self) -> None:
        """Connect, watch, and reconnect with exponential backoff and jitter, until cancelled."""
        delay = self.backoff[0]
        while True:
            try:
                await self._session()
                delay = self.backoff[0]  # it was up: start the backoff again
            except AmiUnavailable as exc:
                self.last_error = str(exc)
                log.warning("AMI %s:%d: %s; retrying in %.1f s", self.host, self.port, exc, delay)
            except Exception as exc:  # never let the link's keeper die
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception(
                    "AMI %s:%d: unexpected error; retrying in %.1f s", self.host, self.port, delay
                )
            finally:
                self.connected = False
                if self._link is not None:
                    self._link.reset()
                    self._link = None
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff[1])

    async def _session(self) -> None:
        link = await _Link.open(
            self.host, self.port, self.username, self.secret, self.action_timeout, self.on_event
        )
        self._link, lost = link, link.lost
        self.connected, self.last_error = True, None
        self.connects += 1
        log.info("AMI %s:%d connected", self.host, self.port)
        if self.on_connect is not None:
            try:
                await self.on_connect()
            except Exception:  # a failed resync must not take the link down
                log.exception("AMI %s:%d: resync after connecting failed", self.host, self.port)
        while not lost.done():
            await asyncio.wait([lost], timeout=self.ping_interval)
            if lost.done():
                break
            try:
                await asyncio.wait_for(link.send_action({"Action": "Ping"}), self.action_timeout)
            except TimeoutError:
                raise AmiUnavailable(f"no reply to ping within {self.action_timeout:g} s") from None
        raise AmiUnavailable(self.last_error or "connection lost")

    async def action(
        self, fields: dict[str, Any], timeout: float | None = None, as_list: bool = False
    ) -> Any:
        """Send one action and return its reply; AmiUnavailable if the link cannot carry it."""
        link = self._link
        if not self.connected or link is None:
            raise AmiUnavailable(f"AMI is down ({self.last_error})")
        name = str(fields.get("Action", ""))
        if name not in READING and not self.may_act():
            raise NotActive(f"{name} not sent: this instance is not the active one")
        sent = time.perf_counter()
        try:
            reply = await asyncio.wait_for(
                link.send_action(dict(fields), as_list=as_list or None),
                timeout or self.action_timeout,
            )
        except TimeoutError:
            # Asterisk may yet receive it and carry it out: the link is reset so it never does
            self.last_error = f"no reply to {fields.get('Action')} in time"
            if link is self._link:
                self.connected = False
                link.reset()
            raise AmiNoReply(self.last_error) from None
        AMI_SECONDS.labels(str(fields.get("Action", "?"))).observe(time.perf_counter() - sent)
        return reply


class AmiEffects:
    """The switchboard's hands in Asterisk."""

    def __init__(
        self,
        ami: AmiClient,
        desk: Callable[[str], bool] = lambda _: False,
        dial: Callable[[str], str] = lambda number: number,
    ) -> None:
        self.ami = ami
        #: Whether an operator's desk phone is rung too (its session holds credentials).
        self.desk = desk
        #: A stored (E.164) number as the carrier is given it (trunk.dial).
        self.dial = dial

    async def connect(
        self, channel: str, operator: str, ring_timeout: float, transferred: bool = False
    ) -> None:
        # one action: the ring's length (their line's organisation's) rides in the extension
        context = Context.TRANSFERRED if transferred else Context.CONNECT
        await self._redirect(channel, context, ring(operator, ring_timeout, self.desk(operator)))

    async def move(self, channel: str, number: str = "") -> None:
        if number:
            await self._redirect(channel, Context.CENTRE, self.dial(number))
        else:
            await self._redirect(channel, Context.TRANSFERRED, "s")

    async def take_message(self, channel: str) -> None:
        await self._redirect(channel, Context.MESSAGE, "s")

    async def hand_over(self, channel: str) -> None:
        """The service is stopping: the caller goes to their line's fallback queue now."""
        await self._redirect(channel, Context.HANDOVER, "s")

    async def _redirect(self, channel: str, context: str, exten: str) -> None:
        """Move a caller to ``context``, ``exten`` (with a standby: through [hotline-fenced],
        which carries it out only if this instance's fencing number is still the newest)."""
        if self.ami.fenced:
            context, exten = Context.FENCED, f"{self.ami.fence()}*{context}*{exten}"
        try:
            reply = await self.ami.action(
                {
                    "Action": "Redirect",
                    "Channel": channel,
                    "Context": context,
                    "Exten": exten,
                    "Priority": "1",
                }
            )
        except AmiNoReply as exc:
            raise Uncertain(f"Redirect {channel} to {context},{exten}: {exc}") from None
        if not reply.success:
            message = str(reply.get("Message", ""))
            if "not exist" in message:
                raise ChannelGone(channel)
            raise AmiUnavailable(f"Redirect {channel} to {context},{exten}: {message}")

    async def callback(
        self, call: str, operator: str, number: str, attempt: int, ring_timeout: float
    ) -> None:
        ring = max(1, round(ring_timeout))
        # (one channel an Originate: their own phone, or their desk's where the desk holds
        # credentials and their own phone is not registered)
        phone = operator
        if self.desk(operator) and not await self._reachable(operator):
            phone = desk_phone(operator)
        replies = await self.ami.action(
            {
                "Action": "Originate",
                "Channel": f"PJSIP/{phone}",
                "Context": Context.CALLBACK,
                "Exten": "s",
                "Priority": "1",
                "Timeout": str(ring * 1000),
                "CallerID": f'"Callback" <{number}>',
                "Variable": [
                    assign(Var.CALLBACK, call),
                    assign(Var.NUMBER, self.dial(number)),
                    assign(Var.FENCED, self.ami.fence()),
                ],
                # one id per attempt: a retried action can never ring twice
                "ChannelId": callback_channel_id(call, attempt),
                "Async": "true",
            },
            timeout=ring + 15,
        )
        last = replies[-1] if isinstance(replies, list) else replies
        if last.get("Response") != "Success":
            raise NoAnswer(f"{operator}: {last.get('Reason') or last.get('Message')}")

    async def _reachable(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s phone is registered now, as Asterisk's device state says
        (an Asterisk that does not answer: taken as yes)."""
        try:
            reply = await self.ami.action(
                {"Action": "Getvar", "Variable": f"DEVICE_STATE(PJSIP/{endpoint})"}
            )
        except Exception:
            return True
        return not reply.success or str(reply.get("Value", "")) not in UNREACHABLE

    async def escalate(self, ringing: EscalationRinging, seconds: float) -> str | None:
        """Ring a person on duty through the trunk for a detention report: Asterisk keeps the
        call in a dialplan global first (another instance learns of it there), then a Local
        channel dials them ([hotline-escalation-dial], fenced) and, once they answer, the
        report's dialogue runs ([hotline-escalation]). None: answered; else FAILED or FENCED
        (the dialplan reports a ring that was not answered itself, with its DIALSTATUS)."""
        from hotline.reports.escalations import Unsent

        ref, n = ringing.ref, ringing.attempt
        r = ringing
        kept = f"{n}|{r.step}|{r.round}|{r.person}|{r.role}|{r.number}|{r.language or 'en'}"
        try:
            await self.set_global(f"{ESCALATIONS}{ref}", kept)
        except NotActive:
            return "FENCED"
        except AmiUnavailable as exc:
            raise Unsent(str(exc)) from None
        try:
            replies = await self.ami.action(
                {
                    "Action": "Originate",
                    "Channel": f"Local/s@{Context.ESCALATION_DIAL}",
                    "Context": Context.ESCALATION,
                    "Exten": "s",
                    "Priority": "1",
                    "Timeout": str(int((seconds + 10) * 1000)),
                    "CallerID": f'"Legal aid {ref}" <{ref}>',
                    "Variable": [
                        assign(Var.ESCALATION, escalation_call(ref, n)),
                        assign(Var.NUMBER, self.dial(ringing.number)),
                        assign(Var.RING, int(seconds)),
                        assign(Var.FENCED, self.ami.fence()),
                    ],
                    # one id per call: a retried action can never ring twice
                    "ChannelId": f"escalation-{escalation_call(ref, n)}",
                    "OtherChannelId": f"escalation-{escalation_call(ref, n)}-dial",
                    "Async": "true",
                },
                timeout=seconds + 30,
            )
        except NotActive:
            return "FENCED"
        except AmiNoReply:
            raise
        except AmiUnavailable as exc:
            raise Unsent(str(exc)) from None
        last = replies[-1] if isinstance(replies, list) else replies
        return None if last.get("Response") == "Success" else "FAILED"

    async def last_call(self, ref: str) -> EscalationRinging | None:
        """The last call Asterisk keeps for a report (None: none, or unreadable)."""
        kept = await self.get_global(f"{ESCALATIONS}{ref}")
        fields = kept.split("|")
        if len(fields) != 7 or not fields[0].isdigit():
            return None
        n, step, round_, person, role, number, language = fields
        if not (step.isdigit() and round_.isdigit()):
            return None
        return EscalationRinging(
            ref, int(n), int(step), int(round_), person, role, number, language
        )

    async def forget_calls(self, ref: str) -> None:
        """The report's escalation is over: Asterisk need keep its last call no longer."""
        await self.set_global(f"{ESCALATIONS}{ref}", "")

    async def calls_up(self) -> set[tuple[str, int]]:
        """The escalation calls Asterisk has now: each one's report and attempt."""
        ids = await self.channels()
        # (each call's other half, "escalation-<call>-dial", is not one)
        calls = [u.removeprefix("escalation-") for u in ids if u.startswith("escalation-")]
        return {parse_escalation_call(u) for u in calls if not u.endswith("-dial")}

    async def spy(self, supervisor: str, operator: str, options: str, call: str) -> None:
        """Ring ``supervisor``'s softphone; once answered, ChanSpy joins ``operator``'s call:
        the operator's own channel, found now by its exact endpoint (a prefix such as
        ``PJSIP/anna-`` is also anna-m's), and named to ChanSpy by its uniqueid. Gone by
        then, ChanSpy joins nobody."""
        spied = spied_channel(await self.channel_list(), operator, call)
        if spied is None:
            raise AmiUnavailable(f"{operator} has no call up in Asterisk")
        replies = await self.ami.action(
            {
                "Action": "Originate",
                "Channel": f"PJSIP/{supervisor}",
                "Context": Context.SPY,
                "Exten": "s",
                "Priority": "1",
                "Timeout": "30000",
                "CallerID": f'"{operator}" <{operator}>',
                "Variable": [
                    assign(Var.SPY_CHANNEL, spied.uniqueid),
                    assign(Var.SPY_OPTIONS, options),
                    assign(Var.FENCED, self.ami.fence()),
                ],
                "ChannelId": f"spy-{call}-{supervisor}-{time.monotonic_ns()}",
                "Async": "true",
            },
            timeout=45,
        )
        last = replies[-1] if isinstance(replies, list) else replies
        if last.get("Response") != "Success":
            raise AmiUnavailable(f"{supervisor}: {last.get('Reason') or last.get('Message')}")

    async def channels(self) -> dict[str, str]:
        """Every channel now: its uniqueid, and the dialplan context it is in."""
        return {c.uniqueid: c.context for c in await self.channel_list()}

    async def channel_list(self) -> list[Channel]:
        replies = await self.ami.action({"Action": "CoreShowChannels"}, as_list=True)
        return list(of_kind(Channel, replies))

    async def callers(
        self,
    ) -> tuple[list[CallerQueued], list[tuple[CallerQueued, str]], list[tuple[CallerQueued, str]]]:
        """Callers in the dialplan, as their channels remember them (line, language, since
        when, number): those waiting (hotline-wait, hotline-next), those talking to an
        operator (hotline-connect, bridged) and those ringing one (hotline-connect, in Dial),
        with whom: what an instance taking over queues them by. A channel that went meanwhile
        is left out."""
        waiting: list[CallerQueued] = []
        talking: list[tuple[CallerQueued, str]] = []
        ringing: list[tuple[CallerQueued, str]] = []
        for c in await self.channel_list():
            dialling = c.context == Context.CONNECT and (c.bridged or c.application == "Dial")
            if c.context not in WAITING and not dialling:
                continue
            values = []
            for name in (Var.LINE, Var.LANGUAGE, Var.ENTERED, "CALLERID(num)"):
                reply = await self.ami.action(
                    {"Action": "Getvar", "Channel": c.channel, "Variable": name}
                )
                values.append(str(reply.get("Value") or "") if reply.success else "")
            line, language, entered, caller = values
            if not line:
                continue
            try:
                since = datetime.fromtimestamp(float(entered), UTC) if entered else None
            except (ValueError, OverflowError):
                since = None
            found = CallerQueued(c.uniqueid, c.channel, line, language or "en", caller, since)
            if c.context != Context.CONNECT:
                waiting.append(found)
            else:
                (talking if c.bridged else ringing).append((found, rung(c.exten)))
        return waiting, talking, ringing

    async def get_global(self, name: str) -> str:
        """A dialplan global's value ("" when it is not set)."""
        reply = await self.ami.action({"Action": "Getvar", "Variable": name})
        if not reply.success:
            raise AmiUnavailable(f"Getvar {name}: {reply.get('Message')}")
        return str(reply.get("Value") or "")

    async def claim(self, fence: int, takeover: int, agi: str) -> None:
        """The dialplan's globals of the active instance: its fencing number (HOTLINE_FENCE;
        an action carrying a smaller one is ignored), how long callers try again while no
        instance answers, and its FastAGI address with the secret (HOTLINE_AGI)."""
        await self.set_global(Var.FENCE, str(fence))
        await self.set_global(Var.TAKEOVER, str(takeover))
        await self.set_global(Var.AGI, agi)

    async def fence(self) -> int:
        """The fencing number Asterisk holds now (the newest active instance's; 0: none)."""
        return int(await self.get_global(Var.FENCE) or 0)

    async def set_global(self, name: str, value: str) -> None:
        """A dialplan global (the active instance's FastAGI URL, its fencing number)."""
        reply = await self.ami.action({"Action": "Setvar", "Variable": name, "Value": value})
        if not reply.success:
            raise AmiUnavailable(f"Setvar {name}: {reply.get('Message')}")

    async def phones(self, operators: Iterable[str]) -> list[PhoneState]:
        """Each of ``operators``' phones now (one Asterisk does not know: unreachable)."""
        replies = await self.ami.action({"Action": "DeviceStateList"}, as_list=True)
        known = {s.operator: s for d in of_kind(DeviceState, replies) if (s := phone_state(d))}
        return [operators_phones(known, op) for op in operators]


def spied_channel(channels: list[Channel], operator: str, call: str) -> Channel | None:
    """The operator's channel in a conversation: of their endpoint exactly, bridged, the
    one of ``call`` if Asterisk links it so (a queued caller's), else their only one."""
    theirs = [c for c in channels if endpoint(c.channel) == operator and c.bridged]
    linked = [c for c in theirs if c.linkedid == call]
    found = linked or theirs
    return found[0] if found else None
