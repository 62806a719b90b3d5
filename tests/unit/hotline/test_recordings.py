"""Post-processing a recording with pydub: normalised, stored, the raw file removed."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from hotline.audio import AudioSegment
from hotline.recordings import post_process


def tone(seconds: float, level: float) -> AudioSegment:
    """A 440 Hz sine at ``level`` of full scale, 8 kHz mono 16 bit."""
    samples = (
        int(level * 32767 * math.sin(2 * math.pi * 440 * n / 8000))
        for n in range(int(8000 * seconds))
    )
    data = b"".join(struct.pack("<h", s) for s in samples)
    return AudioSegment(data=data, sample_width=2, frame_rate=8000, channels=1)


def load(path: Path) -> AudioSegment:
    with path.open("rb") as audio:
        return AudioSegment.from_file(audio, format=path.suffix[1:])


def test_a_quiet_recording_is_normalised_and_moved(tmp_path: Path) -> None:
    raw = tmp_path / "raw.wav"
    tone(2.5, 0.03).export(raw, format="wav").close()
    target, seconds = post_process(raw, tmp_path / "kept", "1700000000.1")
    assert not raw.exists()
    assert target.parent == tmp_path / "kept" and target.stem == "1700000000.1"
    assert seconds == 2.5
    kept = load(target)
    assert kept.max_dBFS > -1.5  # brought up to 1 dB of headroom (from about -30 dB)


def test_silence_is_kept_as_it_is(tmp_path: Path) -> None:
    raw = tmp_path / "raw.wav"
    AudioSegment.silent(duration=1000, frame_rate=8000).export(raw, format="wav").close()
    target, seconds = post_process(raw, tmp_path, "silent")
    assert seconds == 1.0 and math.isinf(load(target).dBFS)
