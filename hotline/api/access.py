"""Who may see what: bearer tokens with roles, kept only as SHA-256 hashes.

- supervisor: everything;
- operator (bound to one operator id): their own state and their own calls;
- viewer: queue state, operators' states and statistics, with no caller numbers;
- metrics: /metrics and /health only (a Prometheus scraper's: nothing of /api).

Each token belongs to one organisation and sees only its numbers' calls, its lines, its
operators, its figures (an operator's token: their organisation); a token of every
organisation (the platform administrator's HOTLINE_API_TOKEN, or one made so on purpose:
``--all-organisations``, ``role@*=``) sees them all. Which is always said when a token is
made; a HOTLINE_API_TOKENS entry that names none sees every organisation, as it always did,
and the service warns of it at its start.

Tokens come from the environment (HOTLINE_API_TOKEN for a supervisor, HOTLINE_API_TOKENS for
more) or from the database (``hotline token create``). A token is random and long, so a plain
SHA-256 of it is as good as a password hash and costs nothing per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hotline.config.settings import weakness
from hotline.privacy import mask as mask
from hotline.roles import Role as Role
from hotline.store.db import Store
from hotline.store.tables import ApiSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """The holder of a token."""

    role: Role
    operator: str | None = None
    name: str = ""
    #: The organisation whose calls, lines and operators it sees (None: every organisation).
    organisation: str | None = None

    @property
    def supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR

    def sees(self, organisation: str | None) -> bool:
        """Whether what belongs to ``organisation`` (None: to no organisation, such as a call
        to an unknown number) is this token's to see."""
        return self.organisation is None or organisation == self.organisation


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh token: 256 random bits, with a prefix that says what it is."""
    return "hl_" + secrets.token_urlsafe(32)


class TokenError(ValueError):
    """A token entry in the environment is malformed; the message names it."""


#: What a HOTLINE_API_TOKENS entry names as its organisation to see every one (``viewer@*=``).
EVERY = "*"


def parse_tokens(
    spec: str, operators: Mapping[str, str], organisations: Iterable[str] = ()
) -> dict[str, Principal]:
    """``role[:operator][@organisation]=token`` entries, comma-separated; the token may be
    ``sha256:<hex>``. ``operators`` maps each operator to their organisation: an operator's
    token belongs to it. Another role's names its organisation, or ``*`` for every one; one
    that names none sees every organisation too (as before that choice was asked for), and a
    warning says so."""
    organisations = {*organisations, *operators.values()}
    found: dict[str, Principal] = {}
    for number, entry in enumerate((e.strip() for e in spec.split(",")), 1):
        if not entry:
            continue
        who, sep, token = entry.partition("=")
        who, _, organisation = who.strip().partition("@")
        role_name, _, operator = who.partition(":")
        where = f"HOTLINE_API_TOKENS entry {number}"
        if not sep or not token.strip():
            raise TokenError(f"{where}: expected role[:operator][@organisation]=token")
        try:
            role = Role(role_name)
        except ValueError:
            raise TokenError(
                f"{where}: unknown role {role_name!r} (supervisor, operator or viewer)"
            ) from None
        if role is Role.OPERATOR and operator not in operators:
            raise TokenError(f"{where}: an operator token names its operator: operator:op1=...")
        if role is not Role.OPERATOR and operator:
            raise TokenError(f"{where}: only an operator token names an operator")
        if organisation and organisation != EVERY and organisation not in organisations:
            known = ", ".join(sorted(organisations))
            raise TokenError(
                f"{where}: unknown organisation {organisation!r} (one of: {known}; "
                f"or {EVERY} for every organisation)"
            )
        if role is Role.OPERATOR:
            if organisation and organisation != operators[operator]:
                raise TokenError(f"{where}: {operator} belongs to {operators[operator]}")
            organisation = operators[operator]
        elif not organisation:
            log.warning(
                "%s (%s) names no organisation: it sees every organisation's data; write "
                "%s@<organisation>=... for one, or %s@%s=... to say every one",
                where,
                role_name,
                role_name,
                role_name,
                EVERY,
            )
        organisation = "" if organisation == EVERY else organisation
        token = token.strip()
        if not token.startswith("sha256:") and (problem := weakness(token)) is not None:
            raise TokenError(f"{where}: the token is too weak: {problem}")
        digest = token.removeprefix("sha256:") if token.startswith("sha256:") else token_hash(token)
        if len(digest) != 64:
            raise TokenError(f"{where}: a sha256: value has 64 hexadecimal digits")
        found[digest.lower()] = Principal(
            role, operator or None, f"env:{number}", organisation or None
        )
    return found


#: Seconds between two writes of the tokens' last uses.
USES_EVERY = 60.0


class Tokens:
    """Finds the principal of a presented token: configured ones, then the database's
    (cached for ``ttl`` seconds, and still used while the database is away). A revoked
    token stops working within ``ttl`` seconds, an expired one at once. When each stored
    token was last used is written to the database at most every :data:`USES_EVERY`
    seconds, off the request's way."""

    def __init__(
        self,
        configured: dict[str, Principal],
        store: Store,
        ttl: float = 20.0,
        ready: asyncio.Event | None = None,
    ) -> None:
        self.configured = configured
        self.store = store
        self.ttl = ttl
        #: Set once the database's schema is in place (the call log's migrations ran).
        self.ready = ready
        #: Each stored token's principal, and when it expires (None: never).
        self._stored: dict[str, tuple[Principal, datetime | None]] = {}
        #: When the last read that the database answered (or refused) began.
        self._loaded = float("-inf")
        self._reading: asyncio.Future[None] | None = None
        #: Tokens presented since the last write of their uses, and when.
        self._used: dict[str, datetime] = {}
        self._written = time.monotonic()
        self._writing: asyncio.Task[None] | None = None

    async def find(self, token: str) -> Principal | None:
        return await self.by_hash(token_hash(token))

    async def by_hash(self, digest: str) -> Principal | None:
        """The principal of the token with this SHA-256 (None: unknown or revoked)."""
        if digest in self.configured:
            return self.configured[digest]
        age = time.monotonic() - self._loaded
        if age > self.ttl or (digest not in self._stored and age > 1.0):
            await self._refresh()
        found = self._stored.get(digest)
        if found is None:
            return None
        principal, expires = found
        now = datetime.now(UTC)
        if expires is not None and now >= expires:
            return None
        self._used[digest] = now
        if time.monotonic() - self._written >= USES_EVERY and self._writing is None:
            self._writing = asyncio.ensure_future(self._write_uses())
        return principal

    async def _write_uses(self) -> None:
        used, self._used = self._used, {}
        self._written = time.monotonic()
        try:
            await self.store.tokens_used(used)
        except Exception as exc:  # (the database away: written with the next ones)
            log.warning("API tokens: last uses not written (%s)", exc)
            self._used = used | self._used
        finally:
            self._writing = None

    async def close(self) -> None:
        """Write the last uses not written yet (the service stopping)."""
        if self._used:
            await self._write_uses()

    async def _refresh(self) -> None:
        """One read of the database at a time, shared by every request that needs it: a
        request that comes while it is under way waits for its answer. (Marking the cache
        read before the answer came turned away the wallboards and desks that reconnect
        together after a restart: all but the first saw an empty cache.)"""
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
        # (shielded: a request given up on does not cancel the read the others wait for)
        await asyncio.shield(self._reading)

    async def _read(self) -> None:
        try:
            if self.ready is not None and not self.ready.is_set():
                # right after a start the schema may be on its way: wait for it a little
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ready.wait(), SCHEMA_WAIT)
            began = time.monotonic()
            try:
                rows = await self.store.tokens()
            except Exception as exc:
                log.warning("API tokens: database unreachable, using the last known ones (%s)", exc)
                self._loaded = began  # (asked again after a second: not on every request)
                return
            self._stored = {
                row.hash: (
                    Principal(Role(row.role), row.operator, row.name, row.organisation),
                    row.expires_at,
                )
                for row in rows
                if row.role in Role.__members__.values()
            }
            self._loaded = began
        finally:
            self._reading = None


