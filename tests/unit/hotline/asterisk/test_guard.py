"""The guard's and the crash reconciler's decisions, with AMI and the log played by doubles
(the same over the real Asterisk: tests/integration/test_faults.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from hotline.asterisk.guard import (
    NOT_RUNNING,
    Guard,
    TakenOver,
    api_answers,
    may_reset_connections,
    reset_agi,
)
from hotline.calls.switchboard import Switchboard
from hotline.config.deployment import Deployment
from hotline.events import CallEvent, EventBus
from hotline.running.interrupted import Interrupted
from hotline.running.leadership import Holder
from routing.events import CallEnded
from tests.unit.hotline.calls.test_switchboard import Asterisk, Clock


class Ami:
    """Channels as CoreShowChannels lists them; records the Redirects."""

    def __init__(self, channels: list[dict[str, str]]) -> None:
        self.channels = channels
        self.redirected: list[tuple[str, str]] = []
        self.told: list[tuple[str, str]] = []

    async def action(self, fields: dict[str, Any], **_: Any) -> Any:
        if fields["Action"] == "CoreShowChannels":
            return [{"Event": "CoreShowChannel", **c} for c in self.channels] + [
                {"Event": "CoreShowChannelsComplete"}
            ]
        if fields["Action"] == "Setvar":
            self.told.append((fields["Channel"], f"{fields['Variable']}={fields['Value']}"))
        else:
            self.redirected.append((fields["Channel"], fields["Context"]))
        return Reply()


class Reply(dict[str, str]):
    success = True


def channel(name: str, context: str, application: str, data: str = "") -> dict[str, str]:
    return {
        "Channel": name,
        "Uniqueid": name,
        "Context": context,
        "Application": application,
        "ApplicationData": data,
    }


HUNG = "agi://127.0.0.1:4573"
ACTIVE = "agi://127.0.0.1:4999"


@pytest.mark.parametrize(
    ("lease", "told", "redirected", "cut"),
    [
        # another instance holds the lease: the hung one's callers in its FastAGI sessions
        # are told to try again (the active one answers them), then the sessions are cut
        (
            [True],
            [("arrived", "HOTLINE_RESULT=retry"), ("announced", "HOTLINE_RESULT=retry")],
            [],
            1,
        ),
        # its own lease still runs (a standby can take it only once it ran out): it waits
        ([None], [], [], 0),
        # nobody took it once it ran out: the fallback queues, as with no standby
        ([None, False], [], [("arrived", "hotline-guarded"), ("announced", "hotline-guarded")], 1),
    ],
    ids=["taken over", "its lease still runs", "nobody took it"],
)
async def test_with_a_standby_the_hung_ones_callers_go_to_the_active_instance(
    lease: list[bool | None],
    told: list[tuple[str, str]],
    redirected: list[tuple[str, str]],
    cut: int,
) -> None:
    """A caller who arrived while the service hung is in its first FastAGI session (context
    hotline): cut, that session ends as a finished one (AGISTATUS=SUCCESS), which the
    dialplan's first rule takes for the service's fault and sends to the fallback queue,
    unseen; told to try again first, they go to the active instance, through its menus."""
    ami = Ami(
        [
            channel("arrived", "hotline", "AGI", f"{HUNG}/secret/call,sip-1,1.1"),
            channel("announced", "hotline-wait", "AGI", f"{HUNG}/secret/wait"),
            channel("at-the-active", "hotline", "AGI", f"{ACTIVE}/secret/call,sip-2,1.2"),
            channel("music", "hotline-wait", "WaitExten"),
        ]
    )
    answers = iter([True, False, False, False, False])
    holders = iter(lease)
    cuts: list[str] = []

    async def probe() -> bool:
        return next(answers)

    async def cut_sessions() -> None:
        cuts.append("FastAGI")

    async def taken_over() -> bool | None:
        return next(holders)

    guard = Guard(ami, probe, cut_sessions, patience=3, taken_over=taken_over, address=HUNG)  # type: ignore[arg-type]
    for _ in range(3 + len(lease)):
        await guard.check()
    if redirected:  # (the one not the hung one's, at the active instance, is moved too)
        redirected = [*redirected, ("at-the-active", "hotline-guarded")]
    assert (ami.told, ami.redirected, len(cuts)) == (told, redirected, cut)


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


async def test_a_reset_the_guard_may_not_make_is_said_loudly_not_believed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``ss -K`` without CAP_NET_ADMIN exits 0 having reset nothing: the guard counts the
    connections it reset and the ones left, and says it could not (the real ``ss``, on a
    real connection; run without the right by ``setpriv``)."""
    accepted: list[asyncio.StreamWriter] = []  # (closed after: Python 3.13 warns otherwise)
    server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        without = ("setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin")
        with caplog.at_level(logging.WARNING, "hotline.asterisk.guard"):
            assert await reset_agi(port, wrapper=without) == 0
        assert "CANNOT reset 1 FastAGI connection(s)" in caplog.text
        assert "Operation not permitted" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, "hotline.asterisk.guard"):
            assert await reset_agi(port) == 1  # (the test runs as root)
        assert "reset 1 FastAGI connection(s)" in caplog.text and "CANNOT" not in caplog.text
    finally:
        for each in (writer, *accepted):
            each.close()
        server.close()


