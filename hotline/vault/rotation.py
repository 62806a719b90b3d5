"""`hotline vault rotate`: everything sealed again under the current key, and what is still
in plaintext from before the vault sealed; then which keys are still needed."""

from __future__ import annotations

import asyncio
from collections import Counter

from hotline.calls.recordings import seal_plaintext
from hotline.config.settings import Settings
from hotline.store.db import Store
from hotline.store.vault import SharedVault
from hotline.vault.cipher import Keys, VaultError
from hotline.vault.spool import SpoolDoor
from hotline.vault.vault import Vault


async def rotate(settings: Settings) -> tuple[list[str], bool]:
    """Rotate this instance's vault (and the shared one with HOTLINE_HA); what to print, and
    whether some file could not be sealed again. ValueError: a key missing or malformed."""
    keys = Keys.from_environment(
        settings.recordings_key.get_secret_value(),
        settings.recordings_old_keys.get_secret_value(),
    )
    store = Store(settings.database())
    try:
        shared = None
        if settings.ha:
            await store.ping()  # (a clear error now rather than one per file)
            shared = SharedVault(store.engine, settings.instance_name())
        folder, spool = settings.vault_folder(), settings.spool_of_asterisk()
        vault = Vault(keys, folder, shared, asterisk_spool=spool)
        lines: list[str] = []
        sealed = await SpoolDoor(vault, spool).seal_leftovers()
        try:
            sealed += await seal_plaintext(store, vault)
        except Exception as exc:  # (no call log yet: nothing recorded before the vault)
            lines.append(f"the call log could not be read for older recordings: {exc}")
        if sealed:
            lines.append(f"sealed {sealed} recording(s) or message(s) kept in plaintext before")
        done = await vault.rotate()
        where = f"{done.here} in {folder}" + (
            f", {done.shared} in the shared database" if shared else ""
        )
        lines.append(f"sealed again under the current key: {where}")
        lines += [f"NOT sealed again: {failure}" for failure in done.failed]
        lines.append(await _keys_in_use(vault, shared))
        return lines, bool(done.failed)
    finally:
        await store.close()


async def _keys_in_use(vault: Vault, shared: SharedVault | None) -> str:
    """Which keys the files are sealed under now."""
    current = vault.keys.current_id.hex()

    def here() -> Counter[str]:
        found: Counter[str] = Counter()
        for name in vault.folder.names():
            try:
                header = vault.folder.header(name)
            except VaultError:
                found["unreadable"] += 1
                continue
            if header is not None:
                found[header.key_id.hex()] += 1
        return found

    counts = await asyncio.to_thread(here)
    if shared is not None:
        counts.update(await shared.count_by_key())
    older = sum(n for kid, n in counts.items() if kid != current)
    if not older:
        return (
            f"{counts[current]} file(s), all under the current key ({current}): "
            "HOTLINE_RECORDINGS_OLD_KEYS may go"
        )
    rest = ", ".join(f"{kid}: {n}" for kid, n in sorted(counts.items()) if kid != current)
    return f"{older} file(s) still under older keys ({rest}): keep those keys"
