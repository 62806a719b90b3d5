from datetime import UTC, datetime, timedelta

import pytest

from agents.state import (
    Answered,
    Ended,
    LogIn,
    LogOut,
    Missed,
    Offer,
    OperatorError,
    OperatorState,
    Pause,
    Reachability,
    Resume,
    State,
    WrapUpOver,
    transition,
)

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def run(*events: object, op: OperatorState | None = None) -> OperatorState:
    op = op or OperatorState("op1")
    for i, event in enumerate(events):
        op = transition(op, event, T0 + timedelta(seconds=i))  # type: ignore[arg-type]
    return op


def test_a_working_cycle() -> None:
    op = run(Reachability(True), LogIn(), Offer("c1"), Answered("c1"), Ended("c1"))
    assert op.state is State.WRAP_UP and op.call is None
    op = run(WrapUpOver(), op=op)
    assert op.free and op.idle_since == T0


def test_unreachable_phone_is_never_free() -> None:
    op = run(LogIn())
    assert op.state is State.AVAILABLE and not op.free
    with pytest.raises(OperatorError, match="phone unreachable"):
        run(Offer("c1"), op=op)


def test_misses_pause_after_the_limit() -> None:
    op = run(Reachability(True), LogIn(), Offer("c1"), Missed("c1", 2))
    assert op.state is State.AVAILABLE and op.misses == 1
    op = run(Offer("c2"), Missed("c2", 2), op=op)
    assert (op.state, op.pause_reason, op.misses) == (State.PAUSED, "missed-calls", 2)
    assert run(Resume(), op=op).misses == 0


def test_an_answer_clears_the_misses() -> None:
    op = run(Reachability(True), LogIn(), Offer("c1"), Missed("c1", 3), Offer("c2"), Answered("c2"))
    assert op.misses == 0


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([Pause("break")], "logged out: log in first"),
        ([Reachability(True), LogIn(), Offer("c"), Pause("break")], "pause after the call"),
        ([Reachability(True), LogIn(), Offer("c"), LogOut()], "finish the call first"),
        ([LogIn(), Pause("")], "a pause needs a reason"),
        ([Resume()], "log in first"),
        ([Reachability(True), LogIn(), Answered("c")], "was not ringing"),
    ],
)
def test_refusals_name_the_reason(events: list[object], message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        run(*events)


def test_late_reports_change_nothing() -> None:
    op = run(Reachability(True), LogIn())
    assert run(Missed("old", 1), Ended("old"), WrapUpOver(), op=op).state is State.AVAILABLE