def test_the_guard_knows_whether_it_may_reset_connections(tmp_path: Path) -> None:
    """Root, or a non-root guard whose ss was given the right (the image's setcap) in a
    container that has it in its bounding set; not a non-root guard with a plain ss."""
    status, ss = tmp_path / "status", tmp_path / "ss"
    ss.write_bytes(b"")
    everything, nothing = "000001ffffffffff", "0000000000000000"
    status.write_text(f"Name:\tpython3\nCapEff:\t{everything}\nCapBnd:\t{everything}\n")
    assert may_reset_connections(status, str(ss))
    status.write_text(f"Name:\tpython3\nCapEff:\t{nothing}\nCapBnd:\t{everything}\n")
    assert not may_reset_connections(status, str(ss))  # a plain ss
    os.setxattr(ss, "security.capability", bytes.fromhex("0100000200100000" + "00" * 12))
    assert may_reset_connections(status, str(ss))  # ss given CAP_NET_ADMIN
    status.write_text(f"Name:\tpython3\nCapEff:\t{nothing}\nCapBnd:\t{nothing}\n")
    assert not may_reset_connections(status, str(ss))  # not in the container's bounding set


async def test_a_stopped_service_is_told_from_a_hung_one() -> None:
    """Run apart from the service (its own container or unit), the guard sees it stop and
    start again: a refused connection is no hang (the guard would cut the new instance's
    sessions); a port that accepts and never answers is one."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # (the kernel accepts; nobody reads: as a SIGSTOPped service)
    port = hung.getsockname()[1]
    try:
        assert await api_answers("127.0.0.1", port, timeout=0.3) is None
    finally:
        hung.close()
    assert await api_answers("127.0.0.1", port, timeout=0.3) == NOT_RUNNING


async def test_a_lease_run_out_moments_ago_is_waited_for_then_given_up() -> None:
    """With a standby, the hung service's lease runs out before the standby takes it (it
    tries every quarter second): those moments are not "nobody took over", which would send
    the callers to the fallback queues; nobody for VACANT_GRACE seconds is."""
    holders = iter(["hung", None, None, "standby", None, None, None])
    now = [0.0]

    class Lease:
        async def holder(self) -> Holder:
            return Holder(next(holders), 1, None)

    taken_over = TakenOver(Lease(), "hung", 1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    seen = []
    for at in (0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0):
        now[0] = at
        seen.append(await taken_over())
    # its own; run out (waited for); taken; then vacant again from 3 s: given up at 5 s
    assert seen == [None, None, None, True, None, None, False]
