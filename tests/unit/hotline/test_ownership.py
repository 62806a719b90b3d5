"""Whose an event is: the organisation of the number its call dialled, never of a number the
caller typed (the default config: Ukraine's 0800213103, Georgia's 0322920055)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.config.deployment import Deployment
from hotline.events import CallEvent, EventBus
from hotline.ownership import Ownership
from routing import events as ev

AT = datetime(2026, 11, 25, 9, tzinfo=UTC)


def published(deployment: Deployment, *events: tuple[str, ev.Fact]) -> list[str | None]:
    seen: list[CallEvent] = []
    lines = {"restored.1": "detention"}
    notifications = {"123456": "ge-consultation"}
    bus = EventBus(Ownership(deployment, lines.get, notifications.get))
    bus.subscribe(seen.append)
    for call, fact in events:
        bus.publish(CallEvent(call, 0, AT, fact))
    return [e.organisation for e in seen]


@pytest.mark.parametrize(
    ("events", "whose"),
    [
        # a Ukrainian caller typing Georgia's hotline number as their callback number
        (
            [
                ("1.1", ev.CallStarted("380501234567", "0800213103")),
                ("1.1", ev.CallbackRequested("0322920055", "detention", "asked")),
                ("1.1", ev.CallbackFailed(1, "BUSY", "0322920055")),
            ],
            ["ua-legal-aid"] * 3,
        ),
        # a call to no organisation's number stays no organisation's
        (
            [("2.1", ev.CallStarted("380501234567", "999")), ("2.1", ev.MenuAnswer("x", "1"))],
            [None, None],
        ),
        # events without a call: their operator's
        ([("", ev.OperatorChanged("ge1", "available", True))], ["ge-legal-aid"]),
        # a call this process never saw start: its queue's line, then remembered
        (
            [
                ("restored.1", ev.CallbackRestored(1)),
                ("restored.1", ev.CallbackFailed(2, "BUSY", "0322920055")),
            ],
            ["ua-legal-aid"] * 2,
        ),
        # a notification's close: its line's
        ([("9.9", ev.NotificationHandled("123456", "ge1"))], ["ge-legal-aid"]),
        # a wrap-up after the end (numbered apart) still knows its call
        (
            [
                ("3.1", ev.CallStarted("380501234567", "2145145")),
                ("3.1", ev.CallEnded("answered", "ge-rehabilitation")),
                ("3.1", ev.WrappedUp(("housing-property",), "advice-given", "sup1")),
            ],
            ["ge-rehabilitation"] * 3,
        ),
    ],
)
def test_an_event_is_its_calls_organisations(
    deployment: Deployment, events: list[tuple[str, ev.Fact]], whose: list[str | None]
) -> None:
    assert published(deployment, *events) == whose


def test_the_organisation_goes_with_the_event_through_json(deployment: Deployment) -> None:
    event = CallEvent("1.1", 1, AT, ev.CallStarted("1", "0800213103"), "x", "ua-legal-aid")
    assert CallEvent.from_json(event.as_json()) == event
    anonymous = CallEvent("1.1", 1, AT, ev.CallStarted("1", "999"), "x")
    assert "organisation" not in anonymous.as_json()
