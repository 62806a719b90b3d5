"""The vault's files in the shared PostgreSQL (HOTLINE_HA): sealed, so the database holds no
audio anyone can hear without the key. Whichever instance is active reads them; a deletion
is one transaction that every instance sees, and leaves the name (only) in ``vault_deleted``
so that a copy still waiting on an instance cut off from the database is dropped there.

Each name's writes and deletions take a transaction-scoped advisory lock on the name: an
upload and a deletion of one name never interleave (a deletion never lost to an upload that
checked a moment before it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.store.tables import VaultChunk, VaultDeleted, VaultFile
from hotline.vault.cipher import Header


async def _lock(connection: AsyncConnection, name: str) -> None:
    await connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 7012))"), {"name": name}
    )


class SharedVault:
    """Sealed files in the shared database, by name."""

    def __init__(self, engine: AsyncEngine, instance: str) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the shared vault needs PostgreSQL (HOTLINE_HA)")
        self.engine = engine
        self.instance = instance

    async def put(self, name: str, header: Header, chunks: Sequence[bytes]) -> bool:
        """Keep a sealed file (replacing one of that name), unless it was deleted after it
        was made: then False, and nothing is kept."""
        async with self.engine.begin() as connection:
            await _lock(connection, name)
            deleted = await connection.scalar(
                select(VaultDeleted.deleted_at).where(VaultDeleted.name == name)
            )
            if deleted is not None and deleted >= header.made_at:
                return False
            if deleted is not None:  # a name used again after a deletion: a new file
                await connection.execute(delete(VaultDeleted).where(VaultDeleted.name == name))
            await self._write(connection, name, header, chunks)
            await connection.execute(
                insert(VaultFile).values(
                    name=name,
                    header=header.pack(),
                    key_id=header.key_id.hex(),
                    made_at=header.made_at,
                    stored_at=datetime.now(UTC),
                    instance=self.instance,
                )
            )
        return True

    async def _write(
        self, connection: AsyncConnection, name: str, header: Header, chunks: Sequence[bytes]
    ) -> None:
        await connection.execute(delete(VaultChunk).where(VaultChunk.name == name))
        await connection.execute(delete(VaultFile).where(VaultFile.name == name))
        if chunks:
            await connection.execute(
                insert(VaultChunk),
                [{"name": name, "n": n, "data": c} for n, c in enumerate(chunks)],
            )

    async def header(self, name: str) -> Header | None:
        async with self.engine.connect() as connection:
            raw = await connection.scalar(select(VaultFile.header).where(VaultFile.name == name))
        return Header.unpack(raw) if raw is not None else None

    async def chunks(self, name: str, indexes: range) -> list[bytes]:
        """The sealed chunks ``indexes`` of ``name`` (fewer if some are missing: opening them
        says so)."""
        query = (
            select(VaultChunk.data)
            .where(
                VaultChunk.name == name,
                VaultChunk.n >= indexes.start,
                VaultChunk.n < indexes.stop,
            )
            .order_by(VaultChunk.n)
        )
        async with self.engine.connect() as connection:
            return list((await connection.scalars(query)).all())

    async def delete(self, name: str, at: datetime) -> bool:
        """Delete ``name`` for every instance; whether it was kept here."""
        async with self.engine.begin() as connection:
            await _lock(connection, name)
            await connection.execute(delete(VaultChunk).where(VaultChunk.name == name))
            gone = await connection.execute(delete(VaultFile).where(VaultFile.name == name))
            before = await connection.scalar(
                select(VaultDeleted.deleted_at).where(VaultDeleted.name == name)
            )
            if before is None:
                await connection.execute(insert(VaultDeleted).values(name=name, deleted_at=at))
            elif before < at:
                await connection.execute(
                    update(VaultDeleted).where(VaultDeleted.name == name).values(deleted_at=at)
                )
        return bool(gone.rowcount)

    async def names(self) -> list[tuple[str, str, datetime]]:
        """Every file kept: its name, key id (hex) and when it was made."""
        query = select(VaultFile.name, VaultFile.key_id, VaultFile.made_at).order_by(VaultFile.name)
        async with self.engine.connect() as connection:
            return [(r.name, r.key_id, r.made_at) for r in await connection.execute(query)]

    async def count_by_key(self) -> dict[str, int]:
        query = select(VaultFile.key_id, func.count()).group_by(VaultFile.key_id)
        async with self.engine.connect() as connection:
            return {kid: n for kid, n in (await connection.execute(query)).tuples()}

    async def replace(
        self, name: str, was: Header, header: Header, chunks: Sequence[bytes]
    ) -> bool:
        """Keep ``name`` sealed anew (a rotation) if it is still as ``was`` says; whether it
        was replaced (not: deleted or changed meanwhile)."""
        async with self.engine.begin() as connection:
            await _lock(connection, name)
            raw = await connection.scalar(select(VaultFile.header).where(VaultFile.name == name))
            if raw is None or Header.unpack(raw) != was:
                return False
            row = (await connection.execute(select(VaultFile).where(VaultFile.name == name))).one()
            await self._write(connection, name, header, chunks)
            await connection.execute(
                insert(VaultFile).values(
                    name=name,
                    header=header.pack(),
                    key_id=header.key_id.hex(),
                    made_at=header.made_at,
                    stored_at=row.stored_at,
                    instance=row.instance,
                )
            )
        return True

    async def vacuum(self) -> None:
        """Have PostgreSQL drop the deleted chunks' rows now (autovacuum would, later): their
        pages are then free for new data. What is left until it is overwritten is sealed, and
        unreadable once the key it was sealed under is gone (docs/operations.md: rotation)."""
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM vault_chunks"))
            await autocommit.execute(text("VACUUM vault_files"))
