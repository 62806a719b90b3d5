"""Statistics over a period: offered, answered, abandoned, service level, speed of answer, handle
time; in all, per line, per operator, per hour or day."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Query
from pydantic import Field

from hotline.api import schemas
from hotline.api.deps import (
    AWAY,
    App,
    Name,
    Watcher,
    api_router,
    aware,
    database,
    known,
    organisation,
    own,
    targets,
    unprocessable,
    zone,
)
from hotline.api.errors import errors
from hotline.figures import stats

router = api_router()


@router.get(
    "/stats",
    response_model=schemas.Stats,
    response_model_exclude_unset=True,
    responses=errors(
        403,
        (422, "A bad period (`from` after `to`, over 366 days), line or time zone."),
        AWAY,
    ),
)
async def get_stats(
    app: App,
    who: Watcher,
    since: Annotated[
        datetime | None, Query(alias="from", description="default: today 00:00")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    line: Name | None = None,
    by: stats.Period = "hour",
    threshold: Annotated[
        float | None, Query(gt=0, le=3600, description="seconds (default: the config's)")
    ] = None,
    thresholds: Annotated[
        list[Annotated[float, Field(gt=0, le=3600)]],
        Query(max_length=10, description="more thresholds (s): `service_levels` at each"),
    ] = [],  # noqa: B006 (FastAPI copies it)
    tz: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Offered, answered, abandoned, service level (answered within ``threshold`` s, and
    within each of ``thresholds``), average speed of answer, average handle time (talk only)
    and longest wait: in all, per line, per operator and per period (``by``: 15 or 30
    minutes, an hour, a day, a week from Monday or a month, in ``tz``, by default the
    organisation's); the operators' time by state (``operators_time``: logged in, available,
    ringing, on a call, wrap-up, paused by reason, occupancy, average handle time with the
    wrap-up); the token's organisation's lines and operators only."""
    zone_ = zone(tz, app, who)
    now = app.switchboard.clock()
    until = aware(until, zone_) or now
    since = aware(since, zone_) or stats.period_start(now, "day", zone_)
    if since >= until:
        raise unprocessable("from", "query", "must be before 'to'")
    if until - since > timedelta(days=366):
        raise unprocessable("from", "query", "the period may be at most 366 days")
    known(line, "line", own(app, who, "lines"))
    rows = await database(app.store.queued_calls(since, until, line))
    queued = (
        stats.Queued(
            r.line,
            r.operator,
            r.queued_at,
            r.answered_at is not None,
            r.wait,
            r.talk,
            r.outcome,
            tuple((t.get("line"), t.get("operator")) for t in r.transfers if t.get("operator")),
            tuple(r.topics),
            r.resolution,
        )
        for r in rows
        if r.queued_at is not None and who.sees(organisation(app, line=r.line))
    )
    threshold_, target = targets(app, who)
    figures = stats.compute(
        queued, since, until, threshold or threshold_, by, zone_, thresholds=thresholds
    )
    figures["target"] = target
    mine = {
        op: f for op, f in figures["operators"].items() if who.sees(organisation(app, operator=op))
    }
    figures["operators_time"] = stats.operators_time(
        (
            stats.Change(c.operator, c.at, c.state, c.reason)
            for c in await database(app.store.operator_changes(since, until))
            if who.sees(organisation(app, operator=c.operator))
        ),
        {op: f["answered"] for op, f in mine.items()},
        {op: f["talk_time"] for op, f in mine.items()},
        since,
        until,
    )
    figures["reports"] = stats.reports(
        (
            stats.Reported(
                n.line,
                n.stored_at,
                next((e.at for e in events if e.kind == "escalation.accepted"), None),
                n.handled_at is not None,
                _calls_until_accepted(events),
                app.deployment.notification_target(n.line),
            )
            for n, events in await database(app.store.reports(since, until))
            if who.sees(organisation(app, line=n.line)) and line in (None, n.line)
        ),
        now,
    )
    return figures


def _calls_until_accepted(events: list[Any]) -> int:
    """The calls to people on duty a report took until it was accepted."""
    calls = 0
    for event in events:
        if event.kind == "escalation.accepted":
            break
        calls += 1
    return calls
