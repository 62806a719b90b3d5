"""Long work as a person at a terminal sees it (a bar with the step, the count and the time,
remarks above it, gone once done) and as a log sees it (the plain lines, no bar, no escape
codes), through a real pseudo-terminal."""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Iterator

import pytest

from hotline.cli.meter import meter


@pytest.fixture
def terminal() -> Iterator[tuple[io.TextIOWrapper, int]]:
    """A pseudo-terminal: the stream the bar is drawn on, and the side that reads it."""
    reader, writer = pty.openpty()
    stream = io.TextIOWrapper(os.fdopen(writer, "wb", buffering=0), encoding="utf-8")
    yield stream, reader
    stream.close()
    os.close(reader)


def drawn(reader: int) -> str:
    found = b""
    os.set_blocking(reader, False)
    while True:
        try:
            chunk = os.read(reader, 65536)
        except BlockingIOError:
            return found.decode("utf-8", "replace")
        if not chunk:
            return found.decode("utf-8", "replace")
        found += chunk


def test_on_a_terminal_a_bar_with_the_step_and_the_count(
    terminal: tuple[io.TextIOWrapper, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    stream, reader = terminal
    with meter("prompts", stream=stream) as shown:
        assert shown.steps is not None
        shown.say("building [the] prompts")  # (brackets kept: no markup read into a remark)
        for done in range(1, 5):
            shown.steps(done, 4, f"uk/menu-{done}")
    stream.flush()
    seen = drawn(reader)
    assert "building [the] prompts" in seen
    assert "prompts: uk/menu-4" in seen and "4/4" in seen
    assert "\x1b[" in seen  # (drawn and redrawn in place)


def test_a_step_count_not_known_beforehand(
    terminal: tuple[io.TextIOWrapper, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """mmdebstrap's steps: how many is not known until it is done."""
    monkeypatch.setenv("COLUMNS", "120")
    stream, reader = terminal
    with meter("sandbox", stream=stream) as shown:
        assert shown.steps is not None
        shown.steps(7, None, "extracting archives...")
    stream.flush()
    assert "sandbox: extracting archives..." in drawn(reader)


@pytest.mark.parametrize("plain", [True, False])
def test_without_a_terminal_or_with_json_the_plain_lines(
    plain: bool, terminal: tuple[io.TextIOWrapper, int]
) -> None:
    """--json (plain), or standard error a file or a pipe: the lines, and no steps given, so
    the work says its own steps as lines, as it always did."""
    stream, reader = terminal
    log = io.StringIO()
    with meter("report", plain=plain, stream=stream if plain else log) as shown:
        assert shown.steps is None
        shown.say("reading ua-legal-aid's calls of 2026-11")
    stream.flush()
    said = drawn(reader) if plain else log.getvalue()
    assert said.replace("\r\n", "\n") == "reading ua-legal-aid's calls of 2026-11\n"
