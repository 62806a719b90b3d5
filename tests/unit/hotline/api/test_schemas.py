"""The response models describe what the API answered before them, field for field: each view's
dict goes through its model (as FastAPI sends it) and comes out as the same JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from agents.state import OperatorState, State
from hotline.api import schemas, views
from hotline.api.access import Principal, Role
from hotline.events import CallEvent
from hotline.figures import stats
from hotline.reports.notifications import Notification
from hotline.store.tables import Call
from routing.events import ENDINGS, CallQueued, CallTransferred

NOW = datetime(2026, 11, 25, 9, 0, 12, 345678, tzinfo=UTC)
SUPERVISOR = Principal(Role.SUPERVISOR)
OPERATOR = Principal(Role.OPERATOR, "op2")


def sent(model: type[BaseModel], answer: Any) -> Any:
    """The JSON FastAPI sends for ``answer`` under ``model`` (fields not set left out, as
    the routes with optional fields ask)."""
    checked = model.model_validate(answer, strict=False)
    return json.loads(checked.model_dump_json(by_alias=True, exclude_unset=True))


def call_row(**changes: Any) -> Call:
    fields: dict[str, Any] = {
        "id": "1796526905.3",
        "linkedid": "1796526905.3",
        "sip_call_id": "abc@127.0.0.1",
        "channel": "PJSIP/carrier-00000001",
        "caller": "380501234567",
        "caller_name": "",
        "number": "0800213103",
        "language": "uk",
        "path": ["main:1", "topic:2"],
        "asked_line": "consultation",
        "line": "consultation",
        "closed_lines": [],
        "priority": 0,
        "callback_number": None,
        "started_at": NOW,
        "queued_at": NOW + timedelta(seconds=20),
        "answered_at": NOW + timedelta(seconds=50),
        "ended_at": NOW + timedelta(seconds=290),
        "operator": "op1",
        "wait": 30.2,
        "talk": 240.0,
        "outcome": "transferred",
        "transfers": [
            {
                "at": (NOW + timedelta(seconds=200)).isoformat(),
                "target": "operator",
                "to": "op2",
                "mode": "blind",
                "by": "op1",
                "operator": "op1",
                "line": "consultation",
                "talk": 150.0,
                "outcome": "answered",
                "answered_by": "op2",
            }
        ],
        "topics": ["labour"],
        "resolution": "advice-given",
        "note": "called about a dismissal",
        "wrapped_up_by": "op2",
        "wrapped_up_at": NOW + timedelta(seconds=300),
    }
    return Call(**{**fields, **changes})


@pytest.mark.parametrize(
    ("model", "answer"),
    [
        (schemas.Operator, views.operator(OperatorState("op1"), NOW)),
        (
            schemas.Operator,
            views.operator(
                OperatorState(
                    "op1", State.PAUSED, NOW - timedelta(seconds=75), pause_reason="training"
                ),
                NOW,
            ),
        ),
        (schemas.Call, views.call(call_row(), SUPERVISOR)),
        (schemas.Call, views.call(call_row(), OPERATOR)),  # another's caller: masked
        (
            schemas.Call,
            views.call(
                call_row(
                    queued_at=None,
                    answered_at=None,
                    ended_at=None,
                    operator=None,
                    wait=None,
                    talk=None,
                    outcome=None,
                    transfers=[],
                    topics=[],
                    resolution=None,
                    note=None,
                    wrapped_up_by=None,
                    wrapped_up_at=None,
                    line=None,
                    language=None,
                    priority=None,
                    callback_number="380501234567",
                ),
                OPERATOR,
            ),
        ),
        (
            schemas.Event,
            views.event(
                CallEvent("1.1", 3, NOW, CallQueued("consultation", "uk", 1), "e3").as_json(),
                Principal(Role.VIEWER),
            ),
        ),
        (
            schemas.Event,
            CallEvent("1.1", 4, NOW, CallTransferred("line", "info", "blind", "op1")).as_json(),
        ),
        (
            schemas.Notification,
            Notification(
                "042917", "1.1", "detention", "+380501234567", "", "", NOW, True
            ).as_json(),
        ),
        (
            schemas.Notification,
            Notification(
                "042918",
                "1.2",
                "detention",
                "anonymous",
                "380501234567",
                "/var/spool/asterisk/notifications/1.2.wav",
                NOW,
                False,
                handled_at=NOW + timedelta(minutes=3),
                handled_by="op1",
                outcome="lawyer-sent",
                note="at the station",
            ).as_json(),
        ),
    ],
)
def test_a_view_goes_through_its_model_unchanged(model: type[BaseModel], answer: Any) -> None:
    assert sent(model, answer) == json.loads(json.dumps(answer))


def test_statistics_go_through_their_model_unchanged() -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    calls = [
        stats.Queued("consultation", "op1", NOW, True, 12.0, 200.0, "answered", (), ("labour",)),
        stats.Queued(
            "consultation", None, NOW + timedelta(hours=2), False, 40.0, None, "abandoned"
        ),
        stats.Queued(
            "information", "op2", NOW, True, 3.0, 60.0, "transferred", (("information", "op2"),)
        ),
        stats.Queued("information", None, NOW, False, None, None, None),
    ]
    since, until = NOW - timedelta(hours=9), NOW + timedelta(hours=5)
    figures = stats.compute(calls, since, until, 20, tz=kyiv, thresholds=(30, 60))
    figures["target"] = 0.8
    figures["operators_time"] = stats.operators_time(
        [
            stats.Change("op1", NOW - timedelta(hours=10), "available"),
            stats.Change("op1", NOW, "on_call"),
            stats.Change("op1", NOW + timedelta(minutes=4), "wrap_up"),
            stats.Change("op1", NOW + timedelta(minutes=5), "paused", "break"),
        ],
        {"op1": 1},
        {"op1": 200.0},
        since,
        until,
    )
    figures["reports"] = stats.reports(
        [
            stats.Reported("detention", NOW, NOW + timedelta(seconds=200), False, 3, 900),
            stats.Reported("detention", NOW, None, False, 0, 900),
        ],
        NOW + timedelta(hours=1),
    )
    assert any("topics" in p for p in figures["periods"])  # (only where there are some)
    assert any("topics" not in p for p in figures["periods"])
    assert sent(schemas.Stats, figures) == json.loads(json.dumps(figures))


def test_the_health_shown_without_a_token_stays_one_field() -> None:
    assert sent(schemas.Health, {"status": "degraded"}) == {"status": "degraded"}


def test_the_outcomes_shown_are_those_calls_end_with_and_other() -> None:
    assert [o.value for o in schemas.Outcome if o is not schemas.Outcome.OTHER] == sorted(
        ENDINGS, key=[o.value for o in schemas.Outcome].index
    )
    assert {o.value for o in schemas.Outcome} == {*ENDINGS, "other"}


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("answered", "answered"),
        ("handed-over", "handed-over"),
        (None, None),  # under way
        ("queued", "other"),  # a value of the very first versions
        ("escalation-taken", "other"),  # another version's, unknown here
    ],
)
def test_an_outcome_this_version_does_not_know_is_shown_as_other(
    stored: str | None, shown: str | None
) -> None:
    """Never a 500 for an old row: the answer's model takes it as ``other``."""
    answer = views.call(call_row(outcome=stored), SUPERVISOR)
    assert sent(schemas.Call, answer)["outcome"] == shown
    assert views.csv_rows([answer]).splitlines()[1].split(",")[12] == (shown or "")
