"""The AMI messages the service reads, as typed events: :func:`parse` turns a raw message
into one (or None, for the many the service has no use for) and raises
:class:`MalformedMessage`, naming the field, when one it needs is missing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

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


AmiEvent = DeviceState | Guarded | AttendedTransfer | Channel


def endpoint(channel: str) -> str:
    """The SIP endpoint of a channel's name (``PJSIP/op3-0000002a``: ``op3``); empty for a
    channel of another kind, or none."""
    if not channel.startswith("PJSIP/"):
        return ""
    return channel.removeprefix("PJSIP/").rpartition("-")[0]


def parse(message: Mapping[str, Any]) -> AmiEvent | None:
    """The typed event of a raw AMI message, or None when the service does not read it."""
    match message.get("Event"):
        case "DeviceStateChange":
            return DeviceState(_field(message, "Device"), _field(message, "State"))
        case "UserEvent" if message.get("UserEvent") == "HotlineGuarded":
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
