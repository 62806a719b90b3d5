"""Prompt audio built from studio recordings: what is out of date is built, what is up to date
is not; each prompt said as a line for a log, or counted as a step for a bar (every prompt looked
at, built or not, so that the bar reaches its end)."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import pytest

from hotline.calls import prompts


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """Two languages' recordings of two prompts (a tenth of a second of silence at 16 kHz)."""
    folder = tmp_path / "prompts"
    for lang in ("en", "uk"):
        (folder / lang).mkdir(parents=True)
        for name in ("greeting", "menu"):
            with wave.open(str(folder / lang / f"{name}.wav"), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(16000)
                out.writeframes(b"\0\0" * 1600)
    return folder


def test_each_prompt_built_is_said_as_a_line(sources: Path, tmp_path: Path) -> None:
    said: list[str] = []
    built = prompts.build(
        sources, tmp_path / "build", ["en", "uk"], ["greeting", "menu"], said.append
    )
    assert built == 4
    assert said == [
        "prompt [1/4] en/greeting: 0.1 s",
        "prompt [2/4] en/menu: 0.1 s",
        "prompt [3/4] uk/greeting: 0.1 s",
        "prompt [4/4] uk/menu: 0.1 s",
    ]
    with wave.open(str(tmp_path / "build/uk/menu.wav")) as made:
        assert (made.getframerate(), made.getnchannels(), made.getsampwidth()) == (8000, 1, 2)


def test_given_steps_every_prompt_is_a_step_and_no_line(sources: Path, tmp_path: Path) -> None:
    said: list[str] = []
    steps: list[tuple[int, int | None, str]] = []

    def build() -> int:
        return prompts.build(
            sources, tmp_path / "build", ["en", "uk"], ["greeting", "menu"], said.append,
            steps=lambda done, total, what: steps.append((done, total, what)),
        )  # fmt: skip

    assert build() == 4
    assert steps == [
        (1, 4, "en/greeting"),
        (2, 4, "en/menu"),
        (3, 4, "uk/greeting"),
        (4, 4, "uk/menu"),
    ]
    assert said == []
    steps.clear()
    newer = (sources / "uk/menu.wav").stat().st_mtime + 10
    os.utime(sources / "uk/menu.wav", (newer, newer))  # (re-recorded)
    assert build() == 1  # only what is out of date
    assert [done for done, _, _ in steps] == [1, 2, 3, 4]  # the bar reaches its end all the same
