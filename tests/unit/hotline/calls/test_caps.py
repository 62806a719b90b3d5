"""The callback caps through the switchboard, with the default deployment's organisations: each
organisation's calls count in its own hourly cap (it may set a lower one; an escalation's calls
count too), and one calling number asking again and again is refused, told on the call, in
the event stream and in the log."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from agents.state import LogIn, LogOut, Reachability, WrapUpOver
from hotline.calls.switchboard import CallbackRefused, Switchboard
from hotline.config.deployment import Deployment, Organisation
from hotline.events import CallEvent, EventBus
from tests.unit.hotline.calls.test_switchboard import Asterisk, Clock


def board_of(deployment: Deployment) -> tuple[Switchboard, Asterisk, Clock, list[CallEvent]]:
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    asterisk, clock = Asterisk(), Clock()
    return Switchboard(deployment, bus, clock, asterisk), asterisk, clock, events


def online(board: Switchboard, *operators: str) -> None:
    for op in operators:
        board.operator_event(op, Reachability(True))
        board.operator_event(op, LogIn())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def called_back(board: Switchboard, call: str, operator: str) -> None:
    """``operator`` picks the callback up, the caller answers, they talk, wrap up."""
    await settle()
    assert board.callback_answered(call, operator) is not None, call  # the number dialled
    board.callback_reached(call)
    board.callback_ended(call, "ANSWER")
    board.operator_event(operator, WrapUpOver())


async def test_another_organisations_busy_hour_never_uses_up_this_ones_callbacks(
    deployment: Deployment,
) -> None:
    """60 callers of the Georgian line (60 numbers) are called back within half an hour: the
    Georgian organisation's hourly cap is full, and a Ukrainian detention caller who hangs up
    is still called back at once."""
    board, asterisk, clock, events = board_of(deployment)
    for n in range(60):
        call, number = f"g{n}", f"995555{n:06d}"
        board.enqueue(call, f"PJSIP/trunk-{call}", "ge-consultation", "ka", caller=number)
        board.to_callback(call, number)  # key 1: call me back
    online(board, "ge1")
    for n in range(60):  # one after the other, in their order
        await called_back(board, f"g{n}", "ge1")
        clock.advance(30)
    board.enqueue("d1", "PJSIP/trunk-d1", "detention", "uk", caller="380661112233")
    board.hung_up("d1")  # a detention caller gives up waiting: called back
    online(board, "op1")
    await called_back(board, "d1", "op1")
    assert asterisk.callbacks[-1][:3] == ("d1", "op1", "380661112233")
    board.operator_event("ge1", LogOut())  # (so that the 61st waits to ask for one)
    board.enqueue("g60", "PJSIP/trunk-g60", "ge-consultation", "ka", caller="995555999999")
    board.to_callback("g60", "995555999999")
    board.operator_event("ge1", LogIn())
    await settle()
    (refused,) = [e for e in events if e.kind == "callback.refused"]
    assert refused.call_id == "g60" and refused.fact.reason.startswith(
        "60 calls of this organisation in the last hour (trunk.callbacks.per_hour)"
    )
    assert [e.call_id for e in events if e.kind == "callback.refused"] == ["g60"]


async def test_one_calling_number_asking_again_and_again_is_refused_and_told(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """A caller asks for callbacks to number after number: the sixth request in the hour is
    refused (the caller hears it: CallbackRefused, the wrong-key prompt), said in the event
    stream and the log; they keep waiting; an hour after their first, they may again."""
    board, _, clock, events = board_of(deployment)
    caller = "380501234567"
    for n in range(5):
        call = f"c{n}"
        board.enqueue(call, f"PJSIP/trunk-{call}", "consultation", "uk", caller=caller)
        board.to_callback(call, f"38067000000{n}")
        clock.advance(60)
    board.enqueue("c5", "PJSIP/trunk-c5", "consultation", "uk", caller=caller)
    with caplog.at_level(logging.WARNING), pytest.raises(CallbackRefused) as refused:
        board.to_callback("c5", "380670000005")
    why = "5 callback requests from this number in the last hour"
    assert str(refused.value).startswith(why)
    assert f"callback of c5 to {'*' * 10}05 refused: {why}" in caplog.text
    (event,) = [e for e in events if e.kind == "callback.refused"]
    assert event.call_id == "c5" and event.fact.reason.startswith(why)
    assert not board.waiting["c5"].callback  # still waiting, in their place
    # another caller is not held back by theirs
    board.enqueue("o1", "PJSIP/trunk-o1", "consultation", "uk", caller="380509999999")
    board.to_callback("o1", "380670000009")
    clock.advance(56 * 60)  # an hour after the first request
    board.to_callback("c5", "380670000005")
    assert board.waiting["c5"].callback


def own_cap(deployment: Deployment, organisation: str, per_hour: int) -> Deployment:
    orgs = dict(deployment.organisations)
    org: Organisation = replace(orgs[organisation], callbacks_per_hour=per_hour)
    orgs[organisation] = org
    return replace(deployment, organisations=orgs)


async def test_an_organisation_sets_a_lower_cap_and_escalation_calls_count_in_it(
    deployment: Deployment,
) -> None:
    """ua-legal-aid allows itself 3 calls an hour: two escalation calls and one callback fill
    it (the next callback waits until the first call is an hour old); Georgia's are not held."""
    board, asterisk, clock, events = board_of(own_cap(deployment, "ua-legal-aid", 3))
    assert board.dial_refusal("380671234501", "ua-legal-aid") is None
    board.dialling("380671234501", "ua-legal-aid")  # the duty lawyer rung
    first = clock.now
    clock.advance(60)
    board.dialling("380671234502", "ua-legal-aid")  # the next one
    for call in ("d1", "d2"):
        board.enqueue(
            call, f"PJSIP/trunk-{call}", "detention", "uk", caller=f"38066111223{call[1]}"
        )
        board.hung_up(call)
    online(board, "op1")
    await called_back(board, "d1", "op1")
    await settle()
    (refused,) = [e for e in events if e.kind == "callback.refused"]
    assert refused.call_id == "d2" and refused.fact.reason.startswith(
        "3 calls of this organisation in the last hour "
        "(organisations.ua-legal-aid.callbacks.per_hour)"
    )
    assert refused.fact.retry_at == (first + timedelta(hours=1)).isoformat()
    why, until = board.dial_refusal("380671234503", "ua-legal-aid") or ("", None)
    assert why.startswith("3 calls of this organisation") and until == first + timedelta(hours=1)
    assert board.dial_refusal("995555000001", "ge-legal-aid") is None
    assert [c[0] for c in asterisk.callbacks] == ["d1"]
