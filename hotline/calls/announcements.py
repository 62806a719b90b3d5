"""Recorded announcements: a supervisor records one from their phone (``*71`` and a line's
keypad code: record after the tone, hear it back, 1 keeps it, 2 records it again, 3 cancels)
or uploads one through the API; callers of that line hear it before they wait, until it is
removed or its time is over ("the Sumy office is closed today because of the shelling; your
call goes to Chernivtsi").

They live in Asterisk's spool (``hotline/announcements/<line>.wav``, 8 kHz mono WAV: what
Asterisk plays), and which one is current, by whom and until when, in the service's
``announcements.json``. Not personal data: a supervisor's words to every caller.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hotline.asterisk.agi import AgiCallIO, AgiChannel, CallerHungUp
from hotline.asterisk.dialplan import Result
from hotline.config.deployment import Deployment
from hotline.events import CallEvent, EventBus
from hotline.store.journal import write_atomically
from ivr import Prompt
from routing import events as ev

log = logging.getLogger(__name__)

#: Where Asterisk keeps them, in its own file system.
FOLDER = "/var/spool/asterisk/hotline/announcements"
#: How long one lasts when no end is given.
DEFAULT_HOURS = 24
#: The longest recording (seconds), and the quiet that ends it.
LONGEST, QUIET = 120, 5
#: How often the supervisor is asked to keep it, record it again or cancel.
CONFIRM_TRIES = 3


class AnnouncementError(ValueError):
    """An announcement that cannot be taken (its audio, its line): the message says why."""


@dataclass(frozen=True)
class Announcement:
    line: str
    #: Its file's name in the folder (without ``.wav``).
    name: str
    by: str
    at: datetime
    until: datetime

    @property
    def path(self) -> str:
        """What Asterisk plays: its path, without ``.wav``."""
        return f"{FOLDER}/{self.name}"

    def as_json(self) -> dict[str, str]:
        raw = asdict(self)
        raw["at"], raw["until"] = self.at.isoformat(), self.until.isoformat()
        return raw


class Announcements:
    """The current announcement of each line, kept on disk."""

    def __init__(
        self,
        spool: Path,
        data_dir: Path,
        bus: EventBus,
        clock: Callable[[], datetime],
    ) -> None:
        #: The folder as this service sees it (Asterisk's spool shared with it).
        self.folder = spool / FOLDER.removeprefix("/var/spool/asterisk/")
        self.file = data_dir / "announcements.json"
        self.bus = bus
        self.clock = clock
        self.lines: dict[str, Announcement] = {}
        try:
            for raw in json.loads(self.file.read_text(encoding="utf-8")):
                raw["at"] = datetime.fromisoformat(raw["at"])
                raw["until"] = datetime.fromisoformat(raw["until"])
                self.lines[raw["line"]] = Announcement(**raw)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("%s is unreadable (%s): no announcement is played", self.file, exc)

    def current(self, line: str) -> Announcement | None:
        """The line's announcement, while its time lasts."""
        found = self.lines.get(line)
        return found if found is not None and self.clock() < found.until else None

    def playing(self, line: str) -> str | None:
        """What Asterisk plays for ``line`` now: its path without ``.wav`` (None: nothing)."""
        found = self.current(line)
        return found.path if found else None

    def recording(self) -> tuple[str, Path]:
        """Where to record a new one: Asterisk's path (without ``.wav``) and this service's."""
        self.folder.mkdir(mode=0o770, parents=True, exist_ok=True)
        name = f"new-{secrets.token_hex(8)}"
        return f"{FOLDER}/{name}", self.folder / f"{name}.wav"

    async def keep(
        self, line: str, recorded: Path, by: str, until: datetime | None
    ) -> Announcement:
        """Make the file ``recorded`` (in the folder) the line's announcement."""
        now = self.clock()
        name = f"{line}-{secrets.token_hex(4)}"
        await asyncio.to_thread(os.replace, recorded, self.folder / f"{name}.wav")
        made = Announcement(line, name, by, now, until or now + timedelta(hours=DEFAULT_HOURS))
        before = self.lines.get(line)
        self.lines[line] = made
        await self._store()
        if before is not None:
            await asyncio.to_thread((self.folder / f"{before.name}.wav").unlink, True)
        self.bus.publish(
            CallEvent("", 0, now, ev.AnnouncementSet(line, by, made.until.isoformat(), name))
        )
        log.info("line %s: announcement by %s until %s", line, by, made.until.isoformat())
        return made

    async def upload(
        self, line: str, audio: bytes, by: str, until: datetime | None
    ) -> Announcement:
        """An announcement sent as audio (WAV, or any format ffmpeg reads where installed):
        converted to what Asterisk plays. AnnouncementError when it is not audio."""
        from hotline.calls.audio import AudioSegment, which

        try:
            if audio[:4] == b"RIFF" or not which("ffmpeg"):
                sound = AudioSegment.from_wav(io.BytesIO(audio))
            else:  # MP3, Ogg, ...: ffmpeg reads them
                sound = AudioSegment.from_file(io.BytesIO(audio))
        except Exception as exc:
            raise AnnouncementError(f"not audio that can be read (a WAV file): {exc}") from None
        if not 0.5 <= sound.duration_seconds <= LONGEST:
            raise AnnouncementError(f"half a second to {LONGEST} seconds long, please")
        _, target = self.recording()
        native = sound.set_frame_rate(8000).set_channels(1).set_sample_width(2)
        await asyncio.to_thread(lambda: native.export(target, format="wav").close())
        return await self.keep(line, target, by, until)

    async def adopt(self, events: Iterable[tuple[datetime, ev.Fact]]) -> None:
        """The announcements as the shared database's events say (another instance recorded
        or removed them; the files are in Asterisk's spool, which both see): what an instance
        taking over plays from then on."""
        found: dict[str, Announcement] = {}
        for at, fact in events:
            match fact:
                case ev.AnnouncementSet(line, by, until, name) if name:
                    end = datetime.fromisoformat(until)
                    found[line] = Announcement(line, name, by, at, end)
                case ev.AnnouncementRemoved(line):
                    found.pop(line, None)
        now = self.clock()
        self.lines = {
            line: a
            for line, a in found.items()
            if a.until > now and (self.folder / f"{a.name}.wav").is_file()
        }
        await self._store()

    async def remove(self, line: str, by: str) -> bool:
        """The line's announcement is no longer played (False: it had none)."""
        found = self.lines.pop(line, None)
        if found is None:
            return False
        await self._store()
        await asyncio.to_thread((self.folder / f"{found.name}.wav").unlink, True)
        self.bus.publish(CallEvent("", 0, self.clock(), ev.AnnouncementRemoved(line, by)))
        return True

    async def _store(self) -> None:
        text = json.dumps([a.as_json() for a in self.lines.values()], indent=1) + "\n"
        await asyncio.to_thread(write_atomically, self.file, text)


