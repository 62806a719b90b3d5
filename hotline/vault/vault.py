"""The vault: where conversation recordings and detention messages are kept, sealed
(:mod:`hotline.vault.cipher`), and the one interface the rest of the service has to their
bytes: :meth:`Vault.put_file` / :meth:`Vault.put_bytes`, :meth:`Vault.open`,
:meth:`Vault.delete` (everywhere), :meth:`Vault.rotate`.

Where the bytes are: a file is sealed into this instance's folder first (``data/vault``:
synced before anyone is told it is kept, whether or not the database answers). Alone, that is
where it stays. With a standby (HOTLINE_HA) the folder is only a waiting room: each file is
moved into the shared PostgreSQL as soon as it answers (:meth:`share`), so whichever
instance is active reads it, and a deletion there is a deletion for all; a copy still waiting
on an instance cut off from the database is dropped there once the database says it was
deleted. PostgreSQL, rather than a shared folder or copies between instances: a standby
already needs it, it is replicated and backed up as one, and a legal aid centre runs no
network file system for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from hotline.store.journal import sync_folder
from hotline.vault.cipher import (
    Header,
    Keys,
    NotSealed,
    VaultError,
    chunk_span,
    open_chunk,
    seal,
)
from hotline.vault.folder import Folder, check_name

if TYPE_CHECKING:  # (the shared store's module reads headers with the cipher: no cycle)
    from hotline.store.vault import SharedVault

log = logging.getLogger(__name__)

#: Chunks fetched at once while streaming (1 MiB of audio).
BATCH = 16

#: Where Asterisk records detention messages (inside its own file system).
MESSAGES = "/var/spool/asterisk/hotline/notifications/"
#: Seconds between two looks at files waiting to be shared, when nothing wakes it earlier.
SHARE_EVERY = 10.0


class Unavailable(VaultError):
    """The shared database cannot be reached: a deletion there is to be tried again."""


def name_of(path: str) -> str:
    """The vault's name of a recording or message, from what the call log and the
    notifications keep of it: a message's path in Asterisk's spool
    (``/var/spool/asterisk/hotline/notifications/482193.wav``, with or without ``.wav``) is
    ``notifications/482193.wav``; a conversation stored before the vault
    (``data/recordings/2026/11/25/<call>.mp3``) is ``recordings/2026/11/25/<call>.mp3``; a
    name is itself. ValueError for anything else."""
    if path.startswith(MESSAGES):
        file = path.removeprefix(MESSAGES)
        return check_name(f"notifications/{file if '.' in file else file + '.wav'}")
    if path.startswith(("recordings/", "notifications/")):
        return check_name(path)
    parts = PurePath(path).parts
    if len(parts) >= 4 and all(p.isdigit() for p in parts[-4:-1]):
        return check_name("recordings/" + "/".join(parts[-4:]))
    raise ValueError(f"not a recording or message of the hotline: {path[:200]!r}")


@dataclass
class Opened:
    """A sealed file found, its header read; its plaintext streamed by :meth:`stream`."""

    name: str
    header: Header
    keys: Keys
    fetch: Callable[[range], Awaitable[list[bytes]]]

    @property
    def size(self) -> int:
        return self.header.size

    async def stream(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Plaintext bytes ``start`` to ``end`` (inclusive; default: to the last), chunk by
        chunk, each authenticated before it is given (Tampered otherwise)."""
        last = self.size - 1 if end is None else min(end, self.size - 1)
        if self.size == 0 or start > last:
            return
        span = chunk_span(self.header, start, last)
        for first in range(span.start, span.stop, BATCH):
            batch = range(first, min(first + BATCH, span.stop))
            sealed = await self.fetch(batch)
            for index in batch:
                piece = sealed[index - batch.start] if index - batch.start < len(sealed) else b""
                plain = await asyncio.to_thread(
                    open_chunk, self.keys, self.name, self.header, index, piece
                )
                at = index * self.header.chunk
                yield plain[max(0, start - at) : last - at + 1]

    async def verify(self) -> None:
        """Open every chunk (and throw the plaintext away): Tampered, UnknownKey if one
        fails. The API checks a file whole before it sends a byte of it."""
        async for _ in self.stream():
            pass

    async def read(self) -> bytes:
        """The whole plaintext (a message Asterisk is to play)."""
        return b"".join([piece async for piece in self.stream()])


