"""The composers of the outbox: the webhooks' (whose events, which fields, in what order) and
the centre's SMS (its text in the caller's language; who may be texted)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from hotline.config.deployment import Deployment
from hotline.config.loading import parse
from hotline.events import CallEvent
from hotline.outbound.centre_sms import Texting, centre_sms
from hotline.outbound.signing import new_secret
from hotline.outbound.webhooks import webhooks
from routing.events import (
    CallEnded,
    CentreTexted,
    Fact,
    MenuAnswer,
    NotificationHandled,
    NotificationStored,
    WrappedUp,
)
from tests.conftest import ROOT

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CRM = "https://crm.example/hotline?token=abc"
ARCHIVE = "https://archive.example/in"


def deployment_with_hooks() -> Deployment:
    raw: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / "config/hotline.yaml").read_text()))
    raw["organisations"]["ua-legal-aid"]["webhooks"] = [
        {"url": CRM, "events": ["reports", "calls"], "personal": ["number"]},
        {"url": ARCHIVE, "events": ["calls"]},
    ]
    return parse(raw)


def event(fact: Fact, organisation: str | None = "ua-legal-aid", call: str = "c1") -> CallEvent:
    return CallEvent(call, 1, T0, fact, "ev1", organisation)


STORED = NotificationStored(
    "482193", "detention", "380501234567", "380671112233", True, "/spool/482193.wav"
)


def test_a_report_goes_to_its_organisations_receivers_without_personal_fields() -> None:
    compose = webhooks(deployment_with_hooks())
    (message,) = compose(event(STORED))
    assert (message.channel, message.to, message.key, message.organisation) == (
        "webhook",
        CRM,
        "report:482193",
        "ua-legal-aid",
    )
    assert "." not in message.id and message.id.startswith("msg_ev1_")
    assert message.payload == {
        "type": "notification.stored",
        "timestamp": "2026-11-25T09:00:00+00:00",
        # the number left to call back (asked for), not the caller's, nor the recording's path
        "data": {
            "call": "c1",
            "ref": "482193",
            "line": "detention",
            "number": "380671112233",
            "complete": True,
        },
    }
    handled = event(NotificationHandled("482193", "op1", "lawyer-appointed", "Mother told."))
    (message,) = compose(handled)
    assert message.key == "report:482193" and "note" not in message.payload["data"]


def test_the_topics_and_the_kinds_to_come() -> None:
    compose = webhooks(deployment_with_hooks())
    ended = list(compose(event(CallEnded("answered", line="consultation", operator="op3"))))
    assert [(m.to, m.key) for m in ended] == [(CRM, "c1"), (ARCHIVE, "c1")]
    wrapped = list(compose(event(WrappedUp(("family",), "advice-given", "op3", "a note"))))
    assert [m.payload["data"].get("note") for m in wrapped] == [None, None]
    assert list(compose(event(MenuAnswer("main", "2")))) == []

    class Escalated(Fact):  # (an escalation.* kind the lead adds later: matched by prefix)
        kind = "escalation.accepted"

    later = event(Escalated())
    assert [(m.to, m.payload["type"]) for m in compose(later)] == [(CRM, "escalation.accepted")]


def test_never_another_organisations_nor_nobodys() -> None:
    compose = webhooks(deployment_with_hooks())
    assert list(compose(event(STORED, organisation="ge-legal-aid"))) == []
    assert list(compose(event(STORED, organisation=None))) == []


def test_the_centres_sms_in_the_callers_language(deployment: Deployment) -> None:
    compose = centre_sms(deployment)
    (message,) = compose(event(CentreTexted("kyiv", "380501234567", "uk")))
    assert (message.channel, message.to, message.organisation) == (
        "sms",
        "380501234567",
        "ua-legal-aid",
    )
    assert message.payload["text"] == (
        "Київський місцевий центр з надання безоплатної правової допомоги. Працює з понеділка "
        "по п'ятницю, з дев'ятої до вісімнадцятої.\nKyiv (example address)\n0440000103"
    )
    (english,) = compose(event(CentreTexted("kyiv", "380501234567", "en")))
    assert english.payload["text"].startswith("The Kyiv local centre of free legal aid is open")
    assert list(compose(event(MenuAnswer("main", "5")))) == []


def test_who_may_be_texted(deployment: Deployment) -> None:
    texting = Texting(deployment.callbacks, possible=True)
    assert texting.refuses("anonymous", T0) is not None
    assert texting.refuses("+4420123456", T0) is not None  # abroad: never
    assert [texting.refuses("380501234567", T0 + timedelta(minutes=m)) for m in range(3)] == [
        None
    ] * 3
    assert texting.refuses("380501234567", T0 + timedelta(minutes=3)) == (
        "3 texts to this number in the last hour"
    )
    assert texting.refuses("380501234568", T0 + timedelta(minutes=3)) is None
    assert texting.refuses("380501234567", T0 + timedelta(minutes=61)) is None
    none = Texting(deployment.callbacks, possible=False)
    assert none.refuses("380501234567", T0) == "no SMS gateway is configured (HOTLINE_SMS_URL)"


def test_an_organisation_with_webhooks_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """`hotline serve` refuses to start (exit 2) without a valid secret for each organisation
    that sends webhooks, naming the variable, never printing its value."""
    from hotline.config.settings import Settings
    from hotline.outbound.doors import DoorError, open_doors

    deployment = deployment_with_hooks()
    name = "HOTLINE_WEBHOOK_SECRET_UA_LEGAL_AID"
    monkeypatch.delenv(name, raising=False)
    with pytest.raises(DoorError, match=f"{name} is not set: organisation ua-legal-aid sends"):
        open_doors(Settings(), deployment)
    monkeypatch.setenv(name, "whsec_c2hvcnQ=")
    with pytest.raises(DoorError, match=f"{name}: the key is 5 bytes") as caught:
        open_doors(Settings(), deployment)
    assert "c2hvcnQ" not in str(caught.value)
    monkeypatch.setenv(name, new_secret())
    assert sorted(open_doors(Settings(), deployment)) == ["webhook"]
    sms = Settings(sms_url="http://127.0.0.1:13013/cgi-bin/sendsms", smtp_host="mail.example")
    with pytest.raises(DoorError, match="HOTLINE_SMTP_FROM"):
        open_doors(sms, deployment)
    both = Settings(sms_url=sms.sms_url, smtp_host="mail.example", smtp_from="h@legalaid.example")
    assert sorted(open_doors(both, deployment)) == ["email", "sms", "webhook"]
