"""Alembic's entry point. The service runs migrations itself (``hotline db upgrade``, or at
start), handing over an open connection; plain ``alembic`` commands get one from the
settings (HOTLINE_DATABASE_URL)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from hotline.store.tables import Base


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    from hotline.config.settings import Settings
    from hotline.store.db import Store

    store = Store(Settings().database())
    async with store.engine.begin() as connection:
        await connection.run_sync(run)
    await store.close()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    asyncio.run(run_from_settings())
