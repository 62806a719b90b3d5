"""The vault's folder on this machine (``data/vault``): sealed files under their names, each
written whole or not at all, and synced (file and folder) before it counts as kept.

Blocking file I/O: the vault calls it in a thread. Deletions and the rotation's replacements
hold one lock (``.lock``, flock) so that a rotation never puts back a file deleted meanwhile,
whichever process (the service, `hotline vault rotate`) does which.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from hotline.store.journal import sync_folder
from hotline.vault.cipher import HEADER_SIZE, Header, Tampered

#: A name: folders and a file of letters, digits, ``.``, ``_``, ``-`` and ``~`` (a report's
#: reference kept apart), none of them starting with a dot.
NAME = re.compile(
    r"^(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}/){0,6}[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}$"
)
#: A file being written (renamed to its name once synced).
PARTIAL = ".partial"


def check_name(name: str) -> str:
    """``name`` if it is one a file may have in the vault; ValueError otherwise."""
    if not NAME.match(name) or ".." in name.split("/"):
        raise ValueError(f"not a vault name: {name[:200]!r}")
    return name


class Folder:
    """Sealed files under ``root``, by name (``recordings/2026/11/25/1795712189.0.wav``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # (releases the lock)

    def write(self, name: str, pieces: Iterable[bytes]) -> Path:
        """Write a sealed file whole, synced, under ``name`` (replacing one of that name)."""
        target = self.path(name)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL}")
        fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                for piece in pieces:
                    out.write(piece)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            partial.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(partial, target)
        sync_folder(target.parent)
        return target

    def header(self, name: str) -> Header | None:
        """The header of the file ``name`` (None: there is none here). NotSealed, Tampered."""
        try:
            with self.path(name).open("rb") as sealed:
                return Header.unpack(sealed.read(HEADER_SIZE))
        except FileNotFoundError:
            return None

    def read(self, name: str, header: Header, indexes: range) -> list[bytes]:
        """The sealed chunks ``indexes`` of ``name`` as they are on disk (opening them checks
        them); Tampered if the file goes on past its last chunk (grown)."""
        with self.path(name).open("rb") as sealed:
            sealed.seek(header.offset(indexes.start))
            found = [sealed.read(header.sealed_length(index)) for index in indexes]
            if indexes.stop == header.chunks and sealed.read(1):
                raise Tampered(f"{name}: longer than its header says")
        return found

    def remove(self, name: str, was: Header | None = None) -> bool:
        """Delete ``name`` here (synced), or only if it is still as ``was`` says (a copy now
        shared: not one sealed anew meanwhile); whether one was deleted."""
        target = self.path(name)
        with self.locked():
            try:
                if was is not None and self.header(name) != was:
                    return False
                target.unlink()
            except FileNotFoundError:
                return False
        sync_folder(target.parent)
        return True

    def replace(self, name: str, pieces: Iterable[bytes], was: Header) -> bool:
        """Write ``name`` anew (a rotation) only if it is still there as ``was`` says: never
        bringing back one deleted meanwhile. Whether it was replaced."""
        target = self.path(name)
        staged = self.write(f"{name}{PARTIAL}", pieces)
        with self.locked():
            try:
                if self.header(name) != was:
                    staged.unlink()
                    return False
            except Exception:
                staged.unlink()
                raise
            os.replace(staged, target)
        sync_folder(target.parent)
        return True

    def names(self) -> list[str]:
        """Every file kept here, by name (partial ones left by a crash are not)."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith(".") and PARTIAL not in path.name:
                found.append(path.relative_to(self.root).as_posix())
        return sorted(found)

    def sweep_partials(self) -> int:
        """Delete what a crash left half written; how many."""
        if not self.root.is_dir():
            return 0
        gone = 0
        for path in self.root.rglob(f"*{PARTIAL}"):
            path.unlink(missing_ok=True)
            gone += 1
        return gone
