"""The sandbox's bootstrap as its progress shows it: each of mmdebstrap's steps ("I: ...") a
line for a log, or a step of a bar (how many is not known beforehand); a failure named by
mmdebstrap's own error lines. mmdebstrap here is a stand-in on PATH that talks as it does."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.running.sandbox import _mmdebstrap


@pytest.fixture
def mmdebstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An mmdebstrap that says three steps (and a remark that is no step), then exits with
    $EXIT (0 by default), saying an error first if it fails."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "mmdebstrap"
    script.write_text(
        "#!/bin/sh\n"
        "echo 'I: chroot architecture amd64 is equal to the host' >&2\n"
        "echo 'W: a warning, not a step' >&2\n"
        "echo 'I: downloading packages with apt...' >&2\n"
        "echo 'I: extracting archives...' >&2\n"
        '[ "${EXIT:-0}" = 0 ] || echo "E: apt-get download failed" >&2\n'
        'exit "${EXIT:-0}"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    return tmp_path / "root"


def test_each_step_a_line_for_a_log(mmdebstrap: Path) -> None:
    said: list[str] = []
    assert _mmdebstrap("forky", mmdebstrap, said.append) is None
    assert [line.split(": ", 1)[1] for line in said] == [
        "chroot architecture amd64 is equal to the host",
        "downloading packages with apt...",
        "extracting archives...",
    ]
    assert [line.split(" (")[0] for line in said] == [f"  sandbox step {n}" for n in (1, 2, 3)]


def test_each_step_a_step_of_a_bar_and_no_line(mmdebstrap: Path) -> None:
    said: list[str] = []
    steps: list[tuple[int, int | None, str]] = []
    done = _mmdebstrap(
        "forky", mmdebstrap, said.append, lambda n, total, what: steps.append((n, total, what))
    )
    assert done is None and said == []
    assert steps == [
        (1, None, "chroot architecture amd64 is equal to the host"),
        (2, None, "downloading packages with apt..."),
        (3, None, "extracting archives..."),
    ]


def test_a_failure_named_by_its_error_lines(
    mmdebstrap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXIT", "1")
    assert _mmdebstrap("forky", mmdebstrap, lambda _: None, lambda *_: None) == (
        "E: apt-get download failed"
    )
