"""The dispatcher: table cases, then its invariants over random queues (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.dispatch import Candidate, Waiting, assign, may_take, position, queue_order
from routing.lines import Line, Overflow

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)
LINES = {
    "detention": Line("detention", ("chernivtsi",), priority=100),
    "consultation": Line(
        "consultation", ("sumy",), priority=10, overflow=Overflow(60, ("chernivtsi",))
    ),
    "information": Line("information", ("chernivtsi",), priority=5),
}


def op(
    id: str,
    office: str = "sumy",
    lines: tuple[str, ...] = ("consultation",),
    languages: tuple[str, ...] = ("uk",),
    idle: int = 0,
) -> Candidate:
    return Candidate(
        id, office, frozenset(lines), frozenset(languages), T0 - timedelta(seconds=idle)
    )


def call(
    id: str,
    line: str = "consultation",
    language: str = "uk",
    seq: int = 0,
    waited: int = 0,
    held: bool = False,
) -> Waiting:
    return Waiting(
        id, line, language, LINES[line].priority, T0 - timedelta(seconds=waited), seq, held=held
    )


def test_detention_before_consultations_that_came_earlier() -> None:
    waiting = [call(f"c{i}", seq=i) for i in range(5)] + [call("d", "detention", seq=9)]
    ops = [op("op1", "chernivtsi", ("consultation", "detention"))]
    assert assign(waiting, ops, LINES, T0) == [("d", "op1")]


def test_fifo_within_a_priority_and_longest_idle_first() -> None:
    waiting = [call("late", seq=2), call("early", seq=1)]
    ops = [op("fresh", idle=5), op("idle", idle=50)]
    assert assign(waiting, ops, LINES, T0) == [("early", "idle"), ("late", "fresh")]


def test_skills_decide() -> None:
    waiting = [call("ka", language="ka", seq=1), call("uk", seq=2)]
    assert assign(waiting, [op("op1")], LINES, T0) == [("uk", "op1")]


def test_overflow_after_the_wait_widens_offices_and_languages() -> None:
    other = op("op1", "chernivtsi", ("consultation", "information"), ("en",))
    assert not may_take(other, call("c", waited=59), LINES, T0)
    assert may_take(other, call("c", waited=60), LINES, T0)


def test_held_calls_wait_their_turn() -> None:
    assert assign([call("c", held=True)], [op("op1")], LINES, T0) == []


def test_position_counts_the_calls_served_first() -> None:
    waiting = [
        call("c1", seq=1),
        call("d", "detention", seq=3),
        call("c2", seq=2),
        call("i", "information", seq=0),
    ]
    assert [position(waiting, c) for c in ("d", "c1", "c2", "i")] == [1, 2, 3, 4]


# -- invariants ------------------------------------------------------------------------------
waitings = st.lists(
    st.builds(
        lambda i, line, lang, waited, held: call(f"c{i}", line, lang, i, waited, held),
        st.integers(0, 10_000),
        st.sampled_from(sorted(LINES)),
        st.sampled_from(["uk", "en", "ka"]),
        st.integers(0, 120),
        st.booleans(),
    ),
    max_size=30,
    unique_by=lambda w: w.call,
)
candidates = st.lists(
    st.builds(
        lambda i, office, lines, langs, idle: op(
            f"op{i}", office, tuple(lines), tuple(langs), idle
        ),
        st.integers(0, 50),
        st.sampled_from(["sumy", "chernivtsi"]),
        st.sets(st.sampled_from(sorted(LINES)), min_size=1),
        st.sets(st.sampled_from(["uk", "en", "ka"]), min_size=1),
        st.integers(0, 600),
    ),
    max_size=12,
    unique_by=lambda o: o.id,
)


@settings(max_examples=300, deadline=None)
@given(waitings, candidates)
def test_invariants(waiting: list[Waiting], free: list[Candidate]) -> None:
    pairs = assign(waiting, free, LINES, T0)
    calls = [c for c, _ in pairs]
    ops = [o for _, o in pairs]
    # no operator holds two calls, no call rings two operators
    assert len(set(ops)) == len(ops) and len(set(calls)) == len(calls)
    by_id = {o.id: o for o in free}
    by_call = {w.call: w for w in waiting}
    for c, o in pairs:
        assert may_take(by_id[o], by_call[c], LINES, T0) and not by_call[c].held
    # no operator stays free while a call they may take waits
    left_ops = [o for o in free if o.id not in ops]
    left_calls = [w for w in waiting if w.call not in calls and not w.held]
    assert not any(may_take(o, w, LINES, T0) for o in left_ops for w in left_calls)
    # FIFO within a priority: no call an assigned operator could take was skipped for a later one
    order = queue_order(w for w in waiting if not w.held)
    for c, o in pairs:
        earlier = order[: order.index(by_call[c])]
        assert not any(w.call not in calls and may_take(by_id[o], w, LINES, T0) for w in earlier)
