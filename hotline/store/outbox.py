"""The outbox table's statements: what is due (claimed so that no two instances send one
message at once), what became of it, and how the outbox stands (for /health and /metrics).

Claiming: a message is due when it is pending, its time has come, nobody holds a live claim on
it, and no earlier message of its (channel, recipient, key) is still pending: a key's messages
leave one at a time, in the order they were written. On PostgreSQL the rows are read ``FOR
UPDATE SKIP LOCKED``: two instances claiming at the same moment never take the same row, and
neither waits for the other. A claim is a lease (``claimed_until``), longer than a send may
take: an instance that dies holding one lets the message go after it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlalchemy.orm import aliased

from hotline.outbound.outbox import OutboxMessage
from hotline.store.tables import Outbox

PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "given_up"


async def add(
    connection: AsyncConnection,
    dialect: str,
    messages: Sequence[tuple[str, OutboxMessage]],
    now: datetime,
) -> None:
    """Write ``(event id, message)`` pairs, in order, within the caller's transaction; a
    message whose id is there already is left as it is (written once, by id)."""
    if not messages:
        return
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    rows = [
        {
            "id": m.id,
            "event_id": event_id,
            "organisation": m.organisation,
            "channel": m.channel,
            "recipient": m.to,
            "key": m.key,
            "payload": m.payload,
            "state": PENDING,
            "created_at": now,
            "next_at": now,
            "attempts": 0,
        }
        for event_id, m in messages
    ]
    await connection.execute(insert(Outbox).on_conflict_do_nothing(index_elements=["id"]), rows)


@dataclass(frozen=True)
class Pending:
    """Pending messages of one organisation and channel."""

    organisation: str
    channel: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class Standing:
    """How the outbox stands: what is pending, by organisation and channel."""

    pending: list[Pending] = field(default_factory=list)


class OutboxStore:
    """The outbox's reads and writes, for the deliverer."""

    def __init__(self, engine: AsyncEngine, dialect: str) -> None:
        self.engine = engine
        self.dialect = dialect
        self.session = async_sessionmaker(engine, expire_on_commit=False)

    async def claim(
        self, me: str, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[OutboxMessageRow]:
        """Take up to ``limit`` due messages for ``lease`` (see the module's docstring)."""
        earlier = aliased(Outbox)
        blocked = (
            select(earlier.n)
            .where(
                earlier.channel == Outbox.channel,
                earlier.recipient == Outbox.recipient,
                earlier.key == Outbox.key,
                earlier.state == PENDING,
                earlier.n < Outbox.n,
            )
            .exists()
        )
        query = (
            select(Outbox)
            .where(
                Outbox.state == PENDING,
                Outbox.next_at <= now,
                or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now),
                ~blocked,
            )
            .order_by(Outbox.n)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Outbox)
        async with self.session.begin() as session:
            rows = list(await session.scalars(query))
            for row in rows:
                row.claimed_by, row.claimed_until = me, now + lease
        return [OutboxMessageRow.of(row) for row in rows]

    async def shorten_claims(self, until: datetime, keep: Collection[int] = ()) -> int:
        """End by ``until`` every live claim but those on ``keep`` (an instance that has just
        become active: the one before it can send nothing after ``until``). How many."""
        async with self.engine.begin() as connection:
            done = await connection.execute(
                update(Outbox)
                .where(
                    Outbox.state == PENDING,
                    Outbox.claimed_until > until,
                    Outbox.n.not_in(list(keep)),
                )
                .values(claimed_until=until)
            )
        return int(done.rowcount or 0)

    async def delivered(self, n: int, now: datetime) -> None:
        await self._done(n, state=DELIVERED, done_at=now, last_error=None)

    async def failed(
        self, n: int, error: str, next_at: datetime, now: datetime, give_up: bool
    ) -> None:
        """Another try failed: try again at ``next_at``, or (``give_up``) never."""
        changes: dict[str, Any] = {"last_error": error[:300], "next_at": next_at}
        if give_up:
            changes |= {"state": GIVEN_UP, "done_at": now}
        await self._done(n, **changes)

    async def _done(self, n: int, **changes: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Outbox)
                .where(Outbox.n == n, Outbox.state == PENDING)
                .values(
                    attempts=Outbox.attempts + 1,
                    claimed_by=None,
                    claimed_until=None,
                    **changes,
                )
            )

    async def standing(self) -> Standing:
        query = (
            select(Outbox.organisation, Outbox.channel, func.count(), func.min(Outbox.created_at))
            .where(Outbox.state == PENDING)
            .group_by(Outbox.organisation, Outbox.channel)
        )
        async with self.session() as session:
            found = (await session.execute(query)).all()
        return Standing(
            [Pending(org, channel, int(count), oldest) for org, channel, count, oldest in found]
        )

    async def messages(self, state: str | None = None) -> list[Outbox]:
        """Every message (of ``state``), in the order written (tests, a look by hand)."""
        query = select(Outbox).order_by(Outbox.n)
        if state is not None:
            query = query.where(Outbox.state == state)
        async with self.session() as session:
            return list(await session.scalars(query))


@dataclass(frozen=True)
class OutboxMessageRow:
    """A claimed message, as the deliverer needs it."""

    n: int
    message: OutboxMessage
    created_at: datetime
    #: Tries before this one.
    attempts: int

    @classmethod
    def of(cls, row: Outbox) -> OutboxMessageRow:
        message = OutboxMessage(
            row.id,
            row.organisation,
            row.channel,  # type: ignore[arg-type]  # (written from a Channel)
            row.recipient,
            row.key,
            row.payload,
        )
        return cls(row.n, message, row.created_at, row.attempts)