class AnnouncementRoute:
    """The FastAGI route ``announce``: a supervisor's phone, ``*71<line code>``."""

    def __init__(self, deployment: Callable[[], Deployment], announcements: Announcements) -> None:
        #: The deployment now (a reload changes it).
        self.deployment = deployment
        self.announcements = announcements

    async def announce(self, channel: AgiChannel) -> None:
        code, supervisor = channel.arg(1), channel.arg(2)
        deployment = self.deployment()
        org = deployment.organisation_of(supervisor=supervisor)
        line = org.codes.get(code) if org is not None else None
        language = org.languages[0] if org is not None else deployment.languages[0]
        io = AgiCallIO(channel)
        try:
            if org is None or line not in org.lines:
                log.warning("announcement: %s dialled *71%s: no line of theirs", supervisor, code)
                await io.say([Prompt(language, "wrong-key")])
                return
            await self._dialogue(channel, io, line, supervisor, language)
        except CallerHungUp:
            pass
        finally:
            await channel.result(Result.DONE)

    async def _dialogue(
        self, channel: AgiChannel, io: AgiCallIO, line: str, supervisor: str, language: str
    ) -> None:
        path, file = self.announcements.recording()
        try:
            while True:
                await io.say([Prompt(language, "announcement-record")])
                await channel.record_file(path, seconds=LONGEST, silence=QUIET)
                choice = await self._confirm(channel, io, path, language)
                if choice == "1":
                    await self.announcements.keep(line, file, supervisor, None)
                    await io.say([Prompt(language, "announcement-saved")])
                    return
                if choice != "2":
                    await io.say([Prompt(language, "announcement-cancelled")])
                    return
        finally:
            file.unlink(missing_ok=True)  # (kept: moved away already)

    async def _confirm(self, channel: AgiChannel, io: AgiCallIO, path: str, language: str) -> str:
        """The recording played back, then 1, 2 or 3 (asked again after another key or
        none, three times at most: a stray key never throws a recording away)."""
        await io.say([Prompt(language, "announcement-heard")])
        await channel.stream_file(path, "", LONGEST + 10)
        for _ in range(CONFIRM_TRIES):
            choice = await io.collect(Prompt(language, "announcement-confirm"), 10, 1)
            if choice in ("1", "2", "3"):
                return choice
        return "3"
