"""How a recording or message is sealed at rest: AES-256-GCM (``cryptography``'s AEAD), in
chunks, under a key from the environment. Pure: bytes in, bytes out; no file, no clock.

A sealed file is a header, then the sealed chunks::

    header: b"HLVAULT1" | key id (8) | made at (ms, 8) | plaintext size (8) | chunk size (4)
    chunk i: nonce (12, random) | ciphertext of plaintext[i*chunk:(i+1)*chunk] | tag (16)

Each chunk is authenticated with the header, the file's name and the chunk's index as
associated data: a chunk moved within a file or to another file, a header changed (another
key id, another size: a file cut short or grown), a file renamed to another recording's name,
all fail to open. Chunks (rather than one AEAD over the whole file) let the API stream a
recording and serve a byte range without holding it all in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"HLVAULT1"
#: Plaintext bytes per chunk: 64 KiB, as age and Tink's streaming AEAD use (a few ms of work
#: each, and at most that much plaintext in memory per chunk streamed).
CHUNK = 64 * 1024
NONCE = 12
TAG = 16
#: magic, key id, made at (milliseconds since the epoch), plaintext size, chunk size.
_HEADER = struct.Struct(">8s8sQQI")
HEADER_SIZE = _HEADER.size
#: An AES-256 key: 32 bytes.
KEY_BYTES = 32


class VaultError(Exception):
    """A sealed file cannot be opened; the message says why (never with its content)."""


class Tampered(VaultError):
    """The file was changed, cut short, grown, or given another recording's name."""


class UnknownKey(VaultError):
    """The file was sealed under a key this service was not given."""


class NotSealed(VaultError):
    """The file is not a sealed one (a plaintext recording from before the vault)."""


def key_id(key: bytes) -> bytes:
    """A key's id, kept in each file's header: which key opens it, without saying the key."""
    return hashlib.sha256(b"hotline vault key id\0" + key).digest()[:8]


def new_key() -> str:
    """A new random key, as HOTLINE_RECORDINGS_KEY takes it (base64 of 32 bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str, variable: str) -> bytes:
    """A key given in base64 (standard or URL-safe, padded or not); ValueError naming
    ``variable`` (never the value) when it is not 32 bytes."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(
            cleaned.replace("-", "+").replace("_", "/") + "=" * (-len(cleaned) % 4),
            validate=True,
        )
    except (binascii.Error, ValueError):
        raise ValueError(
            f"{variable} is not base64: give 32 random bytes in base64 "
            "(`hotline vault key` prints a new one)"
        ) from None
    if len(raw) != KEY_BYTES:
        raise ValueError(
            f"{variable} is {len(raw)} bytes, not {KEY_BYTES}: give 32 random bytes in base64 "
            "(`hotline vault key` prints a new one)"
        )
    return raw


