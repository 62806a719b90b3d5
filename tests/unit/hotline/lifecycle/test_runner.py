"""Retention rounds of a service built as `hotline serve` builds it (no Asterisk) over a real
database holding every organisation's calls, reports, notes and recordings
(tests/holdings.py): each organisation's data goes after its own period, as it says
(pseudonymised or deleted), and its bytes are gone from the files and the vault; a report
still open is kept, and its call with it."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from hotline.config.deployment import Deployment, Retention
from hotline.lifecycle import runner
from tests.unit.hotline.api.test_api_separation import START, Built, built, token
from tests.unit.hotline.lifecycle.test_erasure import on_disk

__all__ = ["built"]  # (the fixture, used by name)

UA, GE = "ua-legal-aid", "ge-legal-aid"


def shorter(deployment: Deployment) -> Deployment:
    """Georgia deletes after 30 days; the others keep the defaults (a year, pseudonymised)."""
    organisations = dict(deployment.organisations)
    organisations[GE] = dataclasses.replace(
        organisations[GE], retention=Retention(30, "delete", 30, 30)
    )
    return dataclasses.replace(deployment, organisations=organisations)


async def test_each_organisation_forgets_after_its_own_period_and_as_it_says(
    built: Built, deployment: Deployment
) -> None:
    service = built.service
    writer = asyncio.create_task(service.call_log.run())
    assert service.retention is not None
    retention = service.retention  # (its parts; the deployment changed)
    rounds = runner.Retention(
        shorter(deployment),
        retention.store,
        retention.call_log,
        retention.vault,
        retention.notifications,
        retention.recorder,
        retention.key,
        retention.clock,
        escalations=retention.escalations,
    )
    try:
        ukraine, georgia = built.held[UA], built.held[GE]
        vault = service.settings.vault_folder()
        supervisor = token("supervisor", UA)
        # a month on: Georgia's handled report and its calls are gone; Ukraine's all stay
        service.notifications.handle(georgia.ref, georgia.operators[0], START)  # (as the API
        service.switchboard.handled(georgia.ref, georgia.calls[1], georgia.operators[0])  # does)
        done = await rounds.round(START + timedelta(days=31))
        assert (done.calls, done.reports, done.recordings) == (2, 1, 1)
        assert not (vault / georgia.recording).exists()
        kept = on_disk(service.settings.data_dir)
        for personal in (georgia.caller, georgia.family, georgia.note, georgia.name):
            assert personal.encode() not in kept, personal
        assert ukraine.caller.encode() in kept and (vault / ukraine.recording).is_file()
        # 366 days on (Ukraine and Georgia's rehabilitation centre: the defaults): their
        # recordings went at 90 days, their answered calls are pseudonymised (their figures
        # stay), their reports still open keep their calls as they are
        done = await rounds.round(START + timedelta(days=366))
        assert (done.calls, done.recordings) == (2, 2)
        assert not (vault / ukraine.recording).exists()
        answered = (await built.get(supervisor, f"/api/calls/{ukraine.calls[0]}")).json()
        assert answered["caller"].startswith("~") and answered["caller_name"] == ""
        assert (answered["outcome"], answered["talk"], answered["wait"]) == (
            "answered",
            205.0,
            30.0,
        )
        assert ukraine.note not in repr(answered)
        reported = (await built.get(supervisor, f"/api/calls/{ukraine.calls[1]}")).json()
        assert reported["caller"] == ukraine.caller  # (its report is still open)
        assert ukraine.ref in service.notifications.items
    finally:
        writer.cancel()
