"""The guard's and the crash reconciler's decisions, with AMI and the log played by doubles
(the same over the real Asterisk: tests/integration/test_faults.py)."""

from __future__ import annotations

from typing import Any

from hotline.config import Deployment
from hotline.events import CallEvent, EventBus
from hotline.guard import Guard
from hotline.interrupted import Interrupted
from hotline.switchboard import Switchboard
from routing.events import CallEnded
from tests.unit.hotline.test_switchboard import Asterisk, Clock


class Ami:
    """Channels as CoreShowChannels lists them; records the Redirects."""

    def __init__(self, channels: list[dict[str, str]]) -> None:
        self.channels = channels
        self.redirected: list[tuple[str, str]] = []

    async def action(self, fields: dict[str, Any], **_: Any) -> Any:
        if fields["Action"] == "CoreShowChannels":
            return [{"Event": "CoreShowChannel", **c} for c in self.channels] + [
                {"Event": "CoreShowChannelsComplete"}
            ]
        self.redirected.append((fields["Channel"], fields["Context"]))
        return Reply()


class Reply(dict[str, str]):
    success = True


def channel(name: str, context: str, application: str) -> dict[str, str]:
    return {"Channel": name, "Uniqueid": name, "Context": context, "Application": application}


async def test_the_guard_moves_only_callers_stuck_on_the_service_after_patience() -> None:
    ami = Ami(
        [
            channel("in-menu", "hotline", "AGI"),
            channel("announced", "hotline-wait", "AGI"),
            channel("music", "hotline-wait", "WaitExten"),
            channel("talking", "hotline-connect", "Dial"),
            channel("operator-feature", "operators", "AGI"),
        ]
    )
    answers = iter([False, True, False, False, False])  # starting, up, then hung

    async def probe() -> bool:
        return next(answers)

    cuts: list[str] = []

    async def cut() -> None:
        cuts.append("FastAGI")

    guard = Guard(ami, probe, cut, patience=3)  # type: ignore[arg-type]
    for _ in range(4):
        await guard.check()
    assert ami.redirected == [] and cuts == []  # not while starting, nor before 3 misses
    await guard.check()
    assert ami.redirected == [("in-menu", "hotline-guarded"), ("announced", "hotline-guarded")]
    assert cuts == ["FastAGI"]  # and the sessions holding them were reset


async def test_calls_that_ended_unseen_are_closed_as_interrupted(
    deployment: Deployment,
) -> None:
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    board = Switchboard(deployment, bus, Clock(), Asterisk())
    board.enqueue("waited", "PJSIP/trunk-1", "information", "uk", caller="380501234567")

    async def open_calls() -> list[str]:
        return ["gone", "alive", "ended-here", "waited"]

    async def channels() -> dict[str, str]:
        return {"alive": "hotline-wait"}

    async def flushed(_timeout: float) -> bool:
        return True

    reconciler = Interrupted(open_calls, channels, flushed, board)
    reconciler(CallEvent("ended-here", 3, Clock()(), CallEnded("answered")))
    assert await reconciler.close() == 2
    ended = {e.call_id: e.fact.outcome for e in events if e.kind == "call.ended"}
    # one the switchboard still tracked ends as it sees it; one it never knew, interrupted
    assert ended == {"waited": "abandoned", "gone": "interrupted"}
    assert not board.waits("waited")


async def test_nothing_is_closed_while_the_log_is_behind(deployment: Deployment) -> None:
    async def behind(_timeout: float) -> bool:
        return False

    async def never() -> list[str]:
        raise AssertionError("not asked")

    board = Switchboard(deployment, EventBus(), Clock(), Asterisk())
    reconciler = Interrupted(never, never, behind, board)  # type: ignore[arg-type]
    assert await reconciler.close() == 0
