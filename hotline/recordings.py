"""Conversation recordings: Asterisk records (MixMonitor) the conversations of lines whose
config says so, the service post-processes each file with pydub once the call is over (level
normalised; MP3 where ffmpeg is present, WAV otherwise) into its recordings folder, and deletes
them after the retention period. Every step is an event on the call.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from pathlib import Path

from hotline.asterisk.agi import AgiChannel
from hotline.audio import AudioSegment, effects, which
from hotline.events import CallEvent
from hotline.store.db import Store
from hotline.switchboard import Switchboard

log = logging.getLogger(__name__)

#: Where Asterisk writes the raw recordings (inside its own file system).
ASTERISK_FOLDER = "/var/spool/asterisk/hotline/recordings"

#: Seconds between two retention rounds.
DAY = 24 * 3600.0


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
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, channel: AgiChannel, call: str, operator: str) -> None:
        """On the operator's channel as they answer: record the conversation if its line is
        recorded (MixMonitor's ``b``: only while the two are bridged)."""
        talk = self.board.talks.get(call)
        if talk is None or not self.board.deployment.lines[talk.waiting.line].recorded:
            return
        raw = f"{ASTERISK_FOLDER}/{call}.wav"
        await channel.command(f'EXEC MixMonitor "{raw},b"')
        self._recording[call] = raw
        self.board.emit(call, "recording.started", operator=operator, line=talk.waiting.line)

    def __call__(self, event: CallEvent) -> None:
        """Subscriber of the event stream: a recorded call that ended is post-processed."""
        if event.kind == "call.ended" and event.call_id in self._recording:
            raw = self._recording.pop(event.call_id)
            task = asyncio.get_running_loop().create_task(self._finish(event.call_id, raw))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _finish(self, call: str, raw: str, settle: float = 1.0) -> None:
        await asyncio.sleep(settle)  # MixMonitor closes its file as the channels go
        source = self.asterisk_spool / raw.removeprefix("/var/spool/asterisk/")
        day = self.board.clock()
        folder = self.folder / f"{day:%Y/%m/%d}"
        try:
            target, seconds = await asyncio.to_thread(post_process, source, folder, call)
        except Exception as exc:
            log.error("recording of call %s (%s) could not be processed: %s", call, source, exc)
            self.board.emit(call, "recording.failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        log.info("recording of call %s: %s, %.1f s", call, target, seconds)
        self.board.emit(call, "recording.stored", path=str(target), seconds=round(seconds, 2))

    async def expire(self, now: datetime, days: int) -> int:
        """Delete the recordings older than ``days``; each deletion is an event on its call."""
        old = await self.store.recordings_before(now - timedelta(days=days))
        for row in old:
            await asyncio.to_thread(Path(row.path).unlink, missing_ok=True)
            self.board.emit(row.call_id, "recording.deleted", path=row.path, reason="retention")
            log.info("recording %s of call %s deleted after %d days", row.path, row.call_id, days)
        return len(old)

    async def run_retention(self, ready: asyncio.Event) -> None:
        """Once the call log's database is ready, then daily; a round that fails (database
        away) is tried again in an hour."""
        days = self.board.deployment.retention_days
        await ready.wait()
        while True:
            try:
                await self.expire(self.board.clock(), days)
                wait = DAY
            except Exception as exc:
                log.warning("recording retention skipped this round: %s", exc)
                wait = 3600.0
            await asyncio.sleep(wait)
