"""The queue_log: each event's lines (table cases, in app_queue's layouts), then, over random
runs of the real queue (its step function, hypothesis), that the file reads as app_queue's
does: every call's stay opens with ENTERQUEUE and closes once, members are added before
they pause; then the file writer (0600, whole lines, rotation, a full disk, syncs off the
event loop)."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.state import LogIn, LogOut, OperatorError, Pause, Resume, State
from hotline.config.settings import Settings
from hotline.events import CallEvent
from hotline.store.queuelog import QueueLog, QueueLogFile
from routing import events as ev
from routing.queue import Queue
from routing.signals import (
    CallbackAsked,
    CallerQueued,
    DeviceChanged,
    Emit,
    HungUp,
    OperatorChanged,
    RingAnswered,
    RingEnded,
    Signal,
    StartTimer,
    Target,
    TimerFired,
    TransferAsked,
    TransferReady,
)
from routing.steps import step
from tests.unit.routing.test_queue import RULES

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)
E0 = int(T0.timestamp())
LINES_OF = {"op3": ("consultation", "detention"), "op4": ("consultation",)}
CALLER = "380501234567"


def at(second: float) -> datetime:
    return T0 + timedelta(seconds=second)


def lines(events: Sequence[tuple[float, str, ev.Fact]], numbers: str = "masked") -> list[str]:
    """The queue_log lines of ``(second, call, fact)`` events, in order."""
    log = QueueLog(LINES_OF, "full" if numbers == "full" else "masked")
    return [
        text
        for second, call, fact in events
        for text in log.lines(CallEvent(call, 0, at(second), fact))
    ]


def queued(
    call: str, second: float, line: str = "consultation"
) -> list[tuple[float, str, ev.Fact]]:
    return [
        (second - 10, call, ev.CallStarted(CALLER, "0800213103")),
        (second, call, ev.CallQueued(line, "uk", 10)),
    ]


ENTERED = f"{E0 + 10}|c1|consultation|NONE|ENTERQUEUE||**********67|1"

CASES = {
    "answered, the operator hangs up": (
        [
            *queued("c1", 10),
            (11, "c1", ev.CallOffered("op3")),
            (13.4, "c1", ev.CallAnswered("op3", 3.4, peer="1796526905.7")),
            (73.4, "c1", ev.CallEnded("answered", "consultation", "op3", 3.4, 60, by="operator")),
        ],
        [
            ENTERED,
            f"{E0 + 13}|c1|consultation|op3|CONNECT|3|1796526905.7|2",
            f"{E0 + 73}|c1|consultation|op3|COMPLETEAGENT|3|60|1",
        ],
    ),
    "answered, the caller hangs up (a peer not seen: empty)": (
        [
            *queued("c1", 10),
            (11, "c1", ev.CallOffered("op3")),
            (12, "c1", ev.CallAnswered("op3", 2)),
            (42, "c1", ev.CallEnded("answered", "consultation", "op3", 2, 30, by="caller")),
        ],
        [
            ENTERED,
            f"{E0 + 12}|c1|consultation|op3|CONNECT|2||1",
            f"{E0 + 42}|c1|consultation|op3|COMPLETECALLER|2|30|1",
        ],
    ),
    "a ring nobody answers, then a colleague's": (
        [
            *queued("c1", 10),
            (11, "c1", ev.CallOffered("op3")),
            (26, "c1", ev.CallMissed("op3", "NOANSWER")),
            (26, "c1", ev.CallOffered("op4")),
            (29, "c1", ev.CallAnswered("op4", 19, peer="1.9")),
        ],
        [
            ENTERED,
            f"{E0 + 26}|c1|consultation|op3|RINGNOANSWER|15000",
            f"{E0 + 29}|c1|consultation|op4|CONNECT|19|1.9|3",
        ],
    ),
    "abandoned second in line, first by then": (
        [
            *queued("c1", 10),
            *queued("c2", 12),
            (14, "c1", ev.CallOffered("op3")),
            (15, "c1", ev.CallAnswered("op3", 5)),
            (40, "c2", ev.CallEnded("abandoned", "consultation", wait=28)),
        ],
        [
            ENTERED,
            f"{E0 + 12}|c2|consultation|NONE|ENTERQUEUE||**********67|2",
            f"{E0 + 15}|c1|consultation|op3|CONNECT|5||1",
            f"{E0 + 40}|c2|consultation|NONE|ABANDON|1|2|28",
        ],
    ),
    "abandoned while a phone rang": (
        [
            *queued("c1", 10),
            (11, "c1", ev.CallOffered("op3")),
            (13.5, "c1", ev.CallEnded("abandoned", "consultation", wait=3.5, while_ringing="op3")),
        ],
        [
            ENTERED,
            f"{E0 + 13}|c1|consultation|op3|RINGCANCELED|2500",
            f"{E0 + 13}|c1|consultation|NONE|ABANDON|1|1|3",
        ],
    ),
    "key 1: a callback, then the call is the call log's": (
        [
            *queued("c1", 10),
            (30, "c1", ev.CallbackRequested(CALLER, "consultation", "asked")),
            (90, "c1", ev.CallOffered("op3")),
            (95, "c1", ev.CallAnswered("op3", 85, callback=True)),
            (150, "c1", ev.CallEnded("called-back", "consultation", "op3", 85, 55)),
        ],
        [ENTERED, f"{E0 + 30}|c1|consultation|NONE|EXITWITHKEY|1|1|1|20"],
    ),
    "key 2: a message": (
        [
            *queued("c1", 10, "detention"),
            (50, "c1", ev.CallbackRequested(CALLER, "detention", "notification", "123456")),
        ],
        [
            f"{E0 + 10}|c1|detention|NONE|ENTERQUEUE||**********67|1",
            f"{E0 + 50}|c1|detention|NONE|EXITWITHKEY|2|1|1|40",
        ],
    ),
    "nobody in time: a message (EXITWITHTIMEOUT), once": (
        [
            *queued("c1", 10, "detention"),
            (55, "c1", ev.MessageAsked("detention")),
            (95, "c1", ev.CallbackRequested(CALLER, "detention", "notification", "123456")),
            (96, "c1", ev.CallEnded("handled", notification="123456")),
        ],
        [
            f"{E0 + 10}|c1|detention|NONE|ENTERQUEUE||**********67|1",
            f"{E0 + 55}|c1|detention|NONE|EXITWITHTIMEOUT|1|1|45",
        ],
    ),
    "a detention caller who hangs up (called back later) abandoned": (
        [
            *queued("c1", 10, "detention"),
            (20, "c1", ev.CallbackRequested(CALLER, "detention", "abandoned")),
        ],
        [
            f"{E0 + 10}|c1|detention|NONE|ENTERQUEUE||**********67|1",
            f"{E0 + 20}|c1|detention|NONE|ABANDON|1|1|10",
        ],
    ),
    "handed over to the fallback queue at a stop": (
        [*queued("c1", 10), (20, "c1", ev.CallEnded("handed-over", "consultation", wait=10))],
        [ENTERED, f"{E0 + 20}|c1|consultation|NONE|WITHDRAW|1|1|10|handed-over"],
    ),
    "blind to another line: a new stay, its own hold time": (
        [
            *queued("c1", 10, "information"),
            (12, "c1", ev.CallOffered("op3")),
            (14, "c1", ev.CallAnswered("op3", 4)),
            (44, "c1", ev.CallTransferred("line", "consultation", "blind", "op3", "op3")),
            (44, "c1", ev.CallQueued("consultation", "uk", 10)),
            (50, "c1", ev.CallOffered("op4")),
            (51, "c1", ev.CallAnswered("op4", 41)),
            (61, "c1", ev.CallEnded("answered", "consultation", "op4", by="operator")),
        ],
        [
            f"{E0 + 10}|c1|information|NONE|ENTERQUEUE||**********67|1",
            f"{E0 + 14}|c1|information|op3|CONNECT|4||2",
            f"{E0 + 44}|c1|information|op3|BLINDTRANSFER|consultation|line|4|30|1",
            f"{E0 + 44}|c1|consultation|NONE|ENTERQUEUE||**********67|1",
            f"{E0 + 51}|c1|consultation|op4|CONNECT|7||1",
            f"{E0 + 61}|c1|consultation|op4|COMPLETEAGENT|7|10|1",
        ],
    ),
    "to a colleague who does not answer: back at the head": (
        [
            *queued("c1", 10),
            *queued("c2", 11),
            (12, "c1", ev.CallOffered("op3")),
            (14, "c1", ev.CallAnswered("op3", 4)),
            (44, "c1", ev.CallTransferred("operator", "op4", "blind", "op3", "op3")),
            (44, "c1", ev.CallOffered("op4")),
            (59, "c1", ev.CallMissed("op4", "NOANSWER")),
            (59, "c1", ev.TransferFailed("operator", "op4", "NOANSWER")),
        ],
        [
            ENTERED,
            f"{E0 + 11}|c2|consultation|NONE|ENTERQUEUE||**********67|2",
            f"{E0 + 14}|c1|consultation|op3|CONNECT|4||2",
            f"{E0 + 44}|c1|consultation|op3|BLINDTRANSFER|op4|operator|4|30|1",
            f"{E0 + 59}|c1|consultation|NONE|ENTERQUEUE||**********67|1",
        ],
    ),
    "attended: the colleague's conversation is not the queue's": (
        [
            *queued("c1", 10),
            (12, "c1", ev.CallOffered("op3")),
            (14, "c1", ev.CallAnswered("op3", 4)),
            (64, "c1", ev.CallTransferred("operator", "op4", "attended", "op3", "op3")),
            (64, "c1", ev.CallAnswered("op4", 0.0)),
            (99, "c1", ev.CallEnded("answered", "consultation", "op4", by="caller")),
        ],
        [
            ENTERED,
            f"{E0 + 14}|c1|consultation|op3|CONNECT|4||2",
            f"{E0 + 64}|c1|consultation|op3|ATTENDEDTRANSFER|BRIDGE|op4|4|50|1",
        ],
    ),
    "the menus and a centre from them: no queue": (
        [
            (0, "c1", ev.CallStarted(CALLER)),
            (9, "c1", ev.CallTransferred("centre", "kyiv", "menu", "caller")),
            (30, "c1", ev.TransferFailed("centre", "kyiv", "NOANSWER")),
            (31, "c1", ev.CallEnded("finished", reason="centre-unanswered")),
        ],
        [],
    ),
    "an operator logs in, pauses, is auto-paused, resumes, logs out paused": (
        [
            (1, "", ev.OperatorChanged("op3", "available", True)),
            (2, "", ev.OperatorChanged("op3", "available", False)),  # (the phone: not ours)
            (3, "", ev.OperatorChanged("op3", "paused", True, reason="training")),
            (4, "", ev.OperatorChanged("op3", "paused", True, reason="missed-calls")),
            (5, "", ev.OperatorChanged("op3", "available", True)),
            (6, "", ev.OperatorChanged("op3", "ringing", True)),
            (7, "", ev.OperatorChanged("op3", "paused", True, reason="break")),
            (8, "", ev.OperatorChanged("op3", "logged_out", True)),
            (9, "", ev.OperatorChanged("op9", "available", True)),  # (no line of ours)
        ],
        [
            f"{E0 + 1}|NONE|consultation|op3|ADDMEMBER|",
            f"{E0 + 1}|NONE|detention|op3|ADDMEMBER|",
            f"{E0 + 3}|NONE|consultation|op3|PAUSE|training",
            f"{E0 + 3}|NONE|detention|op3|PAUSE|training",
            f"{E0 + 4}|NONE|consultation|op3|PAUSE|missed-calls",
            f"{E0 + 4}|NONE|detention|op3|PAUSE|missed-calls",
            f"{E0 + 5}|NONE|consultation|op3|UNPAUSE|",
            f"{E0 + 5}|NONE|detention|op3|UNPAUSE|",
            f"{E0 + 7}|NONE|consultation|op3|PAUSE|break",
            f"{E0 + 7}|NONE|detention|op3|PAUSE|break",
            f"{E0 + 8}|NONE|consultation|op3|REMOVEMEMBER|",
            f"{E0 + 8}|NONE|detention|op3|REMOVEMEMBER|",
        ],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_lines_of_events(case: str) -> None:
    events, expected = CASES[case]
    assert lines(events) == expected


def test_numbers_masked_whole_or_unknown_and_never_a_field_separator() -> None:
    assert lines(queued("c1", 10), numbers="full") == [
        f"{E0 + 10}|c1|consultation|NONE|ENTERQUEUE||{CALLER}|1"
    ]
    unknown = [
        (10, "c1", ev.CallQueued("consultation", "uk", 10))
    ]  # (queued again after a restart)
    assert lines(unknown) == [f"{E0 + 10}|c1|consultation|NONE|ENTERQUEUE|||1"]
    odd = [(0, "", ev.OperatorChanged("op4", "paused", True, reason="a|b\nc"))]
    assert lines(odd)[-1] == f"{E0}|NONE|consultation|op4|PAUSE|a_b c"


def test_a_start_writes_queuestart_and_forgets_the_calls_before_it() -> None:
    log = QueueLog(LINES_OF)
    for second, call, fact in queued("c1", 10):
        log.lines(CallEvent(call, 0, at(second), fact))
    assert log.start(at(20)) == [f"{E0 + 20}|NONE|NONE|NONE|QUEUESTART|"]
    ended = ev.CallEnded("abandoned", "consultation", wait=20)
    assert log.lines(CallEvent("c1", 0, at(30), ended)) == []  # another instance's now
    back = ev.OperatorChanged("op4", "available", True)  # logged in again at a restart
    assert log.lines(CallEvent("", 0, at(31), back)) == [
        f"{E0 + 31}|NONE|consultation|op4|ADDMEMBER|"
    ]


# -- over random runs of the real queue ------------------------------------------------------------

#: app_queue's number of fields of each event (5 + its data), as Asterisk 22 writes them.
FIELDS = {
    "QUEUESTART": 6,
    "ENTERQUEUE": 8,
    "RINGNOANSWER": 6,
    "RINGCANCELED": 6,
    "CONNECT": 8,
    "COMPLETECALLER": 8,
    "COMPLETEAGENT": 8,
    "ABANDON": 8,
    "EXITWITHTIMEOUT": 8,
    "EXITWITHKEY": 9,
    "WITHDRAW": 9,
    "BLINDTRANSFER": 10,
    "ATTENDEDTRANSFER": 10,
    "ADDMEMBER": 6,
    "REMOVEMEMBER": 6,
    "PAUSE": 6,
    "UNPAUSE": 6,
}
#: Where each event has numbers (a position, seconds, milliseconds).
NUMBERS = {
    "ENTERQUEUE": (7,),
    "RINGNOANSWER": (5,),
    "RINGCANCELED": (5,),
    "CONNECT": (5, 7),
    "COMPLETECALLER": (5, 6, 7),
    "COMPLETEAGENT": (5, 6, 7),
    "ABANDON": (5, 6, 7),
    "EXITWITHTIMEOUT": (5, 6, 7),
    "EXITWITHKEY": (6, 7, 8),
    "WITHDRAW": (5, 6, 7),
    "BLINDTRANSFER": (7, 8, 9),
    "ATTENDEDTRANSFER": (7, 8, 9),
}
OPENS = {"ENTERQUEUE"}
WHILE_WAITING = {"RINGNOANSWER", "RINGCANCELED"}
CLOSE_WAITING = {"ABANDON", "EXITWITHKEY", "EXITWITHTIMEOUT", "WITHDRAW"}
CLOSE_TALKING = {"COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER"}
MEMBERS = ("op1", "op2", "op3", "op4")

action = st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from(["consultation", "detention", "information"])),
    st.tuples(st.just("answer"), st.integers(0, 9)),
    st.tuples(
        st.sampled_from(["hang up", "answer", "no answer", "operator hangs up"]), st.integers(0, 9)
    ),
    st.tuples(st.sampled_from(["callback", "transfer"]), st.integers(0, 9)),
    st.tuples(st.sampled_from(["login", "logout", "pause", "resume"]), st.sampled_from(MEMBERS)),
    st.tuples(st.just("wait"), st.sampled_from([1, 5, 20, 50])),
)


class Hotline:
    """The real queue, fed signals; every event it emits goes through a QueueLog."""

    def __init__(self) -> None:
        self.queue = Queue.empty(RULES)
        self.now = T0
        self.timers: dict[str, datetime] = {}
        self.calls = 0
        self.log = QueueLog({op: RULES.operators[op].lines for op in MEMBERS})
        self.lines: list[str] = []
        for op in MEMBERS[:3]:  # (op4 logs in when the run says so)
            self.do("login", op)

    def feed(self, signal: Signal) -> None:
        try:
            self.queue, effects = step(self.queue, signal, self.now, RULES)
        except OperatorError:
            return
        for effect in effects:
            if isinstance(effect, Emit):
                self.publish(effect.call, effect.fact)
            elif isinstance(effect, StartTimer):
                self.timers[effect.key] = effect.at

    def publish(self, call: str, fact: ev.Fact) -> None:
        self.lines += self.log.lines(CallEvent(call, 0, self.now, fact))

    def do(self, what: str, arg: object) -> None:
        offers = sorted(self.queue.offers.items())
        waiting = sorted(self.queue.waiting)
        pick = arg if isinstance(arg, int) else 0
        if what == "arrive":
            call = f"c{self.calls}"
            self.calls += 1
            self.publish(call, ev.CallStarted(CALLER))
            self.feed(CallerQueued(call, f"PJSIP/trunk-{call}", str(arg), "uk", CALLER))
        elif what == "hang up" and (calls := sorted({*waiting, *dict(offers)})):
            self.feed(HungUp(calls[pick % len(calls)]))
        elif what in ("answer", "no answer", "operator hangs up") and offers:
            call, offered = offers[pick % len(offers)]
            if what == "answer" and offered.answered is None:
                self.feed(RingAnswered(call, offered.operator, f"9.{call}"))
            elif what == "no answer" and offered.answered is None:
                self.feed(RingEnded(call, offered.operator, "NOANSWER"))
            elif what == "operator hangs up" and offered.answered is not None:
                self.feed(RingEnded(call, offered.operator, "ANSWER"))
        elif what == "callback" and waiting:
            self.feed(CallbackAsked(waiting[pick % len(waiting)], CALLER))
        elif what == "transfer" and offers:
            call, offered = offers[pick % len(offers)]
            if offered.answered is not None:
                self.feed(TransferAsked(call, Target("line", "information"), offered.operator))
                self.feed(TransferReady(call))
        elif what in ("login", "logout", "pause", "resume"):
            event = {"login": LogIn(), "logout": LogOut(), "pause": Pause("training")}
            self.feed(DeviceChanged(str(arg), True))
            self.feed(OperatorChanged(str(arg), event.get(what, Resume())))
        elif what == "wait":
            assert isinstance(arg, int)
            self.now += timedelta(seconds=arg)
            for key, due in sorted(self.timers.items(), key=lambda kv: kv[1]):
                if due <= self.now:
                    del self.timers[key]
                    self.feed(TimerFired(key))

    def end(self) -> None:
        """Every caller still on the line hangs up (callbacks and messages are kept)."""
        self.now += timedelta(seconds=1)
        for call in sorted({*self.queue.waiting, *self.queue.offers}):
            self.feed(HungUp(call))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=60))
def test_the_file_reads_as_app_queues(actions: list[tuple[str, object]]) -> None:
    hotline = Hotline()
    for what, arg in actions:
        hotline.do(what, arg)
    hotline.end()
    stays: dict[str, tuple[str, str]] = {}  # call -> (queue, waiting | talking)
    members = {(op, q): "out" for op in MEMBERS for q in RULES.operators[op].lines}
    epochs = []
    for text in hotline.lines:
        fields = text.split("|")
        epoch, call, queue, agent, event = fields[:5]
        assert len(fields) == FIELDS[event], text
        epochs.append(int(epoch))
        numbers = [fields[i] for i in NUMBERS.get(event, ())]
        assert all(n.isdigit() for n in numbers), text
        if event in OPENS:
            assert call not in stays, text
            stays[call] = (queue, "waiting")
            assert int(fields[7]) >= 1
        elif event in WHILE_WAITING:
            assert stays[call] == (queue, "waiting"), text
        elif event == "CONNECT":
            assert stays[call] == (queue, "waiting"), text
            stays[call] = (queue, "talking")
        elif event in CLOSE_WAITING:
            assert stays.pop(call) == (queue, "waiting"), text
        elif event in CLOSE_TALKING:
            assert stays.pop(call) == (queue, "talking"), text
        else:
            before = members[agent, queue]
            after = {"ADDMEMBER": "in", "REMOVEMEMBER": "out", "PAUSE": "paused", "UNPAUSE": "in"}
            allowed = {
                "ADDMEMBER": {"out"},
                "REMOVEMEMBER": {"in", "paused"},
                "PAUSE": {"in", "paused"},
                "UNPAUSE": {"paused"},
            }
            assert before in allowed[event], (text, before)
            members[agent, queue] = after[event]
    assert epochs == sorted(epochs)
    assert stays == {}, "a stay never closed"  # every caller who entered a queue left it
    for (op, _), member in members.items():  # members as the queue has its operators
        state = hotline.queue.operators[op].state
        assert member == {State.LOGGED_OUT: "out", State.PAUSED: "paused"}.get(state, "in")


# -- the file ---------------------------------------------------------------------------------


def event_at(second: float, call: str, fact: ev.Fact) -> CallEvent:
    return CallEvent(call, 0, at(second), fact)


async def test_the_file_is_private_whole_lines_synced_off_the_loop_and_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(threading.current_thread().name), real_fsync(fd))
    )
    path = tmp_path / "log/queue_log"
    writer = QueueLogFile(path, QueueLog(LINES_OF))
    writer.start(at(0))
    for second, call, fact in queued("c1", 10):
        writer(event_at(second, call, fact))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines() == [f"{E0}|NONE|NONE|NONE|QUEUESTART|", ENTERED]
    await writer.close()
    assert synced and threading.main_thread().name not in synced
    writer(event_at(20, "c1", ev.CallEnded("abandoned", "consultation", wait=10)))  # (closed)
    assert len(path.read_text().splitlines()) == 2


async def test_a_rotated_file_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    writer = QueueLogFile(path, QueueLog(LINES_OF))
    writer.start(at(0))
    path.rename(tmp_path / "queue_log.1")  # logrotate
    for second, call, fact in queued("c1", 10):
        writer(event_at(second, call, fact))
    await writer.close()
    assert (tmp_path / "queue_log.1").read_text().count("\n") == 1
    assert path.read_text().splitlines() == [ENTERED]


async def test_a_full_disk_loses_lines_never_half_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "queue_log"
    writer = QueueLogFile(path, QueueLog(LINES_OF))
    writer.start(at(0))
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        real_write(fd, data[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    for second, call, fact in queued("c1", 10):
        writer(event_at(second, call, fact))
    assert writer.lost == 1 and writer.error is not None
    monkeypatch.undo()
    writer(event_at(20, "c1", ev.CallEnded("abandoned", "consultation", wait=10)))
    await writer.close()
    assert writer.error is None
    assert path.read_text().splitlines() == [
        f"{E0}|NONE|NONE|NONE|QUEUESTART|",
        f"{E0 + 20}|c1|consultation|NONE|ABANDON|1|1|10",
    ]


@pytest.mark.parametrize(
    ("given_path", "given_numbers", "path", "numbers"),
    [
        (None, None, None, "masked"),
        ("", None, None, "masked"),
        ("/var/log/hotline/queue_log", "FULL", Path("/var/log/hotline/queue_log"), "full"),
    ],
)
def test_the_settings(
    monkeypatch: pytest.MonkeyPatch,
    given_path: str | None,
    given_numbers: str | None,
    path: Path | None,
    numbers: str,
) -> None:
    for name, value in (
        ("HOTLINE_QUEUE_LOG", given_path),
        ("HOTLINE_QUEUE_LOG_NUMBERS", given_numbers),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    found = Settings(_env_file=None)
    assert (found.queue_log, found.queue_log_numbers) == (path, numbers)
