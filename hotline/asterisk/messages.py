"""The AMI messages the service reads, as typed events: :func:`parse` turns a raw message
into one (or None, for the many the service has no use for) and raises
:class:`MalformedMessage`, naming the field, when one it needs is missing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hotline.asterisk.dialplan import Event, desk_phone, operator_of, organisation_of_transfer

T = TypeVar("T")


class MalformedMessage(ValueError):
    """An AMI message without a field the service needs."""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A device's state (``DeviceStateChange``, also each entry of ``DeviceStateList``)."""

    device: str  # e.g. PJSIP/op1
    state: str  # e.g. NOT_INUSE, INUSE, UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Guarded:
    """The dialplan's ``UserEvent: HotlineGuarded``: the guard moved a caller to the fallback
    queue while the service was not answering."""

    call: str
    caller: str
    number: str
    channel: str
    sip_call_id: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """The dialplan's ``UserEvent: HotlineHangup``: a caller's channel is gone (its hangup
    handler ran)."""

    call: str
    #: The SIP endpoint that hung up (``op3``), empty when Asterisk does not say or it is
    #: not a SIP phone's channel.
    by: str
    #: The fencing number of the instance the dialplan pointed at (0: none, no standby).
    fence: int


@dataclass(frozen=True, slots=True)
class AttendedTransfer:
    """The phones completed (or failed) an attended transfer: the caller (``call``, the
    transferee's uniqueid) was with ``transferer`` and now is with ``target`` (channel names:
    ``PJSIP/op2-...`` for a REFER with Replaces, ``Local/<code>@<context>-...`` for *2; empty
    when that channel went first), whom the transferer had called (``consulted``: the caller
    id of their second call's other end, an operator's id)."""

    success: bool
    call: str
    transferer: str
    target: str
    consulted: str


@dataclass(frozen=True, slots=True)
class Channel:
    """One entry of ``CoreShowChannels``."""

    uniqueid: str
    channel: str
    context: str
    application: str
    exten: str = ""
    #: In a bridge (talking to someone), not ringing or alone.
    bridged: bool = False
    #: The application's arguments (an AGI's: the FastAGI URL it called, with its secret:
    #: never logged).
    data: str = ""
    #: The uniqueid of the call's first channel (a caller's: the call's id).
    linkedid: str = ""


AmiEvent = DeviceState | Guarded | Hangup | AttendedTransfer | Channel

#: Device states of a phone that cannot be rung.
UNREACHABLE = frozenset({"UNAVAILABLE", "INVALID", "UNKNOWN", ""})
#: Device states of a phone busy with a call (ringing, talking or holding).
IN_USE = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})


@dataclass(frozen=True, slots=True)
class PhoneState:
    """An operator's phone, as its device state says: reachable or not, busy or not
    (``operator``: the endpoint's name, ``anna.desk`` for the phone in anna's desk, until
    :func:`operators_phones` makes one of an operator's two)."""

    operator: str
    reachable: bool
    in_use: bool


def phone_state(device: DeviceState) -> PhoneState | None:
    """The phone a SIP device's state is about (None: a device of another kind)."""
    if not device.device.startswith("PJSIP/"):
        return None
    state = device.state
    return PhoneState(
        device.device.removeprefix("PJSIP/"), state not in UNREACHABLE, state in IN_USE
    )


def operators_phones(phones: Mapping[str, PhoneState], operator: str) -> PhoneState:
    """``operator``'s phones as one, from each endpoint's last state: their own and their
    desk's; reachable if either is, busy if either is."""
    theirs = [s for e in (operator, desk_phone(operator)) if (s := phones.get(e)) is not None]
    return PhoneState(operator, any(s.reachable for s in theirs), any(s.in_use for s in theirs))


@dataclass(frozen=True, slots=True)
class Transferred:
    """An attended transfer completed on the phones, in the service's words: the caller
    (``call``) talks now to ``target`` (an operator's endpoint, or the code keyed after *2,
    with the ``organisation`` whose transfer context it was keyed in), whom ``transferer``
    (an endpoint) had called (``consulted``: that call's other end, an operator's id)."""

    call: str
    transferer: str
    target: str
    organisation: str | None
    consulted: str


