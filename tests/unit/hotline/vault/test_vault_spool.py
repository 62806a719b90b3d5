"""The vault beside Asterisk's spool: a message Asterisk recorded is sealed and its plaintext
removed; one to be played is opened for that call only, and deleted after it (or, left by a
crash, within PLAYING_FOR); a message left in plaintext is sealed once Asterisk is done."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hotline.vault import Keys, Vault, new_key
from hotline.vault.cipher import parse_key
from hotline.vault.spool import FINISHED_AFTER, PLAYING, PLAYING_FOR, SpoolDoor

MESSAGE = "/var/spool/asterisk/hotline/notifications/482193.wav"
AUDIO = b"RIFF" + os.urandom(70_000)


def door(tmp_path: Path) -> SpoolDoor:
    keys = Keys(parse_key(new_key(), "K"))
    return SpoolDoor(Vault(keys, tmp_path / "vault"), tmp_path / "spool")


async def test_a_message_is_sealed_then_opened_for_one_call(tmp_path: Path) -> None:
    spool = door(tmp_path)
    recorded = spool.message_file(MESSAGE)
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(AUDIO)
    assert await spool.seal_message(MESSAGE)
    assert not recorded.exists()
    assert not await spool.seal_message("/var/spool/asterisk/hotline/notifications/999999.wav")

    played = await spool.open_for_call(MESSAGE.removesuffix(".wav"))  # (as a callback names it)
    assert played is not None and played.startswith(f"{PLAYING}/")
    opened = tmp_path / "spool" / played.removeprefix("/var/spool/asterisk/")
    opened = opened.with_suffix(".wav")
    assert opened.read_bytes() == AUDIO and opened.stat().st_mode & 0o777 == 0o640
    await spool.played(played)
    assert not opened.exists()
    assert await spool.open_for_call("/var/spool/asterisk/hotline/notifications/1.wav") is None


async def test_what_is_left_is_deleted_or_sealed_in_time(tmp_path: Path) -> None:
    spool = door(tmp_path)
    recorded = spool.message_file(MESSAGE)
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(AUDIO)
    assert await spool.seal_message(MESSAGE)
    played = [await spool.open_for_call(MESSAGE) for _ in range(2)]
    files = sorted(spool.playing.glob("*.wav"))
    assert len(files) == 2 and all(played)
    now = time.time()
    os.utime(files[0], (now - PLAYING_FOR - 1, now - PLAYING_FOR - 1))
    assert spool.sweep(now) == 1 and sorted(spool.playing.glob("*.wav")) == files[1:]
    spool.forget()  # a stop: what this process opened goes
    assert not list(spool.playing.glob("*.wav"))

    # a message left in plaintext (a stop while it was recorded): sealed once finished
    finished, recording = (spool.messages / f"{n}.wav" for n in ("111111", "222222"))
    for file in (finished, recording):
        file.write_bytes(AUDIO)
    os.utime(finished, (now - FINISHED_AFTER - 1, now - FINISHED_AFTER - 1))
    assert await spool.seal_leftovers(now) == 1
    assert not finished.exists() and recording.exists()
    kept = await spool.vault.open("notifications/111111.wav")
    assert kept is not None and await kept.read() == AUDIO