@dataclass
class Rotation:
    """What :meth:`Vault.rotate` did."""

    here: int = 0
    shared: int = 0
    #: Files that could not be sealed anew, and why (a key not given, a damaged file).
    failed: list[str] = field(default_factory=list)
    #: Files still under an older key after it (none when it went well).
    left: int = 0


class Vault:
    """Sealed recordings and messages: this instance's folder, and the shared database
    with a standby."""

    def __init__(
        self,
        keys: Keys,
        folder: Path,
        shared: SharedVault | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        asterisk_spool: Path | None = None,
    ) -> None:
        self.keys = keys
        self.folder = Folder(folder)
        self.shared = shared
        self.clock = clock
        #: Asterisk's spool as this service sees it (a message's plaintext, until sealed).
        self.asterisk_spool = asterisk_spool
        self._wake: asyncio.Event | None = None
        self._vacuum_due = False

    # -- keeping ---------------------------------------------------------------------------
    def seal_file(self, name: str, source: Path) -> None:
        """(Blocking) seal ``source`` as ``name`` into the folder, synced, then remove
        ``source`` (and sync its folder): the plaintext goes only once the sealed copy is on
        disk."""
        check_name(name)
        with source.open("rb") as plain:
            size = os.fstat(plain.fileno()).st_size
            self.folder.write(name, seal(self.keys, name, size, plain.read, self.clock()))
        source.unlink()
        sync_folder(source.parent)

    def seal_bytes(self, name: str, data: bytes) -> None:
        """(Blocking) seal ``data`` as ``name`` into the folder, synced."""
        check_name(name)
        self.folder.write(name, seal(self.keys, name, len(data), _reader(data), self.clock()))

    async def put_file(self, name: str, source: Path) -> None:
        """:meth:`seal_file` in a thread; then shared (with a standby) soon."""
        await asyncio.to_thread(self.seal_file, name, source)
        self.wake()

    async def put_bytes(self, name: str, data: bytes) -> None:
        """:meth:`seal_bytes` in a thread; then shared (with a standby) soon."""
        await asyncio.to_thread(self.seal_bytes, name, data)
        self.wake()

    # -- reading ---------------------------------------------------------------------------
    async def open(self, path: str) -> Opened | None:
        """The recording or message ``path`` (a name, or a path :func:`name_of` knows), or
        None if it is kept nowhere this instance can see. NotSealed (a file that is not a
        sealed one), Unavailable (the shared database away)."""
        name = name_of(path)
        local = await asyncio.to_thread(self.folder.header, name)
        if local is not None:
            return Opened(name, local, self.keys, _local(self.folder, name, local))
        if self.shared is None:
            return None
        try:
            shared = await self.shared.header(name)
        except Exception as exc:
            raise Unavailable(f"the shared database: {exc}") from exc
        if shared is None:
            return None
        return Opened(name, shared, self.keys, _fetcher(self.shared, name))

    async def names(self, prefix: str = "") -> list[tuple[str, datetime]]:
        """The files kept (here, and shared) whose names begin with ``prefix``, with when each
        was made: what retention looks at."""
        found: dict[str, datetime] = {}
        for name in await asyncio.to_thread(self.folder.names):
            if name.startswith(prefix):
                try:
                    header = await asyncio.to_thread(self.folder.header, name)
                except VaultError:
                    continue
                if header is not None:
                    found[name] = header.made_at
        if self.shared is not None:
            try:
                kept = await self.shared.names()
            except Exception as exc:
                raise Unavailable(f"the shared database: {exc}") from exc
            found |= {name: made for name, _, made in kept if name.startswith(prefix)}
        return sorted(found.items())

    # -- deleting --------------------------------------------------------------------------
    async def delete(self, path: str) -> bool:
        """Delete the recording or message ``path`` everywhere: this instance's folder, any
        plaintext of it left where it was made, and (with a standby) the shared database,
        which drops the copy any other instance still holds. Whether there was anything to
        delete. Unavailable when the shared database cannot be reached (what is here is
        deleted all the same): try again later."""
        name = name_of(path)
        here = await asyncio.to_thread(self._delete_here, name, path)
        if self.shared is None:
            return here
        try:
            there = await self.shared.delete(name, self.clock())
        except Exception as exc:
            raise Unavailable(f"{name} not deleted from the shared database: {exc}") from exc
        self._vacuum_due = True
        self.wake()
        return here or there

    def _delete_here(self, name: str, path: str) -> bool:
        gone = self.folder.remove(name)
        legacy = self.plaintext_of(path)
        if legacy is not None and legacy.is_file():
            legacy.unlink()
            sync_folder(legacy.parent)
            gone = True
        return gone

    def plaintext_of(self, path: str) -> Path | None:
        """Where ``path``'s plaintext was made, as this service sees it: a message in
        Asterisk's spool, a conversation stored before the vault (None: a name)."""
        if path.startswith(MESSAGES) and self.asterisk_spool is not None:
            file = path if path.endswith(".wav") else f"{path}.wav"
            return self.asterisk_spool / file.removeprefix("/var/spool/asterisk/")
        if path.startswith(("recordings/", "notifications/")) or path.startswith(MESSAGES):
            return None
        return Path(path)

    # -- sharing (with a standby) ----------------------------------------------------------
    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def share(self) -> int:
        """Move the files waiting in this instance's folder into the shared database (or
        drop those it says were deleted since they were made); how many left the folder."""
        if self.shared is None:
            return 0
        moved = 0
        for name in await asyncio.to_thread(self.folder.names):
            try:
                header = await asyncio.to_thread(self.folder.header, name)
            except NotSealed:
                log.error("vault: %s is not a sealed file: left where it is", name)
                continue
            if header is None:
                continue
            sealed = await asyncio.to_thread(self.folder.read, name, header, range(header.chunks))
            if not await self.shared.put(name, header, sealed):
                log.info("vault: %s was deleted meanwhile: dropped here too", name)
            if await asyncio.to_thread(self.folder.remove, name, header):
                moved += 1
        return moved

    async def run(self, ready: asyncio.Event) -> None:
        """Once the database is ready: share what waits (at once when something is kept or
        deleted, else every SHARE_EVERY seconds), and have PostgreSQL drop deleted chunks."""
        self._wake = asyncio.Event()
        await asyncio.to_thread(self.folder.sweep_partials)
        if self.shared is None:
            return
        await ready.wait()
        while True:
            self._wake.clear()
            try:
                if moved := await self.share():
                    log.info("vault: %d file(s) shared", moved)
                if self._vacuum_due:
                    self._vacuum_due = False
                    await self.shared.vacuum()
            except Exception as exc:  # the database away: what waits stays on disk here
                log.warning("vault: sharing failed this round: %s", exc)
            try:
                await asyncio.wait_for(self._wake.wait(), SHARE_EVERY)
            except TimeoutError:
                pass

    # -- rotating --------------------------------------------------------------------------
    async def rotate(self) -> Rotation:
        """Seal anew, under the current key, every file sealed under an older one: here, and
        in the shared database. A file deleted meanwhile stays deleted."""
        done = Rotation()
        current = self.keys.current_id
        for name in await asyncio.to_thread(self.folder.names):
            try:
                header = await asyncio.to_thread(self.folder.header, name)
                if header is None or header.key_id == current:
                    continue
                opened = await self.open(name)
                if opened is None:
                    continue
                plain = await opened.read()
                pieces = list(seal(self.keys, name, len(plain), _reader(plain), header.made_at))
                if await asyncio.to_thread(self.folder.replace, name, pieces, header):
                    done.here += 1
            except VaultError as exc:
                done.failed.append(f"{name}: {exc}")
        if self.shared is not None:
            for name, kid, _ in await self.shared.names():
                if kid == current.hex():
                    continue
                try:
                    was = await self.shared.header(name)
                    if was is None:
                        continue
                    opened = Opened(name, was, self.keys, _fetcher(self.shared, name))
                    plain = await opened.read()
                    pieces = list(seal(self.keys, name, len(plain), _reader(plain), was.made_at))
                    new = Header.unpack(pieces[0])
                    if await self.shared.replace(name, was, new, pieces[1:]):
                        done.shared += 1
                except VaultError as exc:
                    done.failed.append(f"{name}: {exc}")
        done.left = len(done.failed)
        return done


def _reader(data: bytes) -> Callable[[int], bytes]:
    at = 0

    def read(n: int) -> bytes:
        nonlocal at
        piece = data[at : at + n]
        at += len(piece)
        return piece

    return read


def _local(folder: Folder, name: str, header: Header) -> Callable[[range], Awaitable[list[bytes]]]:
    async def fetch(indexes: range) -> list[bytes]:
        return await asyncio.to_thread(folder.read, name, header, indexes)

    return fetch


def _fetcher(shared: SharedVault, name: str) -> Callable[[range], Awaitable[list[bytes]]]:
    async def fetch(indexes: range) -> list[bytes]:
        return await shared.chunks(name, indexes)

    return fetch
