"""Post-processing a recording with pydub: normalised, sealed in the vault (synced), and only
then the raw file removed."""

from __future__ import annotations

import io
import math
import os
import struct
from pathlib import Path

import pytest

from hotline.calls.audio import AudioSegment
from hotline.calls.recordings import finish
from hotline.vault import Keys, Vault, new_key
from hotline.vault.cipher import parse_key


def tone(seconds: float, level: float) -> AudioSegment:
    """A 440 Hz sine at ``level`` of full scale, 8 kHz mono 16 bit."""
    samples = (
        int(level * 32767 * math.sin(2 * math.pi * 440 * n / 8000))
        for n in range(int(8000 * seconds))
    )
    data = b"".join(struct.pack("<h", s) for s in samples)
    return AudioSegment(data=data, sample_width=2, frame_rate=8000, channels=1)


KEY = new_key()


def vault(folder: Path) -> Vault:
    return Vault(Keys(parse_key(KEY, "K")), folder)


async def load(kept: Vault, name: str) -> AudioSegment:
    opened = await kept.open(name)
    assert opened is not None
    return AudioSegment.from_file(io.BytesIO(await opened.read()), format=name.rsplit(".")[-1])


async def test_a_quiet_recording_is_normalised_and_sealed(tmp_path: Path) -> None:
    raw = tmp_path / "raw.wav"
    tone(2.5, 0.03).export(raw, format="wav").close()
    kept = vault(tmp_path / "vault")
    name, seconds = finish(kept, raw, "recordings/2026/11/25/1700000000.1")
    assert not raw.exists()
    assert name == "recordings/2026/11/25/1700000000.1.wav" and seconds == 2.5  # (no ffmpeg)
    on_disk = (tmp_path / "vault" / name).read_bytes()
    assert not on_disk.startswith(b"RIFF") and b"WAVEfmt" not in on_disk
    assert (await load(kept, name)).max_dBFS > -1.5  # brought up to 1 dB of headroom (~-30 dB)


async def test_silence_is_kept_as_it_is(tmp_path: Path) -> None:
    raw = tmp_path / "raw.wav"
    AudioSegment.silent(duration=1000, frame_rate=8000).export(raw, format="wav").close()
    kept = vault(tmp_path / "vault")
    name, seconds = finish(kept, raw, "recordings/2026/11/25/silent")
    assert seconds == 1.0 and math.isinf((await load(kept, name)).dBFS)


def test_the_raw_file_goes_only_once_the_sealed_one_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash at any moment leaves the recording somewhere: the sealed file and its folder
    are synced before Asterisk's raw file is removed; a vault that cannot keep it (its disk
    full, its folder unwritable) leaves the raw file where it is."""
    raw = tmp_path / "raw.wav"
    tone(1.0, 0.5).export(raw, format="wav").close()
    happened: list[str] = []
    real_fsync, real_unlink = os.fsync, Path.unlink

    def fsync(fd: int) -> None:
        happened.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")
        real_fsync(fd)

    def unlink(path: Path, missing_ok: bool = False) -> None:
        happened.append(f"unlink {path}")
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "unlink", unlink)
    name, _ = finish(vault(tmp_path / "vault"), raw, "recordings/2026/11/25/1.2")
    sealed = tmp_path / "vault" / name  # (written under a partial name, synced, renamed)
    written = next(i for i, h in enumerate(happened) if h.startswith(f"fsync {sealed.parent}/."))
    assert happened.index(f"unlink {raw}") > happened.index(f"fsync {sealed.parent}") > written

    tone(1.0, 0.5).export(raw, format="wav").close()
    (tmp_path / "full").write_text("a file where the vault's folder should be")
    with pytest.raises(OSError):
        finish(vault(tmp_path / "full"), raw, "recordings/2026/11/25/1.3")
    assert raw.exists()