#: Seconds a token presented right after a start waits for the database's schema.
SCHEMA_WAIT = 5.0


#: How long a browser session lasts.
SESSION_HOURS = 12


class Sessions:
    """Browsers' logins. The cookie holds a random session id, never the API token; the
    database keeps the id's SHA-256 and the token's hash. Logging out ends the session for
    good; revoking the token ends every session opened with it."""

    def __init__(self, store: Store, tokens: Tokens, ttl: float = 20.0) -> None:
        self.store = store
        self.tokens = tokens
        self.ttl = ttl
        #: id hash -> (token hash, expires, ended, when read)
        self._known: dict[str, tuple[str, datetime, bool, float]] = {}

    async def open(self, token: str, now: datetime) -> str:
        """A new session for a valid ``token``; returns its id (for the cookie). Raises the
        database's error when it is away."""
        session_id = "hs_" + secrets.token_urlsafe(32)
        expires = now + timedelta(hours=SESSION_HOURS)
        await self.store.add_session(
            ApiSession(
                hash=token_hash(session_id),
                token_hash=token_hash(token),
                created_at=now,
                expires_at=expires,
                ended_at=None,
            )
        )
        return session_id

    async def find(self, session_id: str, now: datetime) -> Principal | None:
        return await self.by_hash(token_hash(session_id), now)

    async def by_hash(self, digest: str, now: datetime) -> Principal | None:
        """The principal of the session whose id has this SHA-256 (None: unknown, ended or
        expired, or its token revoked)."""
        known = self._known.get(digest)
        if known is None or time.monotonic() - known[3] > self.ttl:
            try:
                row = await self.store.api_session(digest)
            except Exception as exc:  # the database away: what was known still holds
                log.warning("API sessions: database unreachable (%s)", exc)
                row = None
                if known is None:
                    return None
            if row is not None:
                known = (row.token_hash, row.expires_at, row.ended_at is not None, time.monotonic())
                self._known[digest] = known
                while len(self._known) > 10_000:
                    del self._known[next(iter(self._known))]
            elif known is None:
                return None
        token, expires, ended, _ = known
        if ended or now >= expires:
            return None
        return await self.tokens.by_hash(token)

    async def end(self, session_id: str, now: datetime) -> None:
        digest = token_hash(session_id)
        if digest in self._known:
            token, expires, _, read = self._known[digest]
            self._known[digest] = (token, expires, True, read)
        await self.store.end_session(digest, now)


#: Event streams one token may have open at once (HOTLINE_STREAMS_PER_TOKEN's default): a
#: supervisor's wallboard and desk in a few tabs, a viewer token shared by a few screens.
STREAMS_PER_TOKEN = 10


class Streams:
    """How many event streams each token (each holder: a browser's session counts as its
    token) has open; at most ``limit`` at a time. Each stream holds a queue of up to 1000
    events and a task: a leaked or stolen token cannot open them without end."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[Principal, int] = {}

    def open(self, who: Principal) -> bool:
        """Count one more stream of ``who``'s; False (nothing counted) when it has ``limit``."""
        if self._open.get(who, 0) >= self.limit:
            return False
        self._open[who] = self._open.get(who, 0) + 1
        return True

    def close(self, who: Principal) -> None:
        left = self._open.get(who, 0) - 1
        if left > 0:
            self._open[who] = left
        else:
            self._open.pop(who, None)

    def count(self, who: Principal) -> int:
        return self._open.get(who, 0)
