"""Standard Webhooks' symmetric signature (https://www.standardwebhooks.com, "Signature
scheme"): HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``, sent as
``webhook-signature: v1,<base64>``, with a secret written ``whsec_<base64>``. Pure: the
receiver in the tests and docs/operations.md's example verify with the same functions."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
#: The specification's bounds for a symmetric secret: 24 to 64 bytes of randomness.
SHORTEST, LONGEST = 24, 64
#: How far a receiver should let ``webhook-timestamp`` be from its own clock (the
#: specification's libraries' default: five minutes), against replays.
TOLERANCE = 300


def secret_key(secret: str) -> bytes:
    """The key of a ``whsec_<base64>`` secret (ValueError saying what is wrong, never the
    secret itself)."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"must start with {PREFIX!r} (then the key in base64)")
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"what follows {PREFIX!r} is not base64") from None
    if not SHORTEST <= len(key) <= LONGEST:
        raise ValueError(f"the key is {len(key)} bytes; {SHORTEST} to {LONGEST} are needed")
    return key


def new_secret() -> str:
    """A new random secret (32 bytes), as ``hotline env`` prints it."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value for one attempt."""
    if "." in message_id:
        raise ValueError("a webhook-id must not contain '.' (it delimits the signed content)")
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    key: bytes, message_id: str, timestamp: str, body: bytes, header: str, now: float
) -> bool:
    """Whether ``header`` (space-separated signatures) holds a valid ``v1`` one, for an attempt
    made within TOLERANCE seconds of ``now``: what a receiver checks."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > TOLERANCE:
        return False
    expected = sign(key, message_id, sent, body).encode()
    return any(
        hmac.compare_digest(expected, candidate.encode())
        for candidate in header.split()
        if candidate.startswith("v1,")
    )
