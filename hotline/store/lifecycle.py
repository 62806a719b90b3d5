"""The call log's side of retention and erasure (hotline/lifecycle): which calls and reports
are due, and what becomes of them: their personal fields replaced (pseudonymised, or erased)
with their figures kept, or their whole record deleted; in one transaction per batch. On
SQLite the file is then checkpointed (``secure_delete`` zeroes what was replaced; the WAL is
emptied), on PostgreSQL the tables vacuumed: the old values are not left in the file."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.lifecycle.policy import (
    CALL_CLEARED,
    CALL_NUMBERS,
    PERSONAL,
    REPORT_NUMBERS,
    Replace,
    scrubbed,
)
from hotline.store.tables import (
    Call,
    Callback,
    Erasure,
    Event,
    Notification,
    Outbox,
    Recording,
)
from routing import numbers as phone_numbers

log = logging.getLogger(__name__)

#: Calls forgotten in one transaction.
BATCH = 500

#: What an erased outbox message keeps of its payload.
NO_PAYLOAD: dict[str, bool] = {"erased": True}

#: The report's own events: what forgetting a report (before its call) replaces.
REPORT_KINDS = ("notification.stored", "notification.handled", "escalation.started")


@dataclass(frozen=True)
class Kept:
    """A recording or message the call log names, still kept in the vault."""

    call_id: str
    path: str


def _of(numbers: Collection[str] | None, every: Collection[str]) -> object:
    """Calls of an organisation (the hotline numbers it has), or of none (``numbers`` None:
    dialled a number no organisation has now)."""
    if numbers is not None:
        return Call.number.in_(numbers)
    return Call.number.not_in(every) if every else Call.number.is_not(None)


def _still_open() -> object:
    """A call with a report or a callback still open: kept until they are over."""
    return or_(
        Call.id.in_(select(Notification.call_id).where(Notification.handled_at.is_(None))),
        Call.id.in_(select(Callback.call_id).where(Callback.ended_at.is_(None))),
    )


async def calls_due(
    engine: AsyncEngine,
    numbers: Collection[str] | None,
    every: Collection[str],
    before: datetime,
    limit: int = BATCH,
) -> list[str]:
    """Calls of ``numbers`` (None: of no organisation) started before ``before``, not forgotten
    yet, and with nothing open."""
    query = (
        select(Call.id)
        .where(
            _of(numbers, every),  # type: ignore[arg-type]
            Call.started_at < before,
            Call.forgotten_at.is_(None),
            ~_still_open(),  # type: ignore[operator]
        )
        .order_by(Call.started_at)
        .limit(limit)
    )
    async with engine.connect() as connection:
        return list((await connection.execute(query)).scalars())


async def calls_of(
    engine: AsyncEngine, numbers: Collection[str] | None, number: str | None, call: str | None
) -> list[str]:
    """The calls an erasure names: by ``call`` id, or every call ``number`` made, typed (a
    callback or a report's number) or left a report from; of the hotline ``numbers`` only
    (None: of every organisation)."""
    if call is not None:
        query = select(Call.id).where(Call.id == call)
    else:
        # (every form the number may have been stored in before numbers were normalised)
        forms = phone_numbers.forms(number or "")
        typed = or_(
            Call.caller.in_(forms),
            Call.callback_number.in_(forms),
            Call.id.in_(select(Callback.call_id).where(Callback.number.in_(forms))),
            Call.id.in_(
                select(Notification.call_id).where(
                    or_(Notification.number.in_(forms), Notification.caller.in_(forms))
                )
            ),
        )
        query = select(Call.id).where(typed)
    if numbers is not None:
        query = query.where(Call.number.in_(numbers))
    async with engine.connect() as connection:
        return list((await connection.execute(query.order_by(Call.started_at))).scalars())


async def numbers_of(engine: AsyncEngine, calls: Collection[str]) -> dict[str, str]:
    """The hotline number each of ``calls`` dialled (what says whose it is)."""
    query = select(Call.id, Call.number).where(Call.id.in_(calls))
    async with engine.connect() as connection:
        return {c: n for c, n in (await connection.execute(query)).all()}


async def kept_of(
    engine: AsyncEngine, calls: Collection[str], kind: str | None = None
) -> list[Kept]:
    """The recordings (``conversation``) or messages (``message``), or both, of ``calls``
    still kept."""
    query = select(Recording.call_id, Recording.path).where(
        Recording.call_id.in_(calls), Recording.deleted_at.is_(None)
    )
    if kind is not None:
        query = query.where(Recording.kind == kind)
    async with engine.connect() as connection:
        return [Kept(c, p) for c, p in (await connection.execute(query)).all()]


async def recordings_due(
    engine: AsyncEngine, numbers: Collection[str] | None, every: Collection[str], before: datetime
) -> list[Kept]:
    """The conversation recordings of the calls of ``numbers`` (None: of no organisation)
    made before ``before`` and still kept."""
    query = (
        select(Recording.call_id, Recording.path)
        .join(Call, Call.id == Recording.call_id)
        .where(
            _of(numbers, every),  # type: ignore[arg-type]
            Recording.kind == "conversation",
            Recording.deleted_at.is_(None),
            Recording.created_at < before,
        )
    )
    async with engine.connect() as connection:
        return [Kept(c, p) for c, p in (await connection.execute(query)).all()]


async def reports_due(
    engine: AsyncEngine, lines: Collection[str] | None, every: Collection[str], before: datetime
) -> list[tuple[str, str]]:
    """(ref, call) of the handled reports of ``lines`` (None: of no organisation's line) stored
    before ``before`` and not forgotten yet."""
    of = Notification.line.in_(lines) if lines is not None else Notification.line.not_in(every)
    query = select(Notification.ref, Notification.call_id).where(
        of,
        Notification.stored_at < before,
        Notification.handled_at.is_not(None),
        Notification.forgotten_at.is_(None),
    )
    async with engine.connect() as connection:
        return [(r, c) for r, c in (await connection.execute(query)).all()]


async def forget_calls(
    engine: AsyncEngine, calls: Sequence[str], mode: str, replace: Replace, at: datetime
) -> int:
    """Forget ``calls``: ``pseudonymise`` their personal fields (``replace`` says with what;
    their figures stay) or ``delete`` their whole record. Their recordings must be gone from
    the vault first (:func:`kept_of`). How many calls."""
    if not calls:
        return 0
    async with engine.begin() as connection:
        events = select(Event.id).where(Event.call_id.in_(calls))
        if mode == "delete":
            await connection.execute(delete(Outbox).where(Outbox.event_id.in_(events)))
            for table, column in (
                (Event, Event.call_id),
                (Callback, Callback.call_id),
                (Notification, Notification.call_id),
                (Recording, Recording.call_id),
            ):
                await connection.execute(delete(table).where(column.in_(calls)))
            done = await connection.execute(delete(Call).where(Call.id.in_(calls)))
            return int(done.rowcount or 0)
        await _replace_in_calls(connection, calls, replace, at)
        await _replace_in_events(connection, calls, replace, tuple(PERSONAL))
        await _replace_in_outbox(connection, calls, replace)
        rows = (
            await connection.execute(
                select(Callback.call_id, Callback.number).where(Callback.call_id.in_(calls))
            )
        ).all()
        if rows:
            await connection.execute(
                update(Callback)
                .where(Callback.call_id == bindparam("_id"))
                .values(number=bindparam("_number")),
                [{"_id": c, "_number": replace(n)} for c, n in rows],
            )
        await _replace_in_reports(connection, Notification.call_id.in_(calls), replace, at)
        await connection.execute(
            update(Recording)
            .where(Recording.call_id.in_(calls), Recording.deleted_at.is_(None))
            .values(deleted_at=at)
        )
        return len(calls)


async def forget_reports(
    engine: AsyncEngine,
    reports: Sequence[tuple[str, str]],
    mode: str,
    replace: Replace,
    at: datetime,
) -> int:
    """Forget the reports (ref, call) before their calls: their numbers and notes replaced
    (or their rows deleted), in their own events too; their messages marked deleted (gone
    from the vault first). How many."""
    if not reports:
        return 0
    refs = [r for r, _ in reports]
    calls = [c for _, c in reports]
    async with engine.begin() as connection:
        await _replace_in_events(connection, calls, replace, REPORT_KINDS)
        messages = (Recording.call_id.in_(calls), Recording.kind == "message")
        if mode == "delete":
            await connection.execute(delete(Notification).where(Notification.ref.in_(refs)))
            await connection.execute(delete(Recording).where(*messages))
        else:
            await _replace_in_reports(connection, Notification.ref.in_(refs), replace, at)
            await connection.execute(
                update(Recording)
                .where(*messages, Recording.deleted_at.is_(None))
                .values(deleted_at=at)
            )
        return len(refs)


async def _replace_in_calls(
    connection: AsyncConnection, calls: Sequence[str], replace: Replace, at: datetime
) -> None:
    rows = (
        await connection.execute(
            select(Call.id, Call.caller, Call.callback_number).where(Call.id.in_(calls))
        )
    ).all()
    if not rows:
        return
    await connection.execute(
        update(Call)
        .where(Call.id == bindparam("_id"))
        .values(
            caller=bindparam("_caller"),
            callback_number=bindparam("_callback"),
            forgotten_at=at,
            **{name: (None if name == "note" else "") for name in CALL_CLEARED},
        ),
        [
            {
                "_id": call,
                "_caller": replace(caller or ""),
                "_callback": replace(typed) if typed is not None else None,
            }
            for call, caller, typed in rows
        ],
    )
    assert CALL_NUMBERS == ("caller", "callback_number")  # (the two replaced above)


async def _replace_in_events(
    connection: AsyncConnection, calls: Sequence[str], replace: Replace, kinds: Sequence[str]
) -> None:
    rows = (
        await connection.execute(
            select(Event.n, Event.kind, Event.data).where(
                Event.call_id.in_(calls), Event.kind.in_(kinds)
            )
        )
    ).all()
    changed = [
        {"_n": n, "_data": new}
        for n, kind, data in rows
        if (new := scrubbed(kind, data, replace)) != data
    ]
    if changed:
        await connection.execute(
            update(Event).where(Event.n == bindparam("_n")).values(data=bindparam("_data")),
            changed,
        )


async def _replace_in_outbox(
    connection: AsyncConnection, calls: Sequence[str], replace: Replace
) -> None:
    """The messages the calls' events made (an SMS to a family, a webhook's payload): their
    text gone, an SMS's number replaced; the rows (their counts) stay. One not sent yet is
    never sent: given up."""
    events = select(Event.id).where(Event.call_id.in_(calls))
    rows = (
        await connection.execute(
            select(Outbox.n, Outbox.channel, Outbox.recipient).where(Outbox.event_id.in_(events))
        )
    ).all()
    if rows:
        await connection.execute(
            update(Outbox)
            .where(Outbox.n == bindparam("_n"))
            .values(payload=NO_PAYLOAD, recipient=bindparam("_to")),
            [{"_n": n, "_to": replace(to) if channel == "sms" else to} for n, channel, to in rows],
        )
        await connection.execute(
            update(Outbox)
            .where(Outbox.event_id.in_(events), Outbox.state == "pending")
            .values(state="given_up", last_error="erased", claimed_by=None, claimed_until=None)
        )


async def _replace_in_reports(
    connection: AsyncConnection, which: object, replace: Replace, at: datetime
) -> None:
    rows = (
        await connection.execute(
            select(Notification.ref, Notification.caller, Notification.number).where(which)  # type: ignore[arg-type]
        )
    ).all()
    if rows:
        await connection.execute(
            update(Notification)
            .where(Notification.ref == bindparam("_ref"))
            .values(
                caller=bindparam("_caller"),
                number=bindparam("_number"),
                note=None,
                forgotten_at=at,
            ),
            [
                {"_ref": ref, "_caller": replace(caller or ""), "_number": replace(number or "")}
                for ref, caller, number in rows
            ],
        )
    refs = [r for r, _, _ in rows]
    typed = (
        await connection.execute(
            select(Callback.call_id, Callback.number).where(Callback.notification.in_(refs))
        )
    ).all()
    if typed:
        await connection.execute(
            update(Callback)
            .where(Callback.call_id == bindparam("_id"))
            .values(number=bindparam("_number")),
            [{"_id": c, "_number": replace(n)} for c, n in typed],
        )
    assert REPORT_NUMBERS == ("caller", "number")


async def record_erasure(engine: AsyncEngine, row: Erasure) -> Erasure:
    """Keep what an erasure did (no personal data in it)."""
    async with engine.begin() as connection:
        values = {c.name: getattr(row, c.name) for c in Erasure.__table__.columns if c.name != "n"}
        await connection.execute(insert(Erasure).values(**values))
    return row


async def erasures(engine: AsyncEngine, organisation: str | None = None) -> list[Erasure]:
    """The erasures done (of ``organisation``; None: of every one), newest first."""
    query = select(Erasure).order_by(Erasure.n.desc())
    if organisation is not None:
        query = query.where(Erasure.organisation == organisation)
    async with engine.connect() as connection:
        return [Erasure(**dict(row)) for row in (await connection.execute(query)).mappings()]


async def squeeze(engine: AsyncEngine, dialect: str) -> None:
    """After a round that replaced or deleted personal data: nothing of the old values left in
    the database's files that the database itself can drop. SQLite: the WAL checkpointed
    and emptied (``secure_delete`` zeroed the old cells); PostgreSQL: the tables vacuumed
    (its WAL archive and backups keep what they keep: docs/operations.md)."""
    if dialect == "sqlite":
        async with engine.connect() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            await connection.commit()
        return
    if dialect == "postgresql":
        async with engine.connect() as connection:
            auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("calls", "events", "callbacks", "notifications", "outbox", "recordings"):
                await auto.execute(text(f"VACUUM {table}"))
