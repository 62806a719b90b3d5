"""The desk's phones' credentials: one per operator's desk session, valid while it lasts.

Asterisk reads them as its realtime table ``ps_auths`` (asterisk-config/sorcery.conf,
extconfig.conf) from a SQLite file in the spool folder it shares with the service, at each
REGISTER and INVITE, with nothing cached. The service writes a row when an operator's desk
asks for its phone and deletes it at logout or when the session's token is revoked: the next
REGISTER of a phone whose row is gone, or was replaced by a newer session's, is refused. The
file holds a digest (``md5_cred``, RFC 2617's HA1), never a password; the password goes to the
desk's session over the API and nowhere else.

Plain ``sqlite3``, synchronous: the caller runs it in a thread (a few rows, written at a
login).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hotline.asterisk.dialplan import desk_phone

#: The file's name in the shared spool folder (asterisk-config/res_config_sqlite3.conf).
FILE = "desk-phones.sqlite3"
#: The digest realm Asterisk challenges the desk's phones with (the auth rows' ``realm``).
REALM = "hotline"

SCHEMA = """
CREATE TABLE IF NOT EXISTS ps_auths (
    id TEXT PRIMARY KEY,
    auth_type TEXT NOT NULL,
    username TEXT NOT NULL,
    realm TEXT NOT NULL,
    md5_cred TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS desk_sessions (
    id TEXT PRIMARY KEY REFERENCES ps_auths (id) ON DELETE CASCADE,
    operator TEXT NOT NULL,
    token TEXT NOT NULL,
    issued_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Credentials:
    """What a desk's phone registers with: ``username`` is its endpoint (``anna.desk``)."""

    username: str
    password: str
    realm: str = REALM


def digest(username: str, password: str, realm: str = REALM) -> str:
    """RFC 2617's HA1, what Asterisk compares a phone's answer to (``md5_cred``)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()


class DeskPhones:
    """The rows Asterisk reads; ``token`` names what holds a row: the desk's session or API
    token, as the service keys it (a hash, never the secret)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE
        self._read: tuple[tuple[int, int, int], dict[str, str]] | None = None

    def holders(self) -> dict[str, str]:
        """Each operator whose desk holds credentials now, with what holds them; read again
        only when the file changed (asked at every ring: one ``stat``)."""
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (found.st_mtime_ns, found.st_size, found.st_ino)
        if self._read is None or self._read[0] != key:
            try:
                with contextlib.closing(
                    sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)
                ) as db:
                    rows = db.execute("SELECT operator, token FROM desk_sessions").fetchall()
            except sqlite3.Error:  # (being written: what was read holds until the next ask)
                return self._read[1] if self._read else {}
            self._read = (key, dict(rows))
        return self._read[1]

    def holds(self, operator: str) -> bool:
        """Whether ``operator``'s desk phone has valid credentials (and so is rung)."""
        return operator in self.holders()

    @contextlib.contextmanager
    def _database(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=5)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            with connection:
                connection.executescript(SCHEMA)
            with connection:
                yield connection
        finally:
            connection.close()
            self._read = None  # (a change within the clock's tick keeps the file's mtime)
        with contextlib.suppress(OSError):  # Asterisk's group reads it; nobody else
            self.path.chmod(0o640)

    def issue(self, operator: str, token: str) -> Credentials:
        """New credentials for ``operator``'s desk phone, for the session of ``token``; any
        earlier session's are no longer valid."""
        phone = desk_phone(operator)
        password = secrets.token_urlsafe(24)
        with self._database() as db:
            db.execute(
                "INSERT OR REPLACE INTO ps_auths VALUES (?, 'md5', ?, ?, ?)",
                (phone, phone, REALM, digest(phone, password)),
            )
            db.execute(
                "INSERT OR REPLACE INTO desk_sessions VALUES (?, ?, ?, ?)",
                (phone, operator, token, datetime.now(UTC).isoformat()),
            )
        return Credentials(phone, password)

    def revoke(self, operator: str | None = None, token: str | None = None) -> list[str]:
        """End the credentials of ``operator``'s desk phone, or of every phone whose session
        is ``token``'s, or both conditions; the operators whose phone lost them."""
        where, args = [], []
        if operator is not None:
            where.append("operator = ?")
            args.append(operator)
        if token is not None:
            where.append("token = ?")
            args.append(token)
        if not where:
            raise ValueError("revoke what: an operator, a token or both")
        with self._database() as db:
            found = db.execute(
                f"SELECT id, operator FROM desk_sessions WHERE {' AND '.join(where)}",
                args,
            ).fetchall()
            return _end(db, found)

    def keep_only(self, tokens: set[str]) -> list[str]:
        """At a start: end the credentials of sessions whose token is gone meanwhile."""
        with self._database() as db:
            found = db.execute("SELECT id, operator, token FROM desk_sessions").fetchall()
            return _end(
                db, [(phone, operator) for phone, operator, token in found if token not in tokens]
            )


def _end(db: sqlite3.Connection, sessions: list[tuple[str, str]]) -> list[str]:
    """Delete these (phone, operator) sessions' credentials (their session rows follow);
    the operators."""
    db.executemany("DELETE FROM ps_auths WHERE id = ?", [(phone,) for phone, _ in sessions])
    return [operator for _, operator in sessions]
