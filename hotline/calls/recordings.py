"""Conversation recordings: Asterisk records (MixMonitor) the conversations of lines whose
config says so, the service post-processes each file with pydub once the call is over (level
normalised; MP3 where ffmpeg is present, WAV otherwise), in memory, seals it into the vault
(:mod:`hotline.vault`: encrypted, synced) and only then removes Asterisk's raw file; it
deletes them when their retention is over (:mod:`hotline.lifecycle` says when). Every step is
an event on the call.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import subprocess
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.asterisk.agi import AgiChannel
from hotline.calls.audio import AudioSegment, effects, which
from hotline.calls.switchboard import Switchboard
from hotline.events import CallEvent
from hotline.store.db import Store
from hotline.store.lifecycle import Kept
from hotline.vault import Vault, name_of
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

#: Seconds between two looks for raw recordings nobody finished (a restart in the middle).
LOOK_EVERY = 60.0
#: Where a raw recording that could not be processed is kept (sealed) until retention.
FAILED = "recordings/failed"
#: Longer than any call lasts (the dialplan's TIMEOUT(absolute)): a raw recording this old is
#: of a call that is over, whatever the log says.
LONGEST_CALL = timedelta(hours=4, minutes=5)


#: ffmpeg's output: MP3 at 32 kbit/s (a voice, 240 kB a minute).
MP3 = ("-f", "mp3", "-b:a", "32k")


def post_process(source: Path) -> tuple[bytes, str, float]:
    """Normalise the raw recording ``source``, in memory: the audio (MP3 where ffmpeg is
    installed, WAV otherwise), its extension and its length in seconds. Nothing is written:
    the plaintext goes nowhere but into the vault."""
    with source.open("rb") as raw:  # pydub leaves a file it opened itself open
        audio = AudioSegment.from_file(raw, format="wav")
    if not math.isinf(audio.dBFS):  # silence cannot be normalised
        audio = effects.normalize(audio, headroom=1.0)
    wav = io.BytesIO()
    audio.export(wav, format="wav")  # (the wave module: in memory, no temporary file)
    seconds = len(audio) / 1000
    if ffmpeg := which("ffmpeg"):
        # through pipes, not pydub's export (which gives ffmpeg temporary files on disk)
        done = subprocess.run(
            [ffmpeg, "-loglevel", "error", "-f", "wav", "-i", "pipe:0", *MP3, "pipe:1"],
            input=wav.getvalue(),
            capture_output=True,
            check=True,
            timeout=600,
        )
        return done.stdout, "mp3", seconds
    return wav.getvalue(), "wav", seconds


def finish(vault: Vault, source: Path, name: str) -> tuple[str, float]:
    """(Blocking) the raw recording ``source`` post-processed and sealed as ``name`` (with
    its extension) in the vault, synced; only then the raw file removed. The vault's name and
    the length in seconds."""
    audio, kind, seconds = post_process(source)
    kept = f"{name}.{kind}"
    vault.seal_bytes(kept, audio)
    source.unlink()  # (a crash before this: the raw is found again, and sealed again)
    return kept, seconds


class Recorder:
    """Starts recordings, finishes them when their call ends, and expires old ones."""

    def __init__(
        self,
        board: Switchboard,
        store: Store,
        asterisk_spool: Path,
        vault: Vault,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self.board = board
        self.store = store
        self.asterisk_spool = asterisk_spool
        self.vault = vault
        #: Whether this instance is the active one: only it finishes, seals and expires
        #: (with a standby both see Asterisk's spool and share the vault).
        self.active = active
        self._recording: dict[str, str] = {}
        #: Calls whose recording is being processed now.
        self._finishing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, channel: AgiChannel, call: str, operator: str) -> None:
        """On the operator's channel as they answer: record the conversation if its line is
        recorded (a transferred caller's next conversation goes on in the same file)."""
        talk = self.board.talks.get(call)
        if talk is None or not self.board.deployment.lines[talk.waiting.line].recorded:
            return
        raw = f"{ASTERISK_FOLDER}/{call}.wav"
        await channel.record_conversation(raw)
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
            name = f"recordings/{day:%Y/%m/%d}/{call}"
            try:
                kept, seconds = await asyncio.to_thread(finish, self.vault, source, name)
            except Exception as exc:
                log.error("recording of call %s (%s) could not be processed: %s", call, source, exc)
                error = f"{type(exc).__name__}: {exc}"[:300]
                self.board.emit(call, RecordingFailed(error))
                if source.exists():  # kept aside, sealed (not tried every minute); retention
                    await self.vault.put_file(f"{FAILED}/{call}.wav", source)  # deletes it
                return
            self.vault.wake()  # (with a standby: shared now)
            log.info("recording of call %s: %s, %.1f s", call, kept, seconds)
            self.board.emit(call, RecordingStored(kept, round(seconds, 2)))
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

    async def expire(self, old: Sequence[Kept]) -> int:
        """Delete the recordings ``old`` (their retention is over: hotline/lifecycle); each
        deletion is an event on its call. How many; Unavailable (the shared database away)
        stops the round, tried again later."""
        deleted = 0
        for row in old:
            await self.vault.delete(row.path)  # its bytes wherever they are (every instance's)
            self.board.emit(row.call_id, RecordingDeleted(row.path, "retention"))
            log.info("recording %s of call %s deleted (retention)", row.path, row.call_id)
            deleted += 1
        return deleted

    async def expire_failed(self, cutoff: datetime) -> None:
        """Delete the raw recordings that could not be processed, made before ``cutoff``."""
        for name, made_at in await self.vault.names(FAILED):
            if made_at < cutoff:
                await self.vault.delete(name)
                call = name.removeprefix(f"{FAILED}/").removesuffix(".wav")
                self.board.emit(call, RecordingDeleted(name, "retention"))
        for raw in await asyncio.to_thread(lambda: list(self._raw_folder.glob("*.failed"))):
            # (set aside in plaintext before the vault)
            if raw.stat().st_mtime < cutoff.timestamp():
                await asyncio.to_thread(raw.unlink, missing_ok=True)
                call = raw.name.split(".wav")[0]
                self.board.emit(call, RecordingDeleted(str(raw), "retention"))

    @property
    def _raw_folder(self) -> Path:
        """Where Asterisk writes the raw recordings, as this service sees it."""
        return self.asterisk_spool / ASTERISK_FOLDER.removeprefix("/var/spool/asterisk/")

    async def run(self, ready: asyncio.Event) -> None:
        """Once the call log's database is ready: the recordings kept in plaintext before the
        vault sealed, then every minute a look for raw recordings nobody finished (their
        retention: hotline/lifecycle/runner.py)."""
        await ready.wait()
        sealed_before_vault = False
        while True:
            now = self.board.clock()
            if not self.active():  # (the active instance does it: both share the vault)
                await asyncio.sleep(LOOK_EVERY / 12)
                continue
            if not sealed_before_vault:
                try:
                    if found := await seal_plaintext(self.store, self.vault):
                        log.info(
                            "%d recording(s) kept in plaintext before the vault: sealed", found
                        )
                    sealed_before_vault = True
                except Exception as exc:
                    log.warning("sealing the recordings kept before the vault failed: %s", exc)
            try:
                await self.recover(now)
            except Exception as exc:
                log.warning("looking for unfinished recordings failed: %s", exc)
            await asyncio.sleep(LOOK_EVERY)


async def seal_plaintext(store: Store, vault: Vault) -> int:
    """Seal the conversation recordings kept in plaintext before the vault (the call log
    names them by their old path; the vault finds them by it: :func:`hotline.vault.name_of`),
    removing the plaintext; how many."""
    sealed = 0
    for row in await store.recordings_kept():
        plain = vault.plaintext_of(row.path)
        if plain is not None and await asyncio.to_thread(plain.is_file):
            await vault.put_file(name_of(row.path), plain)
            sealed += 1
    return sealed
