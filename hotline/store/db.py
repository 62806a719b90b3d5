"""The call log's database: one URL picks SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from hotline.events import CallEvent
from hotline.outbound.outbox import Composer, compose
from hotline.store import audit, outbox
from hotline.store.projection import EVENTS, Rows, event_row
from hotline.store.tables import (
    ApiSession,
    ApiToken,
    Call,
    Callback,
    Event,
    Notification,
    NotificationRef,
    OperatorChange,
    Recording,
)
from routing import numbers as phone_numbers
from routing.events import ENDINGS, Accessed

MIGRATIONS = Path(__file__).parent / "migrations"

#: Seconds to wait for the database before calling it unreachable.
TIMEOUT = 5.0


class DatabaseError(Exception):
    """The database cannot be used; the message says why, without a traceback."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


#: The ``outcome`` filter of a call this version knows no outcome of (another version's).
OTHER = "other"


@dataclass(frozen=True)
class CallFilter:
    """What ``/api/calls`` may ask for; None means any."""

    since: datetime | None = None
    until: datetime | None = None
    line: str | None = None
    #: One of :data:`routing.events.ENDINGS`, or ``other``: any that is none of them (a
    #: value written by another version).
    outcome: str | None = None
    operator: str | None = None
    caller: str | None = None
    number: str | None = None
    sip_call_id: str | None = None
    #: Calls to these numbers only (an organisation's).
    numbers: frozenset[str] | None = None


def _latest_states(*where: Any) -> Any:
    """Each operator's latest state change (among those ``where`` says)."""
    latest = (
        select(OperatorChange.operator, func.max(OperatorChange.n).label("n"))
        .where(*where)
        .group_by(OperatorChange.operator)
        .subquery()
    )
    return select(OperatorChange).join(latest, OperatorChange.n == latest.c.n)


