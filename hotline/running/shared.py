"""What an instance taking over finds: who was logged in or paused, the callbacks not made yet,
the offices in shelter and the detention notifications (the call log's tables in the shared
database), and what Asterisk is doing now (a callback under way keeps its operator; callers
waiting are taken over by :meth:`Switchboard.adopt`)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from agents.state import State
from hotline.asterisk.messages import Channel, callback_legs
from hotline.config.deployment import Deployment
from hotline.reports.notifications import Notification
from hotline.store.db import Store
from hotline.store.tables import Call, Callback
from hotline.store.tables import Notification as NotificationRow
from routing.events import Fact, ShelterBegan, ShelterEnded, from_data
from routing.queue import Shelter
from routing.signals import Pending, Restore

log = logging.getLogger(__name__)


async def shared_notifications(store: Store, known_open: Collection[str]) -> list[Notification]:
    """The detention notifications as the database holds them: every open one, and those of
    ``known_open`` (open here) however they stand."""
    return [
        Notification(
            ref=row.ref,
            call=row.call_id,
            line=row.line,
            caller=row.caller,
            number=row.number,
            recording=row.recording or "",
            at=row.stored_at,
            complete=row.complete,
            handled_at=row.handled_at,
            handled_by=row.handled_by,
            taken_by=row.taken_by,
            outcome=row.outcome,
            note=row.note,
        )
        for row in await store.shared_notifications(known_open)
    ]


async def shared_escalations(store: Store, deployment: Deployment) -> list[dict[str, Any]]:
    """The open reports' escalations as the database holds them, as the escalations' journal
    keeps them (hotline/reports/escalations.py)."""
    rows = await store.open_escalations()
    whose: dict[str | None, str] = {}  # a report's call -> its line's organisation
    for row in rows:
        org = deployment.organisation_of(line=str(row.data.get("line", "")))
        if row.kind == "escalation.started" and org is not None:
            whose[row.call_id] = org.id
    return [
        {"call": row.call_id, "org": whose[row.call_id], "at": row.at.isoformat()}
        | {"kind": row.kind, "data": row.data}
        for row in rows
        if row.call_id in whose
    ]


async def shared_state(
    store: Store, deployment: Deployment, channels: Sequence[Channel]
) -> Restore:
    """The queue's promises as the database holds them now."""
    presence = await shared_presence(store)
    callbacks = pending(await store.open_callbacks(), deployment, channels)
    return Restore(presence, callbacks, await shared_shelters(store))


async def shared_shelters(store: Store) -> tuple[Shelter, ...]:
    """The offices in shelter, as the database's events say."""
    found: dict[str, Shelter] = {}
    for row in await store.shelter_events():
        try:
            fact = from_data(row.kind, row.data)
        except (TypeError, ValueError) as exc:
            log.error("event %s unreadable, skipped: %s", row.id, exc)
            continue
        match fact:
            case ShelterBegan(office, by, since, until):
                found[office] = Shelter(
                    office,
                    datetime.fromisoformat(since),
                    by,
                    datetime.fromisoformat(until) if until else None,
                )
            case ShelterEnded(office):
                found.pop(office, None)
    return tuple(found.values())


async def shared_announcements(store: Store) -> list[tuple[datetime, Fact]]:
    """The lines' announcement events, as the database holds them (hotline/calls/
    announcements.py adopts them)."""
    found: list[tuple[datetime, Fact]] = []
    for row in await store.announcement_events():
        try:
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # (SQLite's: UTC)
            found.append((at, from_data(row.kind, row.data)))
        except (TypeError, ValueError) as exc:
            log.error("event %s unreadable, skipped: %s", row.id, exc)
    return found


async def shared_presence(store: Store) -> dict[str, tuple[State, str | None]]:
    """Who is logged in or paused, as the database says."""
    presence: dict[str, tuple[State, str | None]] = {}
    for change in await store.latest_operator_states():
        if change.state == State.PAUSED:
            presence[change.operator] = (State.PAUSED, change.reason)
        elif change.state != State.LOGGED_OUT:
            presence[change.operator] = (State.AVAILABLE, None)
    return presence


def pending(
    rows: Sequence[tuple[Callback, Call, NotificationRow | None]],
    deployment: Deployment,
    channels: Sequence[Channel],
) -> tuple[Pending, ...]:
    """The callbacks not over yet (``rows``: the database's), as the queue keeps them; one
    under way in Asterisk (``channels``) keeps its operator."""
    found = []
    legs = callback_legs(list(channels))
    for callback, call, notification in rows:
        line = deployment.lines.get(callback.line or call.line or "")
        if line is None:
            continue
        # a callback under way in Asterisk: its operator has it
        leg = legs.get(callback.call_id)
        dialling = leg.operator if leg else None
        attempts = leg.attempt - 1 if leg else callback.attempts
        found.append(
            Pending(
                call=callback.call_id,
                line=line.name,
                language=call.language or "en",
                priority=line.priority,
                entered=call.queued_at or callback.requested_at,
                number=callback.number,
                reason=callback.reason,
                attempts=attempts,
                notification=callback.notification,
                recording=notification.recording if notification else None,
                dialling=dialling if dialling in deployment.operators else None,
                once=callback.reason == "desk",
                next_try=callback.not_before,
                by=callback.planned_by,
            )
        )
    return tuple(found)