class Keys:
    """The current key (new files are sealed under it) and previous ones (still opened, so
    that a rotation can re-seal what they sealed)."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self.current_id = key_id(current)
        #: The key of the call log's pseudonyms and erasures' hashes (hotline/lifecycle),
        #: derived from the current key: kept where the key is, never in the database.
        self.pseudonyms = hmac.new(current, b"hotline pseudonyms v1", hashlib.sha256).digest()
        self._ciphers = {key_id(k): AESGCM(k) for k in (*previous, current)}

    @classmethod
    def from_environment(cls, current: str, previous: str) -> Keys:
        """HOTLINE_RECORDINGS_KEY and HOTLINE_RECORDINGS_OLD_KEYS (comma-separated);
        ValueError naming the variable that is wrong."""
        if not current.strip():
            raise ValueError(
                "HOTLINE_RECORDINGS_KEY is not set: recordings and messages are encrypted with "
                "it (`hotline vault key` prints a new one; `hotline env` and `sandbox up` make one)"
            )
        old = [
            parse_key(k, "HOTLINE_RECORDINGS_OLD_KEYS") for k in previous.split(",") if k.strip()
        ]
        return cls(parse_key(current, "HOTLINE_RECORDINGS_KEY"), old)

    def cipher(self, kid: bytes) -> AESGCM:
        try:
            return self._ciphers[kid]
        except KeyError:
            raise UnknownKey(
                f"sealed under key {kid.hex()}, which is neither HOTLINE_RECORDINGS_KEY nor one "
                "of HOTLINE_RECORDINGS_OLD_KEYS"
            ) from None

    @property
    def ids(self) -> frozenset[bytes]:
        return frozenset(self._ciphers)


@dataclass(frozen=True)
class Header:
    """What a sealed file says of itself (all of it authenticated with every chunk)."""

    key_id: bytes
    made_at: datetime
    size: int
    chunk: int = CHUNK

    def pack(self) -> bytes:
        millis = int(self.made_at.timestamp() * 1000)
        return _HEADER.pack(MAGIC, self.key_id, millis, self.size, self.chunk)

    @classmethod
    def unpack(cls, data: bytes) -> Header:
        if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
            raise NotSealed("not a sealed file")
        _, kid, millis, size, chunk = _HEADER.unpack(data[:HEADER_SIZE])
        if not 1 <= chunk <= 16 * CHUNK:
            raise Tampered("its header is damaged")
        return cls(kid, datetime.fromtimestamp(millis / 1000, UTC), size, chunk)

    @property
    def chunks(self) -> int:
        """How many chunks it has (an empty file has one, empty)."""
        return max(1, -(-self.size // self.chunk))

    def plain_length(self, index: int) -> int:
        return min(self.chunk, self.size - index * self.chunk) if self.size else 0

    def sealed_length(self, index: int) -> int:
        return NONCE + self.plain_length(index) + TAG

    def offset(self, index: int) -> int:
        """Where chunk ``index`` begins in the sealed file."""
        return HEADER_SIZE + index * (NONCE + self.chunk + TAG)

    @property
    def sealed_size(self) -> int:
        last = self.chunks - 1
        return self.offset(last) + self.sealed_length(last)


def _associated(header: Header, name: str, index: int) -> bytes:
    encoded = name.encode()
    return header.pack() + struct.pack(">H", len(encoded)) + encoded + struct.pack(">Q", index)


def seal(
    keys: Keys, name: str, size: int, read: Callable[[int], bytes], made_at: datetime
) -> Iterator[bytes]:
    """The sealed file of ``size`` bytes that ``read(n)`` gives, in pieces: the header, then
    each chunk. ValueError if ``read`` gives fewer or more bytes than ``size``."""
    header = Header(keys.current_id, made_at, size)
    cipher = keys.cipher(keys.current_id)
    yield header.pack()
    for index in range(header.chunks):
        plain = read(header.plain_length(index))
        if len(plain) != header.plain_length(index):
            raise ValueError(f"{name}: {size} bytes announced, fewer read")
        nonce = os.urandom(NONCE)
        yield nonce + cipher.encrypt(nonce, plain, _associated(header, name, index))
    if read(1):
        raise ValueError(f"{name}: more than the {size} bytes announced")


def seal_bytes(keys: Keys, name: str, data: bytes, made_at: datetime) -> bytes:
    """``data`` sealed whole (a message or a recording already in memory)."""
    view = memoryview(data)
    at = 0

    def read(n: int) -> bytes:
        nonlocal at
        piece = bytes(view[at : at + n])
        at += len(piece)
        return piece

    return b"".join(seal(keys, name, len(data), read, made_at))


def open_chunk(keys: Keys, name: str, header: Header, index: int, sealed: bytes) -> bytes:
    """The plaintext of chunk ``index``; Tampered if it is not the one sealed there."""
    if not 0 <= index < header.chunks or len(sealed) != header.sealed_length(index):
        raise Tampered(f"{name}: chunk {index} is missing or cut short")
    cipher = keys.cipher(header.key_id)
    try:
        return cipher.decrypt(sealed[:NONCE], sealed[NONCE:], _associated(header, name, index))
    except InvalidTag:
        raise Tampered(
            f"{name}: chunk {index} fails authentication (changed, or renamed)"
        ) from None


def chunk_span(header: Header, start: int, end: int) -> range:
    """The chunks that hold plaintext bytes ``start`` to ``end`` (inclusive)."""
    return range(start // header.chunk, end // header.chunk + 1)
