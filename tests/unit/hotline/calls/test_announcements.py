"""A line's recorded announcement: played until its end, replaced by the next, removed, kept
across a restart; what is not audio is refused, saying so."""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.calls.announcements import FOLDER, AnnouncementError, Announcements
from hotline.events import CallEvent, EventBus

T0 = datetime(2026, 12, 24, 13, tzinfo=UTC)


def wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\x00\x01\x00\x01" * int(44100 * seconds))
    return out.getvalue()


async def test_played_until_its_end_replaced_removed_and_kept(tmp_path: Path) -> None:
    now = [T0]
    seen: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(seen.append)
    kept = Announcements(tmp_path / "spool", tmp_path, bus, lambda: now[0])
    first = await kept.upload("consultation", wav(2), "sup1", T0 + timedelta(hours=2))
    assert kept.playing("consultation") == f"{FOLDER}/{first.name}"
    assert kept.playing("detention") is None
    with wave.open(str(kept.folder / f"{first.name}.wav")) as played:  # what Asterisk plays
        assert (played.getframerate(), played.getnchannels()) == (8000, 1)
    second = await kept.upload("consultation", wav(1), "sup2", None)  # 24 hours by default
    assert second.until == T0 + timedelta(hours=24)
    assert not (kept.folder / f"{first.name}.wav").exists()  # the one it replaced: gone
    again = Announcements(tmp_path / "spool", tmp_path, bus, lambda: now[0])  # a restart
    assert again.current("consultation") == second
    now[0] = T0 + timedelta(hours=25)
    assert again.playing("consultation") is None  # its time is over
    assert await again.remove("consultation", "sup1")
    assert not await again.remove("consultation", "sup1")
    assert [e.kind for e in seen] == [
        "line.announcement",
        "line.announcement",
        "line.announcement_removed",
    ]
    assert seen[0].fact.by == "sup1"


@pytest.mark.parametrize(
    ("audio", "said"),
    [(b"RIFF but not a wave", "not audio"), (wav(0.1), "half a second"), (wav(121), "120")],
)
async def test_what_is_not_an_announcement_is_refused(
    tmp_path: Path, audio: bytes, said: str
) -> None:
    kept = Announcements(tmp_path / "spool", tmp_path, EventBus(), lambda: T0)
    with pytest.raises(AnnouncementError, match=said):
        await kept.upload("consultation", audio, "sup1", None)
    assert kept.playing("consultation") is None


async def test_an_instance_taking_over_adopts_what_the_events_say(tmp_path: Path) -> None:
    """Another instance's announcements, from the shared database's events: the last of each
    line that is not removed, not over and whose file is there."""
    bus = EventBus()
    seen: list[CallEvent] = []
    bus.subscribe(seen.append)
    theirs = Announcements(tmp_path / "spool", tmp_path / "a", bus, lambda: T0)
    (tmp_path / "a").mkdir()
    sent = await theirs.upload("consultation", wav(1), "sup1", T0 + timedelta(hours=2))
    gone = await theirs.upload("detention", wav(1), "sup1", T0 + timedelta(hours=2))
    await theirs.remove("detention", "sup1")
    (tmp_path / "b").mkdir()
    mine = Announcements(tmp_path / "spool", tmp_path / "b", bus, lambda: T0)
    events = [(e.at, e.fact) for e in seen]
    await mine.adopt(events)
    assert mine.current("consultation") == sent and mine.current("detention") is None
    assert gone.name not in {a.name for a in mine.lines.values()}
    later = Announcements(tmp_path / "spool", tmp_path / "b", bus, lambda: T0)
    assert later.current("consultation") == sent  # (kept on its disk too)
    over = Announcements(tmp_path / "spool", tmp_path / "b", bus, lambda: T0 + timedelta(hours=3))
    await over.adopt(events)
    assert over.lines == {}
