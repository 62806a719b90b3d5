"""AMI events in, the service's words out: what a listener is told, and when."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from hotline.asterisk.listener import listen
from hotline.asterisk.messages import Hangup, PhoneState, Transferred
from routing.events import CallStarted

HANGUP = {
    "Event": "UserEvent",
    "UserEvent": "HotlineHangup",
    "Call": "1700000000.4",
    "By": "PJSIP/op2-00000031",
    "Fence": "3",
}
BUSY = {"Event": "DeviceStateChange", "Device": "PJSIP/op1", "State": "INUSE"}
GUARDED = {"Event": "UserEvent", "UserEvent": "HotlineGuarded", "Call": "1700000000.5"}


class Told:
    """A listener that writes down what it is told."""

    def __init__(self, fail: bool = False) -> None:
        self.said: list[Any] = []
        self.fail = fail

    def phone(self, state: PhoneState) -> None:
        self.said.append(state)

    def transferred(self, transfer: Transferred) -> None:
        self.said.append(transfer)

    def guarded(self, call: str, arrival: CallStarted) -> None:
        self.said.append(call)

    def left(self, hangup: Hangup) -> None:
        if self.fail:
            raise OSError("the spool's disk is full")
        self.said.append(hangup)


def feed(told: Told, listening: bool, *events: Mapping[str, Any]) -> list[Any]:
    on_event = listen(told, lambda: listening)
    for event in events:
        on_event(event)
    return told.said


def test_an_operators_desk_phone_is_told_as_their_phone_with_their_own() -> None:
    """The phone in op1's desk rings while their softphone is off: op1 is busy; it hangs
    up: op1 is reachable and free (through the desk's phone)."""
    events = [
        {"Event": "DeviceStateChange", "Device": "PJSIP/op1", "State": "UNAVAILABLE"},
        {"Event": "DeviceStateChange", "Device": "PJSIP/op1.desk", "State": "RINGING"},
        {"Event": "DeviceStateChange", "Device": "PJSIP/op1.desk", "State": "NOT_INUSE"},
        {"Event": "DeviceStateChange", "Device": "PJSIP/op1.desk", "State": "UNAVAILABLE"},
    ]
    assert feed(Told(), True, *events) == [
        PhoneState("op1", reachable=False, in_use=False),
        PhoneState("op1", reachable=True, in_use=True),
        PhoneState("op1", reachable=True, in_use=False),
        PhoneState("op1", reachable=False, in_use=False),
    ]


def test_an_instance_that_keeps_a_queue_hears_everything_it_reads() -> None:
    said = feed(Told(), True, BUSY, GUARDED, HANGUP, {"Event": "Newchannel"})
    assert said[0] == PhoneState("op1", reachable=True, in_use=True)
    assert said[1:] == ["1700000000.5", Hangup("1700000000.4", "op2", 3)]


def test_one_that_keeps_none_hears_only_hangups_which_may_be_for_its_calls() -> None:
    """A standby, or an instance that gave up its lease at a stop: the hangup says which
    instance the dialplan pointed at; the listener decides."""
    assert feed(Told(), False, BUSY, GUARDED, HANGUP) == [Hangup("1700000000.4", "op2", 3)]


def test_a_listener_that_fails_leaves_the_ami_connection_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """panoramisk calls the handler from the protocol's data_received: an exception there
    would close the connection, and every event after it would be lost."""
    told = Told(fail=True)
    with caplog.at_level(logging.ERROR):
        feed(told, True, HANGUP, {**HANGUP, "Fence": "x"})
        told.fail = False
        feed(told, True, HANGUP)
    assert told.said == [Hangup("1700000000.4", "op2", 3)]
    assert "AMI UserEvent: not taken in" in caplog.text
