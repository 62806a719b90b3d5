"""A moment in doubt (the lease's renewal late, the database slow): what the switchboard sees
meanwhile is kept and applied when the lease is back, what it decided is done then, and a
request is refused (NotActive: the API's 503) rather than taken and left undone; standing
down instead, it leaves it all to the instance taking over."""

from __future__ import annotations

import asyncio

import pytest

from agents.state import LogIn, Pause, State
from hotline.calls.switchboard import NotActive, Switchboard
from hotline.running.leadership import AloneLease, Leadership
from routing.signals import TimerFired
from tests.unit.hotline.calls.test_switchboard import online, settle, world

__all__ = ["world"]  # (the switchboard tests' fixture, used here too)


class Doubt:
    """The lease as the switchboard sees it: active, or in doubt for a moment."""

    def __init__(self, board: Switchboard) -> None:
        self.active = True
        board.may_act = lambda: self.active
        board.in_doubt = lambda: not self.active
        board.witnessing = True


async def test_what_is_seen_in_a_moment_in_doubt_is_applied_when_the_lease_is_back(
    world: tuple,
) -> None:
    """op3 takes c1, c2 waits; in doubt: op3 does not answer (the dialplan's report: logged
    at once, c1 back at the head), op4's phone becomes reachable (AMI), op3's wrap-up ends
    (a timer), an operator's login through the API is refused; nobody is rung meanwhile. Back:
    the ring that the missed one led to is made, op4's phone counts, the login can be made."""
    board, asterisk, clock, events = world
    lease = Doubt(board)
    online(board, "op3")
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk")
    board.enqueue("c2", "PJSIP/trunk-2", "consultation", "uk")
    await settle()
    assert asterisk.rung == [("PJSIP/trunk-1", "op3")]

    lease.active = False  # the renewal is late
    clock.advance(15)
    assert board.ring_ended("c1", "op3", "NOANSWER") == "wait"  # witnessed: logged at once
    # the missed ring is logged, and c1, back at the head, offered to op3 again: that ring
    # waits for the lease
    assert [e.kind for e in events if e.call_id == "c1"][-2:] == ["call.missed", "call.offered"]
    board.reachable("op4", True)  # AMI: op4's phone registers
    board.feed(TimerFired("wrap:op3"))
    with pytest.raises(NotActive, match="in doubt"):
        board.operator_event("op4", LogIn())  # the API: 503, never a 200 for nothing
    await settle()
    assert asterisk.rung == [("PJSIP/trunk-1", "op3")]  # nobody rung meanwhile
    assert not board.operators["op4"].reachable and len(board.held) == 2

    lease.active = True  # the renewal came back
    assert board.resume() == 2
    await settle()
    assert board.operators["op4"].reachable and not board.held and not board.held_effects
    board.operator_event("op4", LogIn())
    await settle()
    # c1 went back to the head of the queue while in doubt: the ring decided then is made
    # now (op3, missed once, is still offered it), and op4, logged in now, takes c2
    assert asterisk.rung[1:] == [("PJSIP/trunk-1", "op3"), ("PJSIP/trunk-2", "op4")]


async def test_the_next_step_after_a_moment_in_doubt_applies_what_waited_first(
    world: tuple,
) -> None:
    board, _, _, _ = world
    lease = Doubt(board)
    online(board, "op3")
    lease.active = False
    board.reachable("op4", True)
    lease.active = True
    board.operator_event("op4", LogIn())  # (no renewal's word yet: the step itself sees it)
    assert board.operators["op4"].reachable and board.operators["op4"].state is State.AVAILABLE


async def test_standing_down_after_a_moment_in_doubt_leaves_it_to_the_next_instance(
    world: tuple,
) -> None:
    board, asterisk, _, _ = world
    lease = Doubt(board)
    online(board, "op3")
    lease.active = False
    board.reachable("op4", True)
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk")
    board.reset()  # another instance took the lease: it reads Asterisk afresh
    assert not board.held and not board.held_effects
    await settle()
    assert asterisk.rung == []


async def test_a_standby_refuses_requests_rather_than_take_them_for_nothing(
    world: tuple,
) -> None:
    board, _, _, _ = world
    board.may_act = lambda: False
    with pytest.raises(NotActive, match="not the active one"):
        board.operator_event("op3", Pause("lunch"))


class LateLease(AloneLease):
    """A lease whose renewal answers only after ``late`` seconds of the leader's clock."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.late = 0.0

    async def renew(self, me: str, fence: int, seconds: float) -> bool:
        self.clock[0] += self.late
        return True


async def test_a_late_renewal_that_brings_the_lease_back_says_so() -> None:
    now = [0.0]
    lease = LateLease(now)
    leader = Leadership(lease, "a", 3.0, clock=lambda: now[0])
    leader.fence, leader._until = None, float("-inf")  # (taken as a PostgreSQL lease is)
    regained: list[int] = []

    async def back() -> None:
        regained.append(leader.fence or 0)

    leader.on_regained = back
    await leader.step()  # taken: active until 2.5
    assert leader.active and leader.fence == 1
    now[0], lease.late = 2.3, 0.4  # sent late, answered after the lease ran out here
    await leader.step()
    assert regained == [1] and leader.active and not leader.in_doubt
    now[0], lease.late = 3.5, 0.1  # an ordinary renewal: nothing to say
    await leader.step()
    assert regained == [1]


async def test_in_doubt_only_while_the_lease_may_come_back() -> None:
    now = [0.0]
    leader = Leadership(LateLease(now), "a", 3.0, clock=lambda: now[0])
    leader.fence, leader._until = None, float("-inf")
    await leader.step()
    now[0] = 2.6
    assert leader.in_doubt and not leader.active
    await leader.release()  # (a stop gives it up: it never comes back)
    assert not leader.in_doubt
    await asyncio.sleep(0)
