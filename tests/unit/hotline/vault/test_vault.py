"""The vault on a real disk and the machine's real PostgreSQL: a file sealed (synced) before
its plaintext goes; read back whole or in part; a tampered one refused; deleted everywhere,
a copy still waiting on an instance cut off from the database included; every file sealed
again by a key rotation, the running service's way and `hotline vault rotate`'s."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.store.db import Store
from hotline.store.tables import VaultChunk, VaultDeleted, VaultFile
from hotline.store.vault import SharedVault
from hotline.vault import Keys, Tampered, UnknownKey, Vault, name_of, new_key
from hotline.vault.cipher import CHUNK, HEADER_SIZE, parse_key
from tests.conftest import postgres_database

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
KEY_A, KEY_B = new_key(), new_key()
AUDIO = b"RIFF" + os.urandom(3 * CHUNK + 1000)  # (random: no run of it repeats by chance)


def keys(current: str, *old: str) -> Keys:
    return Keys(parse_key(current, "K"), [parse_key(k, "K") for k in old])


def test_names_of_what_the_service_keeps() -> None:
    for path, name in [
        ("/var/spool/asterisk/hotline/notifications/482193.wav", "notifications/482193.wav"),
        ("/var/spool/asterisk/hotline/notifications/482193", "notifications/482193.wav"),
        ("recordings/2026/11/25/1795712189.0.mp3", "recordings/2026/11/25/1795712189.0.mp3"),
        ("data/recordings/2026/11/25/1795712189.0.wav", "recordings/2026/11/25/1795712189.0.wav"),
        ("/srv/hotline/data/recordings/2026/11/25/17.1.mp3", "recordings/2026/11/25/17.1.mp3"),
    ]:
        assert name_of(path) == name
    for bad in ("/etc/passwd", "recordings/../../etc/passwd", "notifications/.hidden", ""):
        with pytest.raises(ValueError):
            name_of(bad)


async def test_a_file_is_sealed_before_its_plaintext_goes_and_reads_back(tmp_path: Path) -> None:
    vault = Vault(keys(KEY_A), tmp_path / "vault", clock=lambda: T0)
    raw = tmp_path / "spool" / "482193.wav"
    raw.parent.mkdir()
    raw.write_bytes(AUDIO)
    await vault.put_file("notifications/482193.wav", raw)
    assert not raw.exists()
    kept = tmp_path / "vault/notifications/482193.wav"
    on_disk = kept.read_bytes()
    assert not on_disk.startswith(b"RIFF") and AUDIO[100:200] not in on_disk
    assert kept.stat().st_mode & 0o777 == 0o600

    opened = await vault.open("/var/spool/asterisk/hotline/notifications/482193.wav")
    assert opened is not None and opened.size == len(AUDIO)
    await opened.verify()
    assert await opened.read() == AUDIO
    # a range across two chunks, as a player seeking asks for it
    part = b"".join([p async for p in opened.stream(CHUNK - 10, 2 * CHUNK + 9)])
    assert part == AUDIO[CHUNK - 10 : 2 * CHUNK + 10]
    assert await vault.names("notifications/") == [("notifications/482193.wav", T0)]

    # a bit changed on disk: refused, whole, before anything is streamed
    data = bytearray(on_disk)
    data[HEADER_SIZE + 2 * (CHUNK + 28) + 40] ^= 1
    kept.write_bytes(bytes(data))
    tampered = await vault.open("notifications/482193.wav")
    assert tampered is not None
    with pytest.raises(Tampered):
        await tampered.verify()

    assert await vault.delete("notifications/482193.wav")
    assert not kept.exists() and await vault.open("notifications/482193.wav") is None
    assert not await vault.delete("notifications/482193.wav")


async def test_a_deletion_takes_the_plaintext_left_from_before_the_vault(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    vault = Vault(keys(KEY_A), tmp_path / "vault", asterisk_spool=spool)
    message = spool / "hotline/notifications/111111.wav"
    legacy = tmp_path / "data/recordings/2026/11/25/1.1.wav"
    for plain in (message, legacy):
        plain.parent.mkdir(parents=True)
        plain.write_bytes(AUDIO)
    assert await vault.delete("/var/spool/asterisk/hotline/notifications/111111.wav")
    assert await vault.delete(str(legacy))
    assert not message.exists() and not legacy.exists()


async def test_a_rotation_seals_everything_under_the_new_key(tmp_path: Path) -> None:
    before = Vault(keys(KEY_A), tmp_path / "vault", clock=lambda: T0)
    for n in range(3):
        await before.put_bytes(f"recordings/2026/11/25/{n}.wav", AUDIO[: 1000 * (n + 1)])
    # the new key in place, the old one still given: everything reads
    during = Vault(keys(KEY_B, KEY_A), tmp_path / "vault")
    for n in range(3):
        found = await during.open(f"recordings/2026/11/25/{n}.wav")
        assert found is not None and await found.read() == AUDIO[: 1000 * (n + 1)]
    await during.delete("recordings/2026/11/25/2.wav")
    done = await during.rotate()
    assert (done.here, done.failed) == (2, [])
    assert (await during.rotate()).here == 0  # nothing left under the old key
    # the old key gone: all of it still reads; with the old key alone, nothing does
    after = Vault(keys(KEY_B), tmp_path / "vault")
    old_only = Vault(keys(KEY_A), tmp_path / "vault")
    for n in range(2):
        found = await after.open(f"recordings/2026/11/25/{n}.wav")
        assert found is not None and await found.read() == AUDIO[: 1000 * (n + 1)]
        assert found.header.made_at == T0  # (when it was made: what retention goes by)
        stale = await old_only.open(f"recordings/2026/11/25/{n}.wav")
        assert stale is not None
        with pytest.raises(UnknownKey):
            await stale.verify()
    assert await after.open("recordings/2026/11/25/2.wav") is None  # not brought back


@pytest.fixture
def shared_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
async def store(shared_url: str) -> AsyncIterator[Store]:
    found = Store(shared_url)
    await found.upgrade()
    yield found
    await found.close()


async def rows(store: Store, table: type) -> int:
    async with store.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def test_two_instances_share_one_copy_and_a_deletion_reaches_every_one(
    tmp_path: Path, store: Store
) -> None:
    """a seals a recording and shares it: b reads it (a's folder empty). A copy a sealed while
    cut off from the database is still in a's folder when b deletes it: the database says so
    when a can share again, and a drops it. A name used again after that is a new file."""
    clock = [T0]
    a = Vault(keys(KEY_A), tmp_path / "a", SharedVault(store.engine, "a"), lambda: clock[0])
    b = Vault(keys(KEY_A), tmp_path / "b", SharedVault(store.engine, "b"), lambda: clock[0])
    await a.put_bytes("recordings/2026/11/25/1.1.wav", AUDIO)
    assert await a.share() == 1 and a.folder.names() == []
    found = await b.open("recordings/2026/11/25/1.1.wav")
    assert found is not None and await found.read() == AUDIO
    assert await b.names("recordings/") == [("recordings/2026/11/25/1.1.wav", T0)]
    async with store.engine.connect() as connection:
        stored = b"".join((await connection.scalars(select(VaultChunk.data))).all())
    assert AUDIO[100:200] not in stored  # the database holds no audio anyone can hear

    await a.put_bytes("notifications/482193.wav", AUDIO[:5000])  # not shared yet (cut off)
    clock[0] = T0 + timedelta(days=31)
    assert await b.delete("recordings/2026/11/25/1.1.wav")
    assert not await b.delete("notifications/482193.wav")  # (nowhere b can see: yet)
    assert await a.open("recordings/2026/11/25/1.1.wav") is None
    assert await a.share() == 1  # dropped, not shared
    assert a.folder.names() == [] and await b.open("notifications/482193.wav") is None
    assert (await rows(store, VaultFile), await rows(store, VaultChunk)) == (0, 0)
    assert await rows(store, VaultDeleted) == 2  # (the names only)
    await b.shared.vacuum()  # type: ignore[union-attr]

    clock[0] += timedelta(minutes=1)
    await a.put_bytes("notifications/482193.wav", b"a new message under an old name")
    assert await a.share() == 1
    again = await b.open("notifications/482193.wav")
    assert again is not None and await again.read() == b"a new message under an old name"


async def test_a_rotation_of_the_shared_files_and_a_tampered_row(
    tmp_path: Path, store: Store
) -> None:
    a = Vault(keys(KEY_A), tmp_path / "a", SharedVault(store.engine, "a"))
    for n in range(3):
        await a.put_bytes(f"recordings/2026/11/25/{n}.wav", AUDIO)
    await a.share()
    rotated = Vault(keys(KEY_B, KEY_A), tmp_path / "a", SharedVault(store.engine, "a"))
    done = await rotated.rotate()
    assert (done.here, done.shared, done.failed) == (0, 3, [])
    b = Vault(keys(KEY_B), tmp_path / "b", SharedVault(store.engine, "b"))
    for n in range(3):
        found = await b.open(f"recordings/2026/11/25/{n}.wav")
        assert found is not None and await found.read() == AUDIO
    async with store.engine.begin() as connection:
        data = await connection.scalar(
            select(VaultChunk.data).where(VaultChunk.name == "recordings/2026/11/25/0.wav")
        )
        changed = bytes([data[0] ^ 1]) + data[1:]
        await connection.execute(
            VaultChunk.__table__.update()
            .where(VaultChunk.name == "recordings/2026/11/25/0.wav", VaultChunk.n == 0)
            .values(data=changed)
        )
    found = await b.open("recordings/2026/11/25/0.wav")
    assert found is not None
    with pytest.raises(Tampered):
        await found.verify()


def test_the_rotate_command_on_a_folder_and_the_shared_database(
    tmp_path: Path, shared_url: str
) -> None:
    """`hotline vault rotate` as a process, with a standby's settings: what this instance
    still holds and what the database holds, sealed again; run again: nothing left."""

    async def before() -> None:
        store = Store(shared_url)
        await store.upgrade()
        old = Vault(keys(KEY_A), tmp_path / "data/vault", SharedVault(store.engine, "a"))
        await old.put_bytes("recordings/2026/11/25/1.wav", AUDIO)
        await old.share()
        await old.put_bytes("notifications/482193.wav", AUDIO[:7000])  # still here only
        await store.close()

    asyncio.run(before())
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOTLINE_DATABASE_URL": shared_url,
        "HOTLINE_HA": "true",
        "HOTLINE_INSTANCE": "a",
        "HOTLINE_ASTERISK_SPOOL": str(tmp_path / "spool"),
        "HOTLINE_RECORDINGS_KEY": KEY_B,
        "HOTLINE_RECORDINGS_OLD_KEYS": KEY_A,
    }
    command = [sys.executable, "-m", "hotline.cli", "vault", "rotate"]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "sealed again under the current key: 1 in " in done.stdout
    assert ", 1 in the shared database" in done.stdout
    assert "2 file(s), all under the current key" in done.stdout
    assert KEY_A not in done.stdout + done.stderr and KEY_B not in done.stdout + done.stderr

    del env["HOTLINE_RECORDINGS_OLD_KEYS"]
    again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "0 in" in again.stdout and "all under the current key" in again.stdout
    # a key missing: a usage error naming it
    env["HOTLINE_RECORDINGS_KEY"] = "too short"
    bad = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "HOTLINE_RECORDINGS_KEY" in bad.stderr, bad.stderr
