"""The guard's and the crash reconciler's decisions, with AMI and the log played by doubles
(the same over the real Asterisk: tests/integration/test_faults.py)."""

from __future__ import annotations

from typing import Any

from hotline.events import CallEvent
from hotline.guard import Guard
from hotline.interrupted import Interrupted


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

    guard = Guard(ami, probe, patience=3)  # type: ignore[arg-type]
    for _ in range(4):
        await guard.check()
    assert ami.redirected == []  # not while starting, and not before three misses in a row
    await guard.check()
    assert ami.redirected == [("in-menu", "hotline-guarded"), ("announced", "hotline-guarded")]


async def test_calls_that_ended_unseen_are_closed_as_interrupted() -> None:
    emitted: list[tuple[str, str, dict[str, Any]]] = []

    async def open_calls() -> list[str]:
        return ["gone", "alive", "ended-here"]

    async def channels() -> set[str]:
        return {"alive"}

    async def flushed(_timeout: float) -> bool:
        return True

    reconciler = Interrupted(
        open_calls, channels, flushed, lambda c, k, **d: emitted.append((c, k, d))
    )
    reconciler(CallEvent("ended-here", 3, None, "call.ended", {}))  # type: ignore[arg-type]
    assert await reconciler.close() == 1
    assert emitted == [("gone", "call.ended", {"outcome": "interrupted"})]


async def test_nothing_is_closed_while_the_log_is_behind() -> None:
    async def behind(_timeout: float) -> bool:
        return False

    async def never() -> list[str]:
        raise AssertionError("not asked")

    reconciler = Interrupted(never, never, behind, lambda *a, **k: None)  # type: ignore[arg-type]
    assert await reconciler.close() == 0
