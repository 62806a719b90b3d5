"""The call log's tables. ``events`` holds every domain event in spool order; the others are
projections of it, kept up to date by :mod:`hotline.store.projection` as events arrive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware (UTC) datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value} given to the call log")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: An auto-numbered key on both databases (SQLite only numbers INTEGER PRIMARY KEY).
Serial = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[dict[str, Any]]: JSON,
    }


class Event(Base):
    """Every domain event, in the order the service published it."""

    __tablename__ = "events"

    n: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    seq: Mapped[int]
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]


class Call(Base):
    """One call from its first ring to its end (or its callback's end)."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Asterisk's uniqueid
    linkedid: Mapped[str] = mapped_column(String(64), default="")
    sip_call_id: Mapped[str] = mapped_column(String(256), default="", index=True)
    channel: Mapped[str] = mapped_column(String(256), default="")
    caller: Mapped[str] = mapped_column(String(256), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(256), default="")
    number: Mapped[str] = mapped_column(String(64), default="")  # the number dialled
    language: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[list[str]] = mapped_column(default=list)  # menu answers, "menu:key"
    asked_line: Mapped[str | None] = mapped_column(String(64))
    line: Mapped[str | None] = mapped_column(String(64), index=True)
    closed_lines: Mapped[list[str]] = mapped_column(default=list)
    priority: Mapped[int | None]
    callback_number: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(index=True)
    queued_at: Mapped[datetime | None] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    operator: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Seconds from joining the queue to an operator's answer (or to hanging up).
    wait: Mapped[float | None]
    talk: Mapped[float | None]
    outcome: Mapped[str | None] = mapped_column(String(32), index=True)
    #: Each transfer, in order: from (operator, line) to (target, to), mode, by, and how it
    #: went (outcome: answered, failed, or how the call ended); the legs of one record.
    transfers: Mapped[list[dict[str, Any]]] = mapped_column(
        default=list, server_default=text("'[]'")
    )
    #: The operator's wrap-up: what the call was about (the line's topics), how it ended for
    #: the caller, a note (personal data), who saved it and when.
    topics: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    resolution: Mapped[str | None] = mapped_column(String(32), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    wrapped_up_by: Mapped[str | None] = mapped_column(String(64))
    wrapped_up_at: Mapped[datetime | None]
    #: When its personal fields were pseudonymised or erased (hotline/lifecycle): its figures
    #: stay, nothing in it names the caller any more.
    forgotten_at: Mapped[datetime | None] = mapped_column(index=True)


class OperatorChange(Base):
    """An operator's state as it changed (login, pause, ringing, on call, ...)."""

    __tablename__ = "operator_states"

    n: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    operator: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(16))
    reachable: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(String(32))
    misses: Mapped[int] = mapped_column(default=0)


class Callback(Base):
    """A caller to be called back, and how it went."""

    __tablename__ = "callbacks"
    #: (the open ones: what the active instance reads again and again with a standby)
    __table_args__ = (
        Index(
            "ix_callbacks_open",
            "requested_at",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    line: Mapped[str | None] = mapped_column(String(64))
    notification: Mapped[str | None] = mapped_column(String(16))
    requested_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    last_status: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    #: Not made before then (planned: by the caller, or by an operator at a wrap-up).
    not_before: Mapped[datetime | None]
    #: The operator who planned it at a wrap-up.
    planned_by: Mapped[str | None] = mapped_column(String(64))


class Notification(Base):
    """A detention notification (the durable original is the service's notifications file)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(
            "ix_notifications_open",
            "stored_at",
            postgresql_where=text("handled_at IS NULL"),
            sqlite_where=text("handled_at IS NULL"),
        ),
    )

    ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    line: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(String(256), default="")
    number: Mapped[str] = mapped_column(String(64), default="")
    recording: Mapped[str | None] = mapped_column(String(512))
    complete: Mapped[bool]
    stored_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    #: The handler's note (personal data), and the operator who took it by phone.
    note: Mapped[str | None] = mapped_column(Text)
    taken_by: Mapped[str | None] = mapped_column(String(64))
    #: When its personal fields (and its message) were pseudonymised or erased.
    forgotten_at: Mapped[datetime | None]


class NotificationRef(Base):
    """A report's reference, reserved by one instance (``hotline/reports/references.py``): its
    primary key is what makes a reference unique across instances."""

    __tablename__ = "notification_refs"

    ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    instance: Mapped[str] = mapped_column(String(128))
    reserved_at: Mapped[datetime]


class Recording(Base):
    """A recording made by Asterisk for a call: a message, or a conversation."""

    __tablename__ = "recordings"

    n: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(512), unique=True)
    created_at: Mapped[datetime]
    seconds: Mapped[float | None]
    deleted_at: Mapped[datetime | None]


class ApiToken(Base):
    """An API token made with ``hotline token create``: only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    operator: Mapped[str | None] = mapped_column(String(64))
    #: The organisation it sees (None: every one).
    organisation: Mapped[str | None] = mapped_column(String(32))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: When it stops working (None: never; ``hotline token create --days``).
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    #: When it was last presented (written at most once a minute).
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiSession(Base):
    """A browser's login: its cookie holds a random session id, of which only the SHA-256 is
    kept here, with the hash of the token it was opened with (revoking that token ends it)."""

    __tablename__ = "api_sessions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class Leadership(Base):
    """The lease of the active instance (``hotline/running/leadership.py``): who holds it,
    until when (the database's clock), and its fencing number, which only ever grows."""

    __tablename__ = "leadership"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    fence: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    #: Where the holder's API answers (a standby forwards /api there).
    url: Mapped[str | None] = mapped_column(String(256))


class Outbox(Base):
    """A message to send by SMS, e-mail or webhook (``hotline/outbound``): written with the
    events that cause it, sent by the active instance's deliverer, kept once done."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_queue", "channel", "recipient", "key", "n"),)

    #: Its place in the order the messages were written: a key's messages go out in it.
    n: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(255), unique=True)
    #: The event that caused it.
    event_id: Mapped[str] = mapped_column(String(32))
    organisation: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    #: A phone number, an e-mail address, a URL.
    recipient: Mapped[str] = mapped_column(String(1024))
    key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    #: ``pending``, ``delivered`` or ``given_up``.
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime]
    #: Not tried again before this.
    next_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    #: The instance sending it now, until when (another may take it after that).
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None]
    #: When it was delivered or given up.
    done_at: Mapped[datetime | None]


class VaultFile(Base):
    """A recording or message sealed by the vault (``hotline/vault``), shared by the
    instances (HOTLINE_HA): its header (key id, when it was made, its size); the sealed
    chunks are in ``vault_chunks``. Nothing here is readable without the key."""

    __tablename__ = "vault_files"

    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    header: Mapped[bytes] = mapped_column(LargeBinary)
    #: The id of the key it is sealed under (hex): a rotation looks for the others.
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    made_at: Mapped[datetime]
    stored_at: Mapped[datetime]
    #: The instance that sealed it.
    instance: Mapped[str] = mapped_column(String(128))


class VaultChunk(Base):
    """One sealed chunk (64 KiB of audio) of a vault file."""

    __tablename__ = "vault_chunks"

    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class VaultDeleted(Base):
    """A vault file deleted (the name only, and when): a copy still waiting on an instance
    cut off from the database is dropped there instead of being shared again."""

    __tablename__ = "vault_deleted"

    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    deleted_at: Mapped[datetime]


class Erasure(Base):
    """An erasure on request (``hotline erase``, ``POST /api/erasures``): when, who asked,
    for which organisation, and how much was erased; never the number or the call itself,
    only a keyed hash of it (hotline/lifecycle/policy.py: subject_hash)."""

    __tablename__ = "erasures"

    n: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    #: The token's name (or ``cli``) that asked.
    by: Mapped[str] = mapped_column(String(64))
    #: The organisation whose data was erased (None: a token of every organisation's).
    organisation: Mapped[str | None] = mapped_column(String(32), index=True)
    #: ``number`` or ``call``: what was named.
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    calls: Mapped[int]
    recordings: Mapped[int]
    reports: Mapped[int]
    callbacks: Mapped[int]


class AuditEntry(Base):
    """Who reached whose personal data, when, how and from where (``hotline/store/trail.py``):
    ids only (never a number, a name or a note), kept longer than the data it names
    (``audit.days``)."""

    __tablename__ = "audit"

    n: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    #: The entry's id (its event's in the spool): written once however often it is sent.
    id: Mapped[str] = mapped_column(String(32), unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    #: ``recording``, ``message``, ``note``, ``export``, ``listen``, ``erasure``.
    kind: Mapped[str] = mapped_column(String(16))
    #: The reader: an operator's id, a token's or a supervisor's phone's name; never a token.
    by: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    operator: Mapped[str | None] = mapped_column(String(64))
    #: The organisation the reader's token sees (None: every one).
    scope: Mapped[str | None] = mapped_column(String(32))
    #: Whose data it was (None: no organisation's: a token of every one reads it).
    organisation: Mapped[str | None] = mapped_column(String(32), index=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    ref: Mapped[str | None] = mapped_column(String(16))
    #: The client's address.
    address: Mapped[str | None] = mapped_column(String(64))
    #: What more it says: a byte range, how many calls an export held.
    detail: Mapped[str | None] = mapped_column(String(200))
