"""The audit table's statements: entries written once (by id) with the call log's batches,
read by supervisors (filtered, paged), and deleted after their organisation's
``audit.days``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.events import CallEvent
from hotline.store.tables import AuditEntry
from routing.events import Accessed

AUDIT: Table = AuditEntry.__table__  # type: ignore[assignment]


def row(event: CallEvent) -> dict[str, Any]:
    """The table's row of an entry (an event of :class:`routing.events.Accessed`)."""
    fact = event.fact
    assert isinstance(fact, Accessed)
    return {
        "id": event.id,
        "at": event.at,
        "kind": fact.what,
        "by": fact.by,
        "role": fact.role,
        "operator": fact.operator,
        "scope": fact.scope,
        "organisation": fact.organisation,
        "call_id": fact.call,
        "ref": fact.ref,
        "address": fact.address,
        "detail": fact.detail,
    }


async def add(connection: AsyncConnection, entries: Sequence[CallEvent]) -> int:
    """Write the entries not written yet (a spool sent again after a crash: by id), within
    the caller's transaction; how many were new."""
    if not entries:
        return 0
    ids = [e.id for e in entries]
    known = set((await connection.execute(select(AUDIT.c.id).where(AUDIT.c.id.in_(ids)))).scalars())
    new = [row(e) for e in entries if e.id not in known]
    if new:
        await connection.execute(insert(AUDIT), new)
    return len(new)


@dataclass(frozen=True)
class AuditFilter:
    """What ``/api/audit`` may ask for; None means any."""

    #: Entries of these organisations' data only (None: every one's, and none's).
    organisation: str | None = None
    everyone: bool = False
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None
    by: str | None = None
    call: str | None = None
    ref: str | None = None


def _where(where: AuditFilter) -> list[Any]:
    found: list[Any] = []
    if not where.everyone:
        found.append(AUDIT.c.organisation == where.organisation)
    for column, value in (
        (AUDIT.c.kind, where.kind),
        (AUDIT.c.call_id, where.call),
        (AUDIT.c.ref, where.ref),
    ):
        if value is not None:
            found.append(column == value)
    if where.by is not None:  # a token's name, or an operator's id
        found.append(or_(AUDIT.c.by == where.by, AUDIT.c.operator == where.by))
    if where.since is not None:
        found.append(AUDIT.c.at >= where.since)
    if where.until is not None:
        found.append(AUDIT.c.at < where.until)
    return found


async def entries(
    engine: AsyncEngine, where: AuditFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Entries matching ``where``, newest first, and how many match in all."""
    conditions = _where(where)
    async with engine.connect() as connection:
        total = (
            await connection.execute(select(func.count()).select_from(AUDIT).where(*conditions))
        ).scalar_one()
        query = (
            select(AUDIT)
            .where(*conditions)
            .order_by(AUDIT.c.at.desc(), AUDIT.c.n.desc())
            .limit(limit)
            .offset(offset)
        )
        found = [dict(r) for r in (await connection.execute(query)).mappings()]
    return found, int(total)


async def prune(engine: AsyncEngine, cutoffs: Mapping[str | None, datetime]) -> int:
    """Delete each organisation's entries older than its cutoff (the key None: entries of
    no organisation's data, and of an organisation no longer configured); how many."""
    named = [org for org in cutoffs if org is not None]
    rules = [
        and_(AUDIT.c.organisation == org, AUDIT.c.at < at)
        for org, at in cutoffs.items()
        if org is not None
    ]
    rules.append(
        and_(
            or_(AUDIT.c.organisation.is_(None), AUDIT.c.organisation.not_in(named)),
            AUDIT.c.at < cutoffs[None],
        )
    )
    async with engine.begin() as connection:
        result = await connection.execute(delete(AUDIT).where(or_(*rules)))
    return int(result.rowcount or 0)
