"""The vault's sealing (AES-256-GCM in chunks): what is sealed opens to what was sealed, under
the key it names; anything changed, cut, grown, moved or renamed is refused; keys are read
from the environment with errors that name the variable and never show the value."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest

from hotline.vault.cipher import (
    CHUNK,
    HEADER_SIZE,
    NONCE,
    TAG,
    Header,
    Keys,
    NotSealed,
    Tampered,
    UnknownKey,
    chunk_span,
    new_key,
    open_chunk,
    parse_key,
    seal_bytes,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NAME = "notifications/482193.wav"
KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def open_all(keys: Keys, name: str, sealed: bytes) -> bytes:
    """Every chunk of a sealed file opened, in order (as the vault streams it)."""
    header = Header.unpack(sealed)
    out, at = [], HEADER_SIZE
    for index in range(header.chunks):
        length = header.sealed_length(index)
        out.append(open_chunk(keys, name, header, index, sealed[at : at + length]))
        at += length
    if at != len(sealed):
        raise Tampered("grown")
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_what_is_sealed_opens_to_itself_and_shows_nothing_of_it(size: int) -> None:
    plain = b"RIFF" + os.urandom(max(0, size - 4)) if size >= 4 else b"R" * size
    sealed = seal_bytes(Keys(KEY_A), NAME, plain, T0)
    header = Header.unpack(sealed)
    assert (header.size, header.made_at, header.chunks) == (size, T0, max(1, -(-size // CHUNK)))
    assert len(sealed) == header.sealed_size == HEADER_SIZE + header.chunks * (NONCE + TAG) + size
    assert open_all(Keys(KEY_A), NAME, sealed) == plain
    assert not sealed.startswith(b"RIFF") and (size < 64 or plain[16:64] not in sealed)


def test_a_file_sealed_twice_differs() -> None:
    """A random nonce for every chunk: the same audio sealed twice shares no ciphertext."""
    plain = bytes(2 * CHUNK)  # silence: the worst case for a cipher without nonces
    one, two = (seal_bytes(Keys(KEY_A), NAME, plain, T0) for _ in range(2))
    assert one[:HEADER_SIZE] == two[:HEADER_SIZE]
    assert one[HEADER_SIZE:][:64] != two[HEADER_SIZE:][:64]
    assert bytes(64) not in one[HEADER_SIZE:]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


SEALED = seal_bytes(Keys(KEY_A), NAME, os.urandom(2 * CHUNK + 100), T0)
FIRST = HEADER_SIZE + NONCE + CHUNK + TAG  # where the second chunk begins
SECOND = FIRST + NONCE + CHUNK + TAG  # and the third
SWAPPED = SEALED[:HEADER_SIZE] + SEALED[FIRST:SECOND] + SEALED[HEADER_SIZE:FIRST] + SEALED[SECOND:]


@pytest.mark.parametrize(
    ("what", "changed", "name"),
    [
        ("a bit of the audio", flip(SEALED, HEADER_SIZE + NONCE + 10), NAME),
        ("a bit of a tag", flip(SEALED, FIRST - 1), NAME),
        ("a nonce", flip(SEALED, HEADER_SIZE + 1), NAME),
        ("the size in the header", flip(SEALED, 31), NAME),
        ("the time in the header", flip(SEALED, 20), NAME),
        ("cut short", SEALED[:-1], NAME),
        ("grown", SEALED + b"\0", NAME),
        ("two chunks swapped", SWAPPED, NAME),
        ("another recording's name", SEALED, "notifications/482194.wav"),
    ],
)
def test_a_changed_file_is_refused(what: str, changed: bytes, name: str) -> None:
    with pytest.raises(Tampered):
        open_all(Keys(KEY_A), name, changed)


def test_the_key_named_in_the_header_opens_it_and_no_other() -> None:
    sealed = seal_bytes(Keys(KEY_A), NAME, b"message", T0)
    # after a rotation's first step: B is current, A is still given as an old key
    assert open_all(Keys(KEY_B, [KEY_A]), NAME, sealed) == b"message"
    with pytest.raises(UnknownKey, match="HOTLINE_RECORDINGS_OLD_KEYS"):
        open_all(Keys(KEY_B), NAME, sealed)
    # a header naming B over chunks sealed under A: refused, not opened with the wrong key
    forged = Header.unpack(sealed)
    other = Header(Keys(KEY_B).current_id, forged.made_at, forged.size).pack()
    with pytest.raises(Tampered):
        open_all(Keys(KEY_B, [KEY_A]), NAME, other + sealed[HEADER_SIZE:])


def test_a_plaintext_file_is_not_taken_for_a_sealed_one() -> None:
    with pytest.raises(NotSealed):
        Header.unpack(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))


def test_the_chunks_of_a_byte_range() -> None:
    header = Header(b"k" * 8, T0, 3 * CHUNK + 5)
    assert chunk_span(header, 0, 0) == range(0, 1)
    assert chunk_span(header, CHUNK - 1, CHUNK) == range(0, 2)
    assert chunk_span(header, 2 * CHUNK, 3 * CHUNK + 4) == range(2, 4)


SECRET = base64.b64encode(b"s" * 32).decode()


@pytest.mark.parametrize(
    ("current", "old", "error"),
    [
        ("", "", "HOTLINE_RECORDINGS_KEY is not set"),
        ("not base64 at all!", "", "HOTLINE_RECORDINGS_KEY is not base64"),
        (base64.b64encode(b"short").decode(), "", "HOTLINE_RECORDINGS_KEY is 5 bytes, not 32"),
        (SECRET, "bad!", "HOTLINE_RECORDINGS_OLD_KEYS is not base64"),
        (SECRET, f"{SECRET},{base64.b64encode(b'x' * 31).decode()}", "OLD_KEYS is 31 bytes"),
    ],
)
def test_a_bad_key_is_named_and_never_shown(current: str, old: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as raised:
        Keys.from_environment(current, old)
    assert SECRET not in str(raised.value) and (not current or current not in str(raised.value))


def test_keys_in_every_base64_spelling() -> None:
    raw = os.urandom(32)
    for text in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        f"  {base64.b64encode(raw).decode()}\n",
    ):
        assert parse_key(text, "X") == raw
    assert len(parse_key(new_key(), "X")) == 32
    keys = Keys.from_environment(new_key(), f"{new_key()}, {new_key()}")
    assert len(keys.ids) == 3
