"""The offices and their shelter (an air-raid alert) through the real API of a service built
as `hotline serve` builds it (no Asterisk): a supervisor of the office's organisation takes
it to shelter and back, nobody else; a bad end time is refused, naming the parameter; who did
it is on the event."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hotline.events import CallEvent
from tests.unit.hotline.api.test_api_separation import PLATFORM, Built, built, token

__all__ = ["built"]  # (the fixture, shared)

UA, GE = "ua-legal-aid", "ge-legal-aid"


def headers(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {who}"}


async def test_a_supervisor_takes_their_office_to_shelter_and_back(built: Built) -> None:
    seen: list[CallEvent] = []
    built.service.bus.subscribe(seen.append)
    supervisor = token("supervisor", UA)
    listed = await built.get(supervisor, "/api/v1/offices")
    assert listed.status_code == 200
    ids = {office["id"] for office in listed.json()}
    assert "sumy" in ids and "tbilisi" not in ids  # Georgia's is not Ukraine's to see
    reply = await built.api.post(
        "/api/v1/offices/sumy/shelter", params={"minutes": 30}, headers=headers(supervisor)
    )
    assert reply.status_code == 200, reply.text
    office = reply.json()
    now = built.service.switchboard.clock()  # (the service's clock runs on)
    assert office["lines"] == ["consultation", "detention"]
    until = datetime.fromisoformat(office["shelter"]["until"])
    assert timedelta(minutes=29) < until - now <= timedelta(minutes=30)
    assert 0 <= office["shelter"]["for"] < 60
    began = [e for e in seen if e.kind == "office.shelter"]
    assert [(e.fact.office, e.fact.by) for e in began] == [("sumy", office["shelter"]["by"])]
    assert office["shelter"]["by"]  # someone, by name
    # the viewer sees it; nobody but a supervisor changes it
    viewed = await built.get(token("viewer", UA), "/api/v1/offices")
    (sumy,) = [o for o in viewed.json() if o["id"] == "sumy"]
    assert sumy["shelter"] is not None
    for who in (token("viewer", UA), token("operator", UA)):
        refused = await built.api.delete("/api/v1/offices/sumy/shelter", headers=headers(who))
        assert refused.status_code == 403
    ended = await built.api.delete("/api/v1/offices/sumy/shelter", headers=headers(supervisor))
    assert ended.status_code == 200 and ended.json()["shelter"] is None
    assert [e.kind for e in seen if e.kind.startswith("office.")] == [
        "office.shelter",
        "office.shelter_ended",
    ]
    again = await built.api.delete("/api/v1/offices/sumy/shelter", headers=headers(supervisor))
    assert again.status_code == 200  # (already over: left as it is)


async def test_another_organisations_office_is_not_there(built: Built) -> None:
    for path in ("/api/v1/offices/sumy/shelter", "/api/v1/offices/nowhere/shelter"):
        reply = await built.api.post(path, headers=headers(token("supervisor", GE)))
        assert reply.status_code == 404, reply.text
        assert reply.json()["code"] == "not-found"
    assert not built.service.switchboard.shelters
    every = await built.api.post("/api/v1/offices/tbilisi/shelter", headers=headers(PLATFORM))
    assert every.status_code == 200  # a supervisor of every organisation


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"minutes": 30, "until": "2026-11-25T18:00:00+02:00"}, "until"),
        ({"until": "2026-11-25T18:00:00"}, "until"),  # no zone
        ({"until": "2020-01-01T00:00:00+00:00"}, "until"),  # past
        ({"until": "2027-01-01T00:00:00+00:00"}, "until"),  # more than a week ahead
        ({"minutes": 0}, "minutes"),
        ({"minutes": "soon"}, "minutes"),
    ],
)
async def test_a_bad_end_is_refused_naming_it(
    built: Built, params: dict[str, Any], field: str
) -> None:
    reply = await built.api.post(
        "/api/v1/offices/sumy/shelter", params=params, headers=headers(token("supervisor", UA))
    )
    assert reply.status_code == 422, reply.text
    assert [e["loc"][-1] for e in reply.json()["errors"]] == [field]
    assert not built.service.switchboard.shelters
