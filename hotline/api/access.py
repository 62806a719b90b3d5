"""Who may see what: bearer tokens with roles, kept only as SHA-256 hashes.

- supervisor: everything;
- operator (bound to one operator id): their own state and their own calls;
- viewer: queue state, operators' states and statistics, with no caller numbers.

Tokens come from the environment (HOTLINE_API_TOKEN for a supervisor, HOTLINE_API_TOKENS for
more) or from the database (``hotline token create``). A token is random and long, so a plain
SHA-256 of it is as good as a password hash and costs nothing per request.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from hotline.settings import weakness
from hotline.store.db import Store

log = logging.getLogger(__name__)


class Role(StrEnum):
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    """The holder of a token."""

    role: Role
    operator: str | None = None
    name: str = ""

    @property
    def supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh token: 256 random bits, with a prefix that says what it is."""
    return "hl_" + secrets.token_urlsafe(32)


def mask(number: str) -> str:
    """A caller number for eyes that should not see it: only its last two digits. What is
    no number (``unknown``, ``anonymous``: no digit in it) is shown as it is."""
    if not any(ch.isdigit() for ch in number):
        return number
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 2) + number[-2:]


class TokenError(ValueError):
    """A token entry in the environment is malformed; the message names it."""


def parse_tokens(spec: str, operators: set[str]) -> dict[str, Principal]:
    """``role[:operator]=token`` entries, comma-separated; the token may be ``sha256:<hex>``."""
    found: dict[str, Principal] = {}
    for number, entry in enumerate((e.strip() for e in spec.split(",")), 1):
        if not entry:
            continue
        who, sep, token = entry.partition("=")
        role_name, _, operator = who.strip().partition(":")
        where = f"HOTLINE_API_TOKENS entry {number}"
        if not sep or not token.strip():
            raise TokenError(f"{where}: expected role[:operator]=token")
        try:
            role = Role(role_name)
        except ValueError:
            raise TokenError(
                f"{where}: unknown role {role_name!r} (supervisor, operator or viewer)"
            ) from None
        if role is Role.OPERATOR and operator not in operators:
            raise TokenError(f"{where}: an operator token names its operator: operator:op1=...")
        token = token.strip()
        if not token.startswith("sha256:") and (problem := weakness(token)) is not None:
            raise TokenError(f"{where}: the token is too weak: {problem}")
        digest = token.removeprefix("sha256:") if token.startswith("sha256:") else token_hash(token)
        if len(digest) != 64:
            raise TokenError(f"{where}: a sha256: value has 64 hexadecimal digits")
        found[digest.lower()] = Principal(role, operator or None, f"env:{number}")
    return found


class Tokens:
    """Finds the principal of a presented token: configured ones, then the database's
    (cached for ``ttl`` seconds, and still used while the database is away)."""

    def __init__(self, configured: dict[str, Principal], store: Store, ttl: float = 30.0) -> None:
        self.configured = configured
        self.store = store
        self.ttl = ttl
        self._stored: dict[str, Principal] = {}
        self._loaded = float("-inf")

    async def find(self, token: str) -> Principal | None:
        digest = token_hash(token)
        if digest in self.configured:
            return self.configured[digest]
        age = time.monotonic() - self._loaded
        if age > self.ttl or (digest not in self._stored and age > 1.0):
            await self._refresh()
        return self._stored.get(digest)

    async def _refresh(self) -> None:
        self._loaded = time.monotonic()
        try:
            rows = await self.store.tokens()
        except Exception as exc:
            log.warning("API tokens: database unreachable, using the last known ones (%s)", exc)
            return
        self._stored = {
            row.hash: Principal(Role(row.role), row.operator, row.name)
            for row in rows
            if row.role in Role.__members__.values()
        }
