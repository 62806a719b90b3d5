"""The audit trail over the API: each route that hands out personal data says so here
(:func:`accessed`, :func:`noted`), and supervisors read their organisation's trail
(``/api/audit``, ``/api/audit.csv``)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, Response

from hotline.api import schemas
from hotline.api.access import Principal
from hotline.api.deps import (
    AWAY,
    App,
    Name,
    Parts,
    Supervisor,
    api_router,
    aware,
    database,
    paged,
    zone,
)
from hotline.api.errors import errors
from hotline.api.views import cell
from hotline.store import trail as audit
from hotline.store.audit import AuditFilter

router = api_router()

#: The 503 of a route whose answer is on the trail: the database's (:data:`AWAY`), or the
#: trail's own.
UNRECORDED = (
    503,
    AWAY[1] + " Or the audit trail cannot be written now (the service's disk): a recording, "
    "a message or an export is not handed out without a trace.",
)


def reader(who: Principal, request: Request) -> audit.Reader:
    """The reader as the trail names them: their operator id or their token's name (never
    the token), their role, the organisation they see, their address."""
    return audit.Reader(
        who.operator or who.name or who.role.value,
        who.role.value,
        who.operator,
        who.organisation,
        request.client.host if request.client else None,
    )


def accessed(
    app: Parts,
    who: Principal,
    request: Request,
    kind: audit.Kind,
    organisation: str | None,
    *,
    call: str | None = None,
    ref: str | None = None,
    detail: str | None = None,
) -> None:
    """Record an access about to be answered; a 503 if the trail cannot take it now (a
    recording, a message, an export, an erasure: :data:`hotline.store.trail.STRICT`)."""
    if app.trail is None:
        return
    try:
        app.trail.record(
            kind, reader(who, request), organisation, call=call, ref=ref, detail=detail
        )
    except audit.TrailUnwritable as exc:
        raise HTTPException(503, f"the audit trail cannot be written now ({exc})") from None


def noted(
    app: Parts,
    who: Principal,
    request: Request,
    shown: Iterable[tuple[str | None, str | None, str | None]],
) -> None:
    """``who`` was shown these notes: (organisation, call, reference) each, recorded once
    a quarter of an hour per reader and note."""
    if app.trail is None:
        return
    me = reader(who, request)
    for organisation, call, ref in shown:
        app.trail.noted(me, organisation, call=call, ref=ref)


def exported(
    app: Parts, who: Principal, request: Request, organisations: Iterable[str | None]
) -> None:
    """A CSV export of calls of these organisations (one per call): an entry for each
    organisation, with how many of its calls it held."""
    for organisation, count in sorted(Counter(organisations).items(), key=str):
        accessed(app, who, request, audit.Kind.EXPORT, organisation, detail=f"{count} calls")


def erased(
    app: Parts,
    who: Principal,
    request: Request,
    organisation: str | None,
    *,
    call: str | None = None,
    ref: str | None = None,
    detail: str | None = None,
) -> None:
    """Record an erasure a supervisor asked for over the API, by ids (``detail``: how much,
    e.g. ``"3 calls, 1 report"``; never the number asked for). Call it before erasing: a
    503 when the trail cannot be written, and nothing is erased without its entry. (``hotline
    erase``, outside the service: :meth:`hotline.store.db.Store.add_accesses` with
    :func:`hotline.store.trail.erasure`.)"""
    accessed(app, who, request, audit.Kind.ERASURE, organisation, call=call, ref=ref, detail=detail)


async def audit_filter(
    app: App,
    who: Supervisor,
    since: Annotated[
        datetime | None, Query(alias="from", description="accesses at or after")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="accesses before")] = None,
    tz: Annotated[str | None, Query(max_length=64, description="zone of a from/to without")] = None,
    kind: audit.Kind | None = None,
    by: Annotated[
        str | None, Query(max_length=64, description="an operator's id or a token's name")
    ] = None,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    ref: Name | None = None,
) -> AuditFilter:
    zone_ = zone(tz, app, who)
    return AuditFilter(
        organisation=who.organisation,
        everyone=who.organisation is None,
        since=aware(since, zone_),
        until=aware(until, zone_),
        kind=kind.value if kind is not None else None,
        by=by,
        call=call_id,
        ref=ref,
    )


Filter = Annotated[AuditFilter, Depends(audit_filter)]


def shown(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": row["at"].isoformat(),
        "kind": row["kind"],
        "by": row["by"],
        "role": row["role"],
        "operator": row["operator"],
        "scope": row["scope"],
        "organisation": row["organisation"],
        "call": row["call_id"],
        "ref": row["ref"],
        "address": row["address"],
        "detail": row["detail"],
    }


#: Who may read the trail.
SUPERVISORS = (403, "A viewer's or an operator's token: the trail is for supervisors.")

FIELDS = (
    *("at", "kind", "by", "role", "operator", "scope"),
    *("organisation", "call", "ref", "address", "detail"),
)


@router.get(
    "/audit",
    response_model=list[schemas.AuditEntry],
    responses={
        **paged("entries"),
        **errors(SUPERVISORS, AWAY),
    },
)
async def list_accesses(
    app: App,
    who: Supervisor,
    where: Filter,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """The audit trail of access to personal data, newest first: who played or downloaded a
    recording, played a detention message, was shown a note, exported calls, listened in on
    a call or erased data; when, from where, whose. A supervisor reads their organisation's
    entries (whoever the reader was: a supervisor of every organisation too); a supervisor
    of every organisation reads all. Kept ``audit.days`` (longer than the data it names:
    an entry may name a call whose record is gone). ``X-Total-Count`` says how many match."""
    rows, total = await database(app.store.audit(where, limit, offset))
    response.headers["X-Total-Count"] = str(total)
    return [shown(row) for row in rows]


@router.get(
    "/audit.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **errors(SUPERVISORS, AWAY),
    },
)
async def export_accesses(
    app: App,
    who: Supervisor,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """The same entries as CSV, for a data protection officer's spreadsheet."""
    rows, _ = await database(app.store.audit(where, limit, 0))
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(v) for k, v in shown(row).items()})
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