def transferred(event: AttendedTransfer) -> Transferred | None:
    """What a successful attended transfer did (None: it failed)."""
    if not event.success:
        return None
    kind, _, rest = event.target.partition("/")
    if kind == "Local":  # Local/<code>@hotline-transfer-<organisation>-0000001a;1
        name, _, context = rest.rpartition("-")[0].partition("@")
        organisation = organisation_of_transfer(context)
    else:
        name, organisation = endpoint(event.target), None
    return Transferred(
        event.call,
        endpoint(event.transferer) or event.transferer,
        name,
        organisation,
        event.consulted,
    )


def callback_channel_id(call: str, attempt: int) -> str:
    """The channel id of a callback's operator leg: the call and the attempt it is."""
    return f"callback-{call}-{attempt}"


@dataclass(frozen=True, slots=True)
class CallbackLeg:
    """A callback under way in Asterisk: its call, the attempt, the operator rung."""

    call: str
    attempt: int
    operator: str


def callback_legs(channels: list[Channel]) -> dict[str, CallbackLeg]:
    """Each callback under way in ``channels`` (by call), its latest attempt."""
    found: dict[str, CallbackLeg] = {}
    for c in channels:
        if not c.uniqueid.startswith("callback-"):
            continue
        call, _, attempt = c.uniqueid.removeprefix("callback-").rpartition("-")
        if not call or not attempt.isdigit():
            continue
        leg = CallbackLeg(call, int(attempt), endpoint(c.channel))
        if call not in found or found[call].attempt < leg.attempt:
            found[call] = leg
    return found


def endpoint(channel: str) -> str:
    """The operator whose phone a channel's name is of (``PJSIP/op3-0000002a``, or their
    desk's ``PJSIP/op3.desk-0000002b``: ``op3``); empty for a channel of another kind, or
    none."""
    if not channel.startswith("PJSIP/"):
        return ""
    return operator_of(channel.removeprefix("PJSIP/").rpartition("-")[0])


def parse(message: Mapping[str, Any]) -> AmiEvent | None:
    """The typed event of a raw AMI message, or None when the service does not read it."""
    match message.get("Event"):
        case "DeviceStateChange":
            return DeviceState(_field(message, "Device"), _field(message, "State"))
        case "UserEvent" if message.get("UserEvent") == Event.HANGUP:
            fence = _field(message, "Fence", "") or "0"
            if not (fence.isascii() and fence.isdigit()):
                raise MalformedMessage(f"AMI UserEvent {Event.HANGUP} with Fence {fence!r}")
            return Hangup(_field(message, "Call"), endpoint(_field(message, "By", "")), int(fence))
        case "UserEvent" if message.get("UserEvent") == Event.GUARDED:
            return Guarded(
                _field(message, "Call"),
                _field(message, "CallerIDNum", "").strip("<>") or "unknown",
                _field(message, "Number", ""),
                _field(message, "Channel", ""),
                _field(message, "SipCallId", ""),
            )
        case "AttendedTransfer":
            success = _field(message, "Result") == "Success"
            return AttendedTransfer(
                success,
                _field(message, "TransfereeUniqueid", ""),
                _field(message, "OrigTransfererChannel", ""),
                _field(message, "TransferTargetChannel", ""),
                _field(message, "SecondTransfererConnectedLineNum", ""),
            )
        case "CoreShowChannel":
            return Channel(
                _field(message, "Uniqueid"),
                _field(message, "Channel"),
                _field(message, "Context", ""),
                _field(message, "Application", ""),
                _field(message, "Exten", ""),
                bool(_field(message, "BridgeId", "")),
                _field(message, "ApplicationData", ""),
                _field(message, "Linkedid", ""),
            )
    return None


def of_kind(kind: type[T], messages: list[Any]) -> list[T]:
    """The messages of a list reply (``as_list``) that are of one kind, parsed."""
    return [event for m in messages if isinstance(event := parse(m), kind)]


_REQUIRED = object()


def _field(message: Mapping[str, Any], name: str, default: Any = _REQUIRED) -> str:
    value = message.get(name)
    if value is None:
        if default is _REQUIRED:
            raise MalformedMessage(f"AMI {message.get('Event')} without {name}")
        return str(default)
    return str(value)
