"""Statistics over a period: offered, answered, abandoned, service level, speed of answer, handle
time; in all, per line, per operator, per period; and an organisation's month or year as a
report (PDF or CSV)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Query, Response
from pydantic import Field

from hotline.api import schemas
from hotline.api.deps import (
    AWAY,
    App,
    Name,
    Supervisor,
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
from hotline.figures import report, stats

router = api_router()


#: The earliest ``from`` of the statistics: a period before it has no calls, and in its zone's
#: local mean time of old (Kyiv's +02:02:04) a period's start is no RFC 3339 time.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@router.get(
    "/stats",
    response_model=schemas.Stats,
    response_model_exclude_unset=True,
    responses=errors(
        403,
        (
            422,
            "A bad period (`from` after `to`, before 1970, over 366 days), line or time zone.",
        ),
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
    if since < EARLIEST:
        raise unprocessable("from", "query", f"must be {EARLIEST.year} or later")
    if until - since > timedelta(days=366):
        raise unprocessable("from", "query", "the period may be at most 366 days")
    known(line, "line", own(app, who, "lines"))
    rows = await database(app.store.queued_calls(since, until, line))
    queued = (
        stats.from_row(r)
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
            stats.from_report(n, events, app.deployment.notification_target(n.line))
            for n, events in await database(app.store.reports(since, until))
            if who.sees(organisation(app, line=n.line)) and line in (None, n.line)
        ),
        now,
    )
    return figures


#: One report drawn at a time (matplotlib's figures are the process's).
_drawing = asyncio.Lock()


@router.get(
    "/report",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "description": "The report, as a file to save.",
        },
        **errors(
            (403, "Not a supervisor's token."),
            (422, "A bad period, format or language; no organisation named by a token of all."),
            AWAY,
        ),
    },
)
async def get_report(
    app: App,
    who: Supervisor,
    period: Annotated[str, Query(max_length=7, description="a month (2026-11) or a year")],
    kind: Annotated[Literal["pdf", "csv"], Query(alias="format")] = "pdf",
    organisation: Name | None = None,
    language: Annotated[str | None, Query(max_length=3)] = None,
) -> Response:
    """An organisation's month or year (as `hotline report` makes it): calls offered,
    answered, abandoned, service level, answer and talk times, transfers and callbacks, in
    all and per line, by day or month and by hour of the day, wrap-up topics and resolutions,
    detention reports and how fast they were accepted; in the organisation's time zone and
    language (or ``language``). A token of one organisation: its own (``organisation`` may
    only name it)."""
    org_id = organisation or who.organisation
    if org_id is None:
        raise unprocessable("organisation", "query", "name one (this token sees them all)")
    org = app.deployment.organisations.get(org_id)
    if org is None or not who.sees(org_id):
        raise unprocessable("organisation", "query", "not an organisation of this token's")
    language = language or org.languages[0]
    if language not in report.LABELS:
        raise unprocessable("language", "query", f"one of {', '.join(report.LABELS)}")
    try:
        chosen = report.Period.parse(period, ZoneInfo(org.timezone))
    except ValueError as exc:
        raise unprocessable("period", "query", str(exc)) from None
    made = await database(
        report.gather(app.store, app.deployment, org_id, chosen, language, app.switchboard.clock())
    )
    name = f"hotline-{org_id}-{chosen.name}.{kind}"
    if kind == "csv":
        body, media = report.as_csv(made).encode(), "text/csv; charset=utf-8"
    else:
        async with _drawing:
            body, media = await asyncio.to_thread(report.as_pdf, made), "application/pdf"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
