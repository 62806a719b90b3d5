"""The FastAGI parsers under hypothesis: whatever bytes Asterisk (or anything else on the port)
sends, the service gets a reply, a typed error, or an environment: never another exception."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.asterisk.agi import AgiChannel, AgiError, CallerHungUp, Reply, read_environment

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Sink:
    """The writing half of a connection that accepts everything (and sends it at once)."""

    class transport:
        @staticmethod
        def get_write_buffer_size() -> int:
            return 0

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=8192)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def reply_to(script: bytes) -> Reply | Exception:
    async def run() -> Reply:
        channel = AgiChannel(reader_of(script), Sink(), {}, reply_timeout=0.2)  # type: ignore[arg-type]
        return await channel.command("GET DATA hotline/uk/main-menu 5000 2")

    try:
        return asyncio.run(run())
    except (AgiError, CallerHungUp) as exc:
        return exc


def environment_of(data: bytes) -> dict[str, str] | Exception:
    async def run() -> dict[str, str]:
        return await read_environment(reader_of(data), timeout=0.5, limit=4096)

    try:
        return asyncio.run(run())
    except AgiError as exc:
        return exc


lines = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda code, result, data: f"{code} result={result} ({data})".encode(errors="replace"),
        st.sampled_from([100, 200, 510, 511, 520, 0, 999]),
        st.one_of(st.integers(-5, 300), st.text(max_size=5)),
        st.text(max_size=20),
    ),
    st.sampled_from([b"HANGUP", b"520-Usage", b"520 End of proper usage.", b"", b"\xff\xfe"]),
)


@FUZZ
@given(st.lists(lines, max_size=6).map(lambda parts: b"\n".join(parts)), st.booleans())
def test_any_reply_gives_a_reply_or_a_typed_error(script: bytes, newline: bool) -> None:
    found: Any = reply_to(script + (b"\n" if newline else b""))
    assert isinstance(found, Reply | AgiError | CallerHungUp)


@FUZZ
@given(
    st.integers(-1, 255),
    st.text(st.characters(blacklist_characters="\r\n()", blacklist_categories=["Cs"]), max_size=30),
)
def test_a_well_formed_reply_is_read_exactly(result: int, data: str) -> None:
    found = reply_to(f"200 result={result} ({data}) endpos=1234\n".encode())
    if result == -1:
        assert isinstance(found, CallerHungUp)  # -1: the channel is gone
    else:
        assert isinstance(found, Reply) and found.result == str(result)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.builds(
                lambda name, value: f"agi_{name}: {value}".encode(errors="replace"),
                st.text(max_size=12),
                st.text(max_size=40),
            ),
        ),
        max_size=20,
    )
)
def test_any_environment_gives_variables_or_a_typed_error(parts: list[bytes]) -> None:
    found = environment_of(b"\n".join(parts) + b"\n\n")
    assert isinstance(found, dict | AgiError)
    if isinstance(found, dict):
        assert all(name.startswith("agi_") and " " not in name for name in found)
