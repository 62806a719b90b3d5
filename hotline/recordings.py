"""Conversation recordings: Asterisk records (MixMonitor) the conversations of lines whose
config says so, the service post-processes each file with pydub once the call is over (level
normalised; MP3 where ffmpeg is present, WAV otherwise) into its recordings folder, and deletes
them after the retention period. Every step is an event on the call.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.asterisk.agi import AgiChannel
from hotline.audio import AudioSegment, effects, which
from hotline.events import CallEvent
from hotline.store.db import Store
from hotline.switchboard import Switchboard
from routing.events import (
    CallEnded,
    RecordingDeleted,
    RecordingFailed,
    RecordingStarted,
    RecordingStored,
)

log = logging.getLogger(__name__)

#: Where Asterisk writes the raw recordings (inside its own file system).
ASTERISK_FOLDER = "/var/spool/asterisk/hotline/recordings"

#: Seconds between two retention rounds.
DAY = 24 * 3600.0
#: Seconds between two looks for raw recordings nobody finished (a restart in the middle).
LOOK_EVERY = 60.0
#: Longer than any call lasts (the dialplan's TIMEOUT(absolute)): a raw recording this old is
#: of a call that is over, whatever the log says.
LONGEST_CALL = timedelta(hours=4, minutes=5)


def post_process(source: Path, folder: Path, name: str) -> tuple[Path, float]:
    """Normalise ``source`` and store it as ``folder/name.mp3`` (or ``.wav`` without ffmpeg);
    returns the file and its length in seconds. The raw file is removed."""
    with source.open("rb") as raw:  # pydub leaves a file it opened itself open
        audio = AudioSegment.from_file(raw, format="wav")
    if not math.isinf(audio.dBFS):  # silence cannot be normalised
        audio = effects.normalize(audio, headroom=1.0)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if which("ffmpeg"):
        target = folder / f"{name}.mp3"
        audio.export(target, format="mp3", bitrate="32k").close()
    else:
        target = folder / f"{name}.wav"
        audio.export(target, format="wav").close()
    target.chmod(0o600)  # callers' voices: the service's user only
    source.unlink()
    return target, len(audio) / 1000


class Recorder:
    """Starts recordings, finishes them when their call ends, and expires old ones."""

    def __init__(
        self, board: Switchboard, store: Store, asterisk_spool: Path, folder: Path
    ) -> None:
        self.board = board
        self.store = store
        self.asterisk_spool = asterisk_spool
        self.folder = folder
        self._recording: dict[str, str] = {}
        #: Calls whose recording is being processed now.
        self._finishing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, channel: AgiChannel, call: str, operator: str) -> None:
        """On the operator's channel as they answer: record the conversation if its line is
        recorded (MixMonitor's ``b``: only while the two are bridged; ``a``: a transferred
        caller's next conversation goes on in the same file)."""
        talk = self.board.talks.get(call)
        if talk is None or not self.board.deployment.lines[talk.waiting.line].recorded:
            return
        raw = f"{ASTERISK_FOLDER}/{call}.wav"
        await channel.command(f'EXEC MixMonitor "{raw},ab"')
        self._recording[call] = raw
        self.board.emit(call, RecordingStarted(operator, talk.waiting.line))

    def __call__(self, event: CallEvent) -> None:
        """Subscriber of the event stream: a recorded call that ended is post-processed; so is
        one found ended after a restart (``interrupted``) whose raw recording is still there."""
        if not isinstance(event.fact, CallEnded):
            return
        if event.call_id in self._recording:
            self._spawn(self._finish(event.call_id, self._recording.pop(event.call_id)))
        elif event.fact.outcome == "interrupted":
            self._spawn(self._finish_if_recorded(event.call_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish_if_recorded(self, call: str) -> None:
        raw = self._raw_folder / f"{call}.wav"
        if call not in self._finishing and await asyncio.to_thread(raw.exists):
            log.info("recording of call %s found again: finished now", call)
            await self._finish(call, f"{ASTERISK_FOLDER}/{raw.name}")

    async def _finish(self, call: str, raw: str, settle: float = 1.0) -> None:
        self._finishing.add(call)
        try:
            await asyncio.sleep(settle)  # MixMonitor closes its file as the channels go
            source = self.asterisk_spool / raw.removeprefix("/var/spool/asterisk/")
            day = self.board.clock()
            folder = self.folder / f"{day:%Y/%m/%d}"
            try:
                target, seconds = await asyncio.to_thread(post_process, source, folder, call)
            except Exception as exc:
                log.error("recording of call %s (%s) could not be processed: %s", call, source, exc)
                error = f"{type(exc).__name__}: {exc}"[:300]
                self.board.emit(call, RecordingFailed(error))
                if source.exists():  # kept aside (not tried every minute); retention deletes it
                    source.rename(source.with_name(source.name + ".failed"))
                return
            log.info("recording of call %s: %s, %.1f s", call, target, seconds)
            self.board.emit(call, RecordingStored(str(target), round(seconds, 2)))
        finally:
            self._finishing.discard(call)

    async def recover(self, now: datetime) -> int:
        """Finish the raw recordings nobody finished: their call ended while another process
        (before a restart) or nobody (the service down) knew it was recorded. Returns how many.
        A recording whose call may still go on is left for a later look."""
        found = await asyncio.to_thread(lambda: list(self._raw_folder.glob("*.wav")))
        finished = 0
        for raw in found:
            call = raw.stem
            if call in self._recording or call in self._finishing:
                continue  # this process records it, or is finishing it now
            row = await self.store.call(call)
            over = row is not None and row[0].outcome is not None
            try:
                modified = datetime.fromtimestamp(raw.stat().st_mtime, now.tzinfo)
            except FileNotFoundError:
                continue
            if over or now - modified > LONGEST_CALL:
                log.info("recording of call %s found again: finished now", call)
                await self._finish(call, f"{ASTERISK_FOLDER}/{raw.name}", settle=0)
                finished += 1
        return finished

    async def expire(self, now: datetime, days: int) -> int:
        """Delete the recordings older than ``days``, and raw ones that could not be processed;
        each deletion is an event on its call."""
        old = await self.store.recordings_before(now - timedelta(days=days))
        for row in old:
            await asyncio.to_thread(Path(row.path).unlink, missing_ok=True)
            self.board.emit(row.call_id, RecordingDeleted(row.path, "retention"))
            log.info("recording %s of call %s deleted after %d days", row.path, row.call_id, days)
        cutoff = (now - timedelta(days=days)).timestamp()
        for raw in await asyncio.to_thread(lambda: list(self._raw_folder.glob("*.failed"))):
            if raw.stat().st_mtime < cutoff:
                await asyncio.to_thread(raw.unlink, missing_ok=True)
                call = raw.name.split(".wav")[0]
                self.board.emit(call, RecordingDeleted(str(raw), "retention"))
        return len(old)

    @property
    def _raw_folder(self) -> Path:
        """Where Asterisk writes the raw recordings, as this service sees it."""
        return self.asterisk_spool / ASTERISK_FOLDER.removeprefix("/var/spool/asterisk/")

    async def run_retention(self, ready: asyncio.Event) -> None:
        """Once the call log's database is ready: retention then daily (a round that fails,
        the database away, is tried again in an hour), and every minute a look for raw
        recordings nobody finished."""
        days = self.board.deployment.retention_days
        await ready.wait()
        next_expiry = 0.0
        while True:
            now = self.board.clock()
            if time.monotonic() >= next_expiry:
                try:
                    await self.expire(now, days)
                    next_expiry = time.monotonic() + DAY
                except Exception as exc:
                    log.warning("recording retention skipped this round: %s", exc)
                    next_expiry = time.monotonic() + 3600.0
            try:
                await self.recover(now)
            except Exception as exc:
                log.warning("looking for unfinished recordings failed: %s", exc)
            await asyncio.sleep(LOOK_EVERY)
