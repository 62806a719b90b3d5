"""The spool: in order, durable across restarts, nothing sent twice, nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hotline.events import CallEvent
from hotline.spool import Position, Spool

AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def event(n: int, call: str = "c1", kind: str = "menu.answer") -> CallEvent:
    return CallEvent(call, n, AT, kind, {"n": n}, f"id{n}")


def test_events_come_back_in_order_and_the_marker_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(1, 8):
        spool.append(event(n))
    assert spool.backlog == 7
    first, after = spool.read(spool.sent, limit=3)
    assert [e.id for e in first] == ["id1", "id2", "id3"]
    spool.commit(after, len(first))
    assert spool.backlog == 4
    spool.close()

    with Spool(tmp_path) as again:  # a restart: what was sent is not read again
        assert again.backlog == 4
        rest, end = again.read(again.sent)
        assert [e.id for e in rest] == ["id4", "id5", "id6", "id7"]
        assert rest[0] == event(4)
        again.commit(end, len(rest))
        assert again.read(again.sent) == ([], end)


def test_segments_rotate_and_sent_ones_are_deleted(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=300) as spool:
        for n in range(1, 21):
            spool.append(event(n))
        assert len(spool.segments()) > 3
        events, after = spool.read(Position(0, 0), limit=1000)
        assert [e.seq for e in events] == list(range(1, 21))
        spool.commit(after, len(events))
        assert spool.segments() == [after.segment]  # only the one being written is kept
        spool.append(event(21))
        more, _ = spool.read(spool.sent)
        assert [e.seq for e in more] == [21]


def test_a_half_written_line_is_set_aside_and_the_rest_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(event(1))
    spool.close()
    segment = tmp_path / "events-000001.jsonl"
    with segment.open("a") as out:
        out.write('{"id": "torn", "call_id": "c1", "se')  # the process died mid-write
    with Spool(tmp_path) as spool:
        spool.append(event(2))
        events, _ = spool.read(spool.sent)
    assert [e.id for e in events] == ["id1", "id2"]
    assert "torn" in (tmp_path / "rejected.jsonl").read_text()


def test_numbering_goes_on_for_calls_under_way(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for n in (1, 2, 3):
            spool.append(event(n, "c1"))
        spool.append(event(1, "c2"))
        spool.append(event(2, "c2", "call.ended"))
        assert spool.last_seq() == {"c1": 3}
