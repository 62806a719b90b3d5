"""The vault beside Asterisk's spool: the messages Asterisk records there are sealed into the
vault (and their plaintext removed), and a message Asterisk is to play is opened for it.

Asterisk plays only files (Playback, STREAM FILE): it cannot read the vault. So a message to
be heard on a call (by the person on duty it rings, by the operator before a callback) is
opened into ``hotline/playing/<random>.wav`` in Asterisk's spool for the length of that call,
and deleted as soon as the call has played it; a copy a crash left behind is deleted within
PLAYING_FOR. The alternatives were worse: an HTTP URL for Playback lands in Asterisk's own
media cache, kept for hours; streaming the audio into the call (AudioSocket, EAGI) loses the
keys a listener presses to stop it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from hotline.vault.vault import MESSAGES, Vault, name_of

log = logging.getLogger(__name__)

#: Where a message is opened for Asterisk to play (inside its own file system).
PLAYING = "/var/spool/asterisk/hotline/playing"
#: Seconds an opened message may stay: the longest call that plays one (a callback: the
#: operator's ring and the message, 2 minutes at most; a person on duty hearing the report
#: three times) and a margin.
PLAYING_FOR = 15 * 60.0
#: Seconds since Asterisk last wrote a message before a plaintext one left in its spool (a
#: stop in the middle of a message, a failure to seal it) is taken as finished and sealed:
#: longer than any message lasts (120 s, then 5 s of silence).
FINISHED_AFTER = 5 * 60.0
#: Seconds between two looks at the spool.
LOOK_EVERY = 60.0


class SpoolDoor:
    """The vault's door to Asterisk's spool (``asterisk_spool``: as this service sees it)."""

    def __init__(self, vault: Vault, asterisk_spool: Path) -> None:
        self.vault = vault
        self.spool = asterisk_spool
        self.playing = asterisk_spool / PLAYING.removeprefix("/var/spool/asterisk/")
        self.messages = asterisk_spool / MESSAGES.removeprefix("/var/spool/asterisk/")
        #: What this process opened and has not deleted yet.
        self._opened: set[Path] = set()

    def message_file(self, path: str) -> Path:
        """Where Asterisk recorded the message ``path`` (``.wav``), as this service sees it."""
        file = path if path.endswith(".wav") else f"{path}.wav"
        return self.spool / file.removeprefix("/var/spool/asterisk/")

    async def seal_message(self, path: str) -> bool:
        """Seal the message Asterisk has just recorded at ``path`` into the vault (synced;
        its plaintext removed); False (logged) when it is not there to seal (Asterisk's spool
        not shared with this machine)."""
        source = self.message_file(path)
        try:
            await self.vault.put_file(name_of(path), source)
        except FileNotFoundError:
            log.warning("cannot seal %s: not there (is Asterisk's spool shared?)", source)
            return False
        return True

    async def open_for_call(self, path: str) -> str | None:
        """Open the message ``path`` for Asterisk to play: the file's path in Asterisk's own
        file system, without its extension (what Playback and STREAM FILE take); None when
        it is kept nowhere (or cannot be opened: logged)."""
        try:
            opened = await self.vault.open(path)
            if opened is None:
                log.warning("message %s is kept nowhere: not played", path)
                return None
            plain = await opened.read()
        except Exception as exc:  # never a reason to drop the call: it goes on without it
            log.error("message %s cannot be opened to play: %s", path, exc)
            return None
        token = secrets.token_hex(16)  # unguessable: nobody finds it in the time it lives
        target = self.playing / f"{token}.wav"
        await asyncio.to_thread(self._write, target, plain)
        self._opened.add(target)
        return f"{PLAYING}/{token}"

    def _write(self, target: Path, plain: bytes) -> None:
        self.playing.mkdir(mode=0o750, parents=True, exist_ok=True)
        # readable by Asterisk through the spool folder's group (its own user where it runs
        # as one), by nobody else
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
        try:
            os.write(fd, plain)
        finally:
            os.close(fd)

    async def played(self, played: str | None) -> None:
        """The call is done with ``played`` (what :meth:`open_for_call` gave): deleted."""
        if not played or not played.startswith(f"{PLAYING}/"):
            return
        target = self.playing / f"{played.removeprefix(PLAYING + '/')}.wav"
        self._opened.discard(target)
        await asyncio.to_thread(target.unlink, missing_ok=True)

    def sweep(self, now: float | None = None) -> int:
        """(Blocking) delete the opened messages older than PLAYING_FOR (left by a crash, or by
        an instance that stopped); how many."""
        now = time.time() if now is None else now
        gone = 0
        if not self.playing.is_dir():
            return 0
        for found in self.playing.glob("*.wav"):
            try:
                if now - found.stat().st_mtime > PLAYING_FOR:
                    found.unlink()
                    gone += 1
            except FileNotFoundError:
                continue
        return gone

    def forget(self) -> None:
        """(Blocking, at a stop) delete what this process opened."""
        for target in list(self._opened):
            target.unlink(missing_ok=True)
        self._opened.clear()

    async def seal_leftovers(self, now: float | None = None) -> int:
        """Seal the plaintext messages left in Asterisk's spool (a stop in the middle of one;
        a failure to seal; a spool from before the vault) once Asterisk is surely done with
        them; how many."""
        now = time.time() if now is None else now

        def finished() -> list[Path]:
            found = []
            for file in self.messages.glob("*.wav") if self.messages.is_dir() else ():
                try:
                    if now - file.stat().st_mtime > FINISHED_AFTER:
                        found.append(file)
                except FileNotFoundError:  # sealed meanwhile
                    continue
            return found

        sealed = 0
        for found in await asyncio.to_thread(finished):
            try:
                await self.vault.put_file(f"notifications/{found.name}", found)
                sealed += 1
            except FileNotFoundError:
                continue
            log.info("message %s left in Asterisk's spool: sealed now", found.name)
        return sealed

    async def run(self, active: Callable[[], bool]) -> None:
        """Every LOOK_EVERY seconds: delete the opened messages left too long, and (on the
        active instance: one of them does it) seal the plaintext ones left."""
        while True:
            try:
                if swept := await asyncio.to_thread(self.sweep):
                    log.info("%d message(s) opened for a call and left: deleted", swept)
                if active():
                    await self.seal_leftovers()
            except Exception as exc:
                log.warning("looking at Asterisk's spool failed: %s", exc)
            await asyncio.sleep(LOOK_EVERY)
