"""Erasure on request, for supervisors: a caller's calls (by their number) or one call,
erased from everything the service keeps of their organisation (hotline/lifecycle/erasure.py);
and the list of erasures done, which names no number and no call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline.api import audit
from hotline.api import examples as ex
from hotline.api.deps import AWAY, App, Supervisor, api_router, database
from hotline.api.errors import errors
from hotline.lifecycle.erasure import NothingToErase, NotWritten
from hotline.store import lifecycle

router = api_router()

NO_CALL = (404, "No such call (or not one of the token's organisation).")
ROLE = (403, "A viewer's or an operator's token.")


class Erase(BaseModel):
    """What to erase: every call of a ``caller``'s number (made from it, or a number typed
    to be called back on or left with a report), or the call ``call_id``; one of the two."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=ex.examples(ex.ERASE, {"call_id": "1796526905.3"})
    )

    caller: str | None = Field(None, pattern=r"^\+?[0-9]{3,20}$")
    call_id: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> Erase:
        if (self.caller is None) == (self.call_id is None):
            raise ValueError("give a caller's number or a call_id (one of them)")
        return self


class Erased(BaseModel):
    """How much was erased."""

    model_config = ConfigDict(json_schema_extra=ex.examples(ex.ERASED))

    calls: int
    recordings: int
    reports: int
    callbacks: int


class Done(BaseModel):
    """An erasure done: when, who asked, whose data, how much (never the number or call)."""

    model_config = ConfigDict(json_schema_extra=ex.examples(ex.ERASURE_DONE))

    at: datetime
    by: str
    organisation: str | None
    kind: str
    calls: int
    recordings: int
    reports: int
    callbacks: int


@router.post(
    "/erasures",
    response_model=Erased,
    responses=errors(ROLE, NO_CALL, 400, 413, audit.UNRECORDED),
)
async def erase(
    app: App, who: Supervisor, request: Request, asked: Annotated[Erase, Body()]
) -> dict[str, Any]:
    """Erase a caller's data on request, of the token's organisation only: their recordings
    and messages, reports, pending callbacks and the personal fields of their calls (or the
    whole records, where the organisation's retention deletes); the figures stay. Recorded
    in the erasures without the number or the call."""
    if app.eraser is None:
        raise HTTPException(503, "erasure is not available in this service")
    # on the audit trail first (nothing is erased without its entry): by ids, never the number
    what = "a call" if asked.call_id is not None else "a caller's calls, by their number"
    audit.erased(app, who, request, who.organisation, call=asked.call_id, detail=what)
    try:
        done = await app.eraser.erase(
            who.organisation, who.name or who.role.value, number=asked.caller, call=asked.call_id
        )
    except NothingToErase:
        raise HTTPException(404, f"no call {asked.call_id!r}") from None
    except NotWritten as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None
    return {
        "calls": done.calls,
        "recordings": done.recordings,
        "reports": done.reports,
        "callbacks": done.callbacks,
    }


@router.get("/erasures", response_model=list[Done], responses=errors(ROLE, AWAY))
async def erasures(app: App, who: Supervisor) -> list[dict[str, Any]]:
    """The erasures done of the token's organisation (a token of every one: all), newest
    first."""
    rows = await database(lifecycle.erasures(app.store.engine, who.organisation))
    return [
        {
            "at": r.at,
            "by": r.by,
            "organisation": r.organisation,
            "kind": r.kind,
            "calls": r.calls,
            "recordings": r.recordings,
            "reports": r.reports,
            "callbacks": r.callbacks,
        }
        for r in rows
    ]
