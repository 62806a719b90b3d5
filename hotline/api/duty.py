"""Who is on duty now in each of the organisation's rotas, and the gaps of the next 14 days."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import HTTPException

from agents.rota import DutyRole, Person
from hotline.api import schemas
from hotline.api.deps import App, Watcher, api_router
from hotline.api.errors import errors
from hotline.reports.duty import HORIZON

router = api_router()


@router.get(
    "/duty",
    response_model=schemas.DutyNow,
    response_model_exclude_unset=True,
    responses=errors(403, (503, "No rotas in this service, or it is a standby.")),
)
async def duty_now(app: App, who: Watcher) -> dict[str, Any]:
    """Each rota of the token's organisation (every one's for a token of none): who is on
    duty now as a lawyer and as a supervisor (the first rung first; phone numbers and e-mails
    for supervisors' tokens only), and every gap of the next 14 days."""
    duty = app.duty
    if duty is None:
        raise HTTPException(503, "this service keeps no rotas")
    now, gaps = duty.upcoming()
    health = {(c["organisation"], c["rota"]): c for c in duty.health()["calendars"]}

    def person(p: Person) -> dict[str, Any]:
        shown = asdict(p)
        if not who.supervisor:
            del shown["phone"], shown["email"]
        return shown

    rotas = []
    for org in app.deployment.organisations.values():
        if not who.sees(org.id):
            continue
        for i, (name, rota) in enumerate(duty.rotas(org.id).items()):
            found: dict[str, Any] = {
                "organisation": org.id,
                "rota": name,
                "default": i == 0,
                "timezone": rota.timezone,
                **{
                    f"{role.value}s": [person(p) for p in duty.on_duty(org.id, name, now, role)]
                    for role in DutyRole
                },
                "gaps": [
                    {
                        "role": g.role,
                        "start": max(g.start, now).isoformat(),
                        "end": g.end.isoformat(),
                        "seconds": (g.end - max(g.start, now)).total_seconds(),
                        "says": g.says(),
                    }
                    for g in gaps
                    if (g.organisation, g.rota) == (org.id, name)
                ],
            }
            if (org.id, name) in health:
                found["calendar"] = health[org.id, name]
            rotas.append(found)
    return {"at": now.isoformat(), "until": (now + HORIZON).isoformat(), "rotas": rotas}