class Store:
    """Async access to the call log tables. ``composers`` make the outbox's messages of the
    events written (:mod:`hotline.outbound.outbox`), in the same transaction."""

    def __init__(self, url: str, composers: Sequence[Composer] = ()) -> None:
        parsed = make_url(url)
        self.url = url
        self.composers = list(composers)
        #: Told after a transaction wrote messages to the outbox (the deliverer wakes).
        self.on_outboxed: Callable[[], None] | None = None
        self.dialect = parsed.get_backend_name()
        args: dict[str, Any] = {"timeout": TIMEOUT}
        if self.dialect == "postgresql":
            args["command_timeout"] = 30
        if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        self.engine: AsyncEngine = create_async_engine(
            url, connect_args=args, pool_pre_ping=True, pool_recycle=300
        )
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pinged: tuple[float, bool, str | None] = (float("-inf"), False, None)

    def describe(self) -> str:
        """The URL without its password, for logs and /health."""
        return make_url(self.url).render_as_string(hide_password=True)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- schema ----------------------------------------------------------------------------
    async def upgrade(self) -> str:
        """Bring the schema to the newest migration; returns the revision now in place."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)
            revision: str = await conn.run_sync(_revision)
        return revision

    async def is_current(self) -> bool:
        async with self.engine.connect() as conn:
            current = await conn.run_sync(_revision)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        return current == head

    async def ping(self, timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def reachable(self, every: float = 2.0) -> tuple[bool, str | None]:
        """Whether the database answers now (asked at most every ``every`` seconds)."""
        now = time.monotonic()
        if now - self._pinged[0] >= every:
            try:
                await self.ping(timeout=2.0)
                self._pinged = (now, True, None)
            except Exception as exc:
                self._pinged = (now, False, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        return self._pinged[1], self._pinged[2]

    # -- writing ---------------------------------------------------------------------------
    async def write(self, events: Sequence[CallEvent]) -> int:
        """Store the events not stored yet, and what they change; returns how many were new.
        One transaction; a handful of statements whatever the batch's size."""
        # the audit trail's entries come through the spool too, but are no call's step:
        # their own table, never a call's timeline, the outbox or the projections
        accesses = [e for e in events if isinstance(e.fact, Accessed)]
        events = [e for e in events if not isinstance(e.fact, Accessed)]
        async with self.engine.begin() as connection:
            entered = await audit.add(connection, accesses)
            ids = [e.id for e in events]
            known = set(
                (await connection.execute(select(Event.id).where(Event.id.in_(ids)))).scalars()
            )
            new = [e for e in events if e.id not in known]
            if not new:
                return entered
            await connection.execute(insert(EVENTS), [event_row(e) for e in new])
            rows = await Rows.load(connection, new)
            for e in new:
                rows.apply(e)
            await rows.save(connection)
            # what the events send (SMS, e-mail, webhooks) is durable exactly when they are:
            # an event written once makes its messages once
            messages = compose(self.composers, new)
            await outbox.add(connection, self.dialect, messages, datetime.now(UTC))
        if messages and self.on_outboxed is not None:
            self.on_outboxed()
        return entered + len(new)

    async def reserve_references(
        self, candidates: Sequence[str], instance: str, at: datetime
    ) -> list[str]:
        """Reserve for ``instance`` those of ``candidates`` that nobody reserved before: the
        primary key decides (of two instances inserting one at once, PostgreSQL lets one
        have it and makes the other wait, then do nothing); the ones reserved, in order."""
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        table = NotificationRef.__table__
        got = []
        async with self.engine.begin() as connection:
            for ref in candidates:
                statement = (
                    dialect.insert(table)
                    .values(ref=ref, instance=instance, reserved_at=at)
                    .on_conflict_do_nothing()
                    .returning(table.c.ref)
                )
                if (await connection.execute(statement)).scalar() is not None:
                    got.append(ref)
        return got

    # -- reading ---------------------------------------------------------------------------
    async def calls(
        self, where: CallFilter, limit: int = 100, offset: int = 0
    ) -> tuple[list[Call], int]:
        """Calls matching ``where``, newest first, and how many match in all."""
        query = select(Call)
        for column, value in (
            (Call.line, where.line),
            (Call.outcome, None if where.outcome == OTHER else where.outcome),
            (Call.operator, where.operator),
            (Call.number, where.number),
            (Call.sip_call_id, where.sip_call_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.outcome == OTHER:
            query = query.where(Call.outcome.is_not(None), Call.outcome.not_in(ENDINGS))
        if where.caller is not None:  # (rows stored before numbers were normalised too)
            query = query.where(Call.caller.in_(phone_numbers.forms(where.caller)))
        if where.numbers is not None:
            query = query.where(Call.number.in_(where.numbers))
        if where.since is not None:
            query = query.where(Call.started_at >= where.since)
        if where.until is not None:
            query = query.where(Call.started_at < where.until)
        async with self.session() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            page = await session.scalars(
                query.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit).offset(offset)
            )
            return list(page), int(total or 0)

    async def call(self, call_id: str) -> tuple[Call, list[Event]] | None:
        async with self.session() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return None
            events = await session.scalars(
                select(Event).where(Event.call_id == call_id).order_by(Event.n)
            )
            return call, list(events)

    async def notification_events(
        self, ref: str, call_id: str, since: datetime, kinds: Sequence[str]
    ) -> list[Event]:
        """The events of ``kinds`` since ``since`` on the call that left notification ``ref``
        and on the calls made to call it back, in order."""
        callbacks = select(Callback.call_id).where(Callback.notification == ref)
        query = (
            select(Event)
            .where(
                or_(Event.call_id == call_id, Event.call_id.in_(callbacks)),
                Event.at >= since,
                Event.kind.in_(kinds),
            )
            .order_by(Event.n)
        )
        async with self.session() as session:
            return list(await session.scalars(query))

    async def latest_operator_states(self) -> list[OperatorChange]:
        """Each operator's latest state change, whenever it was (by the order they were
        written: instances' clocks may differ)."""
        async with self.session() as session:
            return list(await session.scalars(_latest_states()))

    async def open_callbacks(self) -> list[tuple[Callback, Call, Notification | None]]:
        """The callbacks not over yet, oldest first, with their calls (and notifications): what
        a standby taking over must go on making."""
        query = (
            select(Callback, Call, Notification)
            .join(Call, Call.id == Callback.call_id)
            .outerjoin(Notification, Notification.ref == Callback.notification)
            .where(Callback.ended_at.is_(None))
            .order_by(Callback.requested_at)
        )
        async with self.session() as session:
            return [(cb, call, n) for cb, call, n in (await session.execute(query)).all()]

    async def shared_notifications(self, known_open: Collection[str]) -> list[Notification]:
        """The notifications open in the database, and those of ``known_open`` (open here)
        whatever their state: what an instance taking over must know of them."""
        query = (
            select(Notification)
            .where(or_(Notification.handled_at.is_(None), Notification.ref.in_(known_open)))
            .order_by(Notification.stored_at)
        )
        async with self.session() as session:
            return list(await session.scalars(query))

    async def reports(
        self, since: datetime, until: datetime
    ) -> list[tuple[Notification, list[Event]]]:
        """Detention reports stored in [since, until), each with its calls to people on duty
        and its acceptance (``escalation.ringing`` and ``.accepted`` events), for the
        statistics."""
        query = select(Notification).where(
            Notification.stored_at >= since, Notification.stored_at < until
        )
        async with self.session() as session:
            found = list(await session.scalars(query.order_by(Notification.stored_at)))
            calls = {n.call_id for n in found}
            events = await session.scalars(
                select(Event)
                .where(
                    Event.call_id.in_(calls),
                    Event.kind.in_(("escalation.ringing", "escalation.accepted")),
                )
                .order_by(Event.n)
            )
            by_ref: dict[str, list[Event]] = {}
            for e in events:
                by_ref.setdefault(str(e.data.get("ref")), []).append(e)
        return [(n, by_ref.get(n.ref, [])) for n in found]

    async def open_escalations(self) -> list[Event]:
        """The escalation events of every open report (on its call), in order: what an
        instance taking over goes on with."""
        open_calls = select(Notification.call_id).where(Notification.handled_at.is_(None))
        query = (
            select(Event)
            .where(Event.call_id.in_(open_calls), Event.kind.startswith("escalation."))
            .order_by(Event.n)
        )
        async with self.session() as session:
            return list(await session.scalars(query))

    async def shelter_events(self) -> list[Event]:
        """Every office's shelter events (``office.shelter``, ``office.shelter_ended``), in
        order: which offices an instance taking over finds in shelter."""
        return await self._events_of("office.shelter")

    async def announcement_events(self) -> list[Event]:
        """Every line's announcement events (``line.announcement``, ``_removed``), in order:
        which announcements an instance taking over plays."""
        return await self._events_of("line.announcement")

    async def _events_of(self, kinds: str) -> list[Event]:
        """The events of no call whose kind begins with ``kinds``, in order."""
        query = (
            select(Event)
            .where(Event.call_id.is_(None), Event.kind.startswith(kinds))
            .order_by(Event.n)
        )
        async with self.session() as session:
            return list(await session.scalars(query))

    async def last_reload(self) -> Event | None:
        """The latest ``config.reloaded`` event of any instance (None: none yet)."""
        query = (
            select(Event)
            .where(Event.call_id.is_(None), Event.kind == "config.reloaded")
            .order_by(Event.n.desc())
            .limit(1)
        )
        async with self.session() as session:
            return await session.scalar(query)

    async def calls_from(
        self, caller: str, since: datetime, but: str = "", limit: int = 20
    ) -> list[Call]:
        """The calls from ``caller`` (E.164, or as it came if it is no number) since ``since``
        (but ``but``), newest first; rows logged before numbers were normalised, in the form
        the carrier sent then (380..., 0...), are found too."""
        query = (
            select(Call)
            .where(
                Call.caller.in_(phone_numbers.forms(caller)),
                Call.started_at >= since,
                Call.id != but,
            )
            .order_by(Call.started_at.desc())
            .limit(limit)
        )
        async with self.session() as session:
            return list(await session.scalars(query))

    async def queued_calls(
        self, since: datetime, until: datetime, line: str | None = None
    ) -> list[Call]:
        """Calls that joined a queue in [since, until), for the statistics."""
        query = select(Call).where(Call.queued_at >= since, Call.queued_at < until)
        if line is not None:
            query = query.where(Call.line == line)
        async with self.session() as session:
            return list(await session.scalars(query.order_by(Call.queued_at)))

    async def operator_changes(self, since: datetime, until: datetime) -> list[OperatorChange]:
        """Operators' state changes before ``until``: those since ``since``, and each
        operator's last one before it (where they stood when the period began)."""
        async with self.session() as session:
            before = await session.scalars(_latest_states(OperatorChange.at < since))
            during = await session.scalars(
                select(OperatorChange)
                .where(OperatorChange.at >= since, OperatorChange.at < until)
                .order_by(OperatorChange.n)
            )
            return [*before, *during]

    async def open_calls(self) -> list[str]:
        """Ids of the calls with no outcome that wait for no callback: under way, as far as the
        log knows."""
        query = select(Call.id).where(Call.outcome.is_(None), Call.callback_number.is_(None))
        async with self.session() as session:
            return list(await session.scalars(query))

    async def recording(self, call_id: str) -> Recording | None:
        """The conversation recording of a call (deleted ones included)."""
        query = select(Recording).where(
            Recording.call_id == call_id, Recording.kind == "conversation"
        )
        async with self.session() as session:
            return (await session.scalars(query.order_by(Recording.n.desc()))).first()

    async def recordings_before(self, cutoff: datetime) -> list[Recording]:
        """Conversation recordings made before ``cutoff`` and not deleted yet."""
        query = select(Recording).where(
            Recording.kind == "conversation",
            Recording.deleted_at.is_(None),
            Recording.created_at < cutoff,
        )
        async with self.session() as session:
            return list(await session.scalars(query))

    async def recordings_kept(self) -> list[Recording]:
        """Conversation recordings not deleted."""
        query = select(Recording).where(
            Recording.kind == "conversation", Recording.deleted_at.is_(None)
        )
        async with self.session() as session:
            return list(await session.scalars(query))

    # -- tokens ----------------------------------------------------------------------------
    # -- the audit trail ------------------------------------------------------------------
    async def audit(
        self, where: audit.AuditFilter, limit: int = 100, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Audit entries matching ``where``, newest first, and how many match in all."""
        return await audit.entries(self.engine, where, limit, offset)

    async def prune_audit(self, cutoffs: dict[str | None, datetime]) -> int:
        """Delete the audit entries older than their organisation's cutoff; how many."""
        return await audit.prune(self.engine, cutoffs)

    async def add_accesses(self, entries: Sequence[CallEvent]) -> int:
        """Write audit entries straight to the database (a command such as ``hotline
        erase``, which has no spool of its own: :func:`hotline.store.trail.erasure` makes them);
        how many were new."""
        async with self.engine.begin() as connection:
            return await audit.add(connection, entries)

    async def add_token(self, token: ApiToken) -> ApiToken:
        async with self.session.begin() as session:
            session.add(token)
        return token

    async def tokens(self, include_revoked: bool = False) -> list[ApiToken]:
        query = select(ApiToken).order_by(ApiToken.id)
        if not include_revoked:
            query = query.where(ApiToken.revoked_at.is_(None))
        async with self.session() as session:
            return list(await session.scalars(query))

    async def tokens_used(self, used: Mapping[str, datetime]) -> None:
        """Note when each token (by its hash) was last presented, in one transaction."""
        async with self.session.begin() as session:
            for digest, at in used.items():
                await session.execute(
                    update(ApiToken).where(ApiToken.hash == digest).values(last_used_at=at)
                )

    async def revoke_token(self, token_id: int, at: datetime) -> ApiToken | None:
        async with self.session.begin() as session:
            token = await session.get(ApiToken, token_id)
            if token is not None and token.revoked_at is None:
                token.revoked_at = at
            return token

    # -- browser sessions ------------------------------------------------------------------
    async def add_session(self, row: ApiSession) -> None:
        async with self.session.begin() as session:
            session.add(row)

    async def api_session(self, digest: str) -> ApiSession | None:
        async with self.session() as session:
            return await session.get(ApiSession, digest)

    async def end_session(self, digest: str, at: datetime) -> None:
        async with self.session.begin() as session:
            row = await session.get(ApiSession, digest)
            if row is not None and row.ended_at is None:
                row.ended_at = at


def _private_file(path: Path) -> None:
    """The SQLite file (and so its -wal and -shm, which SQLite makes with its mode) readable by
    the service's user only: its folder made 0700 if it is new, the file created 0600, an
    older one readable by others made 0600 (caller numbers are in it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # what is deleted or replaced (retention, erasure) is overwritten with zeros in the file,
    # not left in its free pages for anyone with the file to read
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _revision(connection: Connection) -> str:
    return MigrationContext.configure(connection).get_current_revision() or ""
