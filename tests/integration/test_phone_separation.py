"""Each organisation's phones their own, on the sandbox: a supervisor's phone listens to its
own organisation's operators only, exactly the operator asked for (Ukraine's ``anna`` and
Georgia's ``anna-m``: a channel name's prefix would take either), never another's call, not
even once the operator's own call has ended; an operator's transfer codes and colleagues
reach only their own organisation's targets, in the dialplan Asterisk runs."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.sipcall import SoftPhone
from hotline.asterisk.render import password_variable
from hotline.config.deployment import Deployment
from tests.integration.conftest import Asterisk, Service, call, config_variant, progress
from tests.integration.test_transfers import talking

UA_SUPERVISOR = "supervisor-ua-phones-separation-2026"
GE_SUPERVISOR = "supervisor-ge-phones-separation-2026"
#: Ukraine's consultation line (Sumy), Georgia's (Tbilisi): both open at WORKING_HOURS.
UKRAINE, GEORGIA = ("0800213103", "11"), ("0322920055", "1")
#: Op5's keypad code in Ukraine; Georgia has none of that number.
UKRAINIAN_CODE = "95"


@pytest.fixture(scope="module")
def twins(
    asterisk: Asterisk, deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Deployment]]:
    """This process's Asterisk with Ukraine's operator ``anna`` and Georgia's ``anna-m``
    (each with a SIP password); the default config back afterwards."""
    path, twins = config_variant(
        tmp_path_factory.mktemp("twins"),
        organisations={
            "ua-legal-aid": {"operators": {"anna": {
                "name": "Anna (Sumy)", "office": "sumy", "lines": ["consultation"],
                "languages": ["uk", "en"]}}},
            "ge-legal-aid": {"operators": {"anna-m": {
                "name": "Anna M. (Tbilisi)", "office": "tbilisi", "lines": ["ge-consultation"],
                "languages": ["ka", "en"]}}},
        },
    )  # fmt: skip
    before = asterisk.secrets
    try:
        asterisk.secrets = asterisk.sandbox.up(twins, progress)
        yield path, twins
    finally:
        asterisk.secrets = before
        asterisk.sandbox.up(deployment, progress)


@pytest.fixture
def softphone(asterisk: Asterisk, tmp_path: Path) -> Iterator[Callable[..., SoftPhone]]:
    """SIPp softphones of any endpoint of the twins' config (they unregister at the end)."""
    started: list[SoftPhone] = []

    def start(user: str, **kwargs: Any) -> SoftPhone:
        password = asterisk.secrets[password_variable(user)]
        started.append(SoftPhone(user, password, workdir=tmp_path, **kwargs).start())
        return started[-1]

    yield start
    for phone in started:
        phone.stop()


def spy(service: Service, token: str, operator: str, supervisor: str) -> httpx.Response:
    return service.post_as(token, f"/api/agents/{operator}/spy", supervisor=supervisor)


async def spied(asterisk: Asterisk, mark: int, wait: float = 20) -> str:
    """The channel ChanSpy joined since ``mark``, from Asterisk's log."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if found := re.search(r"Spying on channel (\S+)", asterisk.log_since(mark)):
            return found.group(1)
        await asyncio.sleep(0.3)
    raise AssertionError(f"ChanSpy joined no channel:\n{asterisk.log_since(mark)[-4000:]}")


def own(channel: str, endpoint: str) -> bool:
    """Whether a channel's name is of ``endpoint`` exactly (``PJSIP/anna-0000001f``)."""
    return re.fullmatch(rf"PJSIP/{re.escape(endpoint)}-[0-9a-f]{{8}}", channel) is not None


def test_a_supervisor_listens_to_their_own_organisations_operators_only(
    service: Service, twins: tuple[Path, Deployment]
) -> None:
    """Every supervisor, every operator: through a token of every organisation, a supervisor
    joins their own organisation's operators (409 here: none is on a call) and no other's
    (422); through Ukraine's token, another organisation's operator is unknown (404) and so
    is another organisation's supervisor (422)."""
    config, deployment = twins
    service.settings["HOTLINE_API_TOKENS"] = f"supervisor@ua-legal-aid={UA_SUPERVISOR}"
    service.start(config=config)
    ukraine = deployment.organisations["ua-legal-aid"]
    for supervisor in deployment.supervisors:
        theirs = deployment.organisation_of(supervisor=supervisor)
        assert theirs is not None
        for operator in deployment.operators:
            reply = spy(service, service.token, operator, supervisor)
            expected = 409 if operator in theirs.operators else 422
            assert reply.status_code == expected, (supervisor, operator, reply.text)
            reply = spy(service, UA_SUPERVISOR, operator, supervisor)
            if operator not in ukraine.operators:
                expected = 404
            else:
                expected = 409 if supervisor in ukraine.supervisors else 422
            assert reply.status_code == expected, (supervisor, operator, reply.text)


async def test_a_supervisor_joins_exactly_the_operator_asked_for(
    service: Service,
    twins: tuple[Path, Deployment],
    asterisk: Asterisk,
    softphone: Callable[..., SoftPhone],
) -> None:
    """anna (Ukraine) and anna-m (Georgia) each talk to a caller: Ukraine's supervisor
    listening to anna joins anna's channel, Georgia's listening to anna-m joins hers. Once
    anna's call ends while her supervisor's phone still rings, the supervisor joins nobody,
    never anna-m, whose name anna's begins. anna-m keys Ukraine's code for op5 to transfer
    her caller: Asterisk refuses it (Georgia's codes only), and her call goes on."""
    config, _ = twins
    service.settings["HOTLINE_API_TOKENS"] = (
        f"supervisor@ua-legal-aid={UA_SUPERVISOR},supervisor@ge-legal-aid={GE_SUPERVISOR}"
    )
    service.start(config=config)
    softphone("anna", talk_ms=90_000)
    anna_m = softphone("anna-m", talk_ms=30_000, refer_to=UKRAINIAN_CODE, speaks=True)
    sup1 = softphone("sup1", ring_ms=4000, talk_ms=3000)
    sup2 = softphone("sup2", ring_ms=500, talk_ms=3000)
    service.login("anna", "anna-m")
    ukrainian = asyncio.create_task(call(*UKRAINE, caller="380501110011", hold_ms=90_000))
    georgian = asyncio.create_task(call(*GEORGIA, caller="995555110012", hold_ms=90_000))
    await talking(service, "anna")
    await talking(service, "anna-m")

    for token, operator, supervisor, phone in (
        (UA_SUPERVISOR, "anna", "sup1", sup1),
        (GE_SUPERVISOR, "anna-m", "sup2", sup2),
    ):
        mark = asterisk.log_mark()
        reply = spy(service, token, operator, supervisor)
        assert reply.status_code == 202, reply.text
        channel = await spied(asterisk, mark)
        assert own(channel, operator), f"{supervisor} joined {channel}, not {operator}"
        deadline = time.monotonic() + 15
        while phone.answered() < 1:
            assert time.monotonic() < deadline, f"{supervisor} did not answer"
            await asyncio.sleep(0.3)
        await asyncio.sleep(4)  # (the supervisor hangs up after 3 s)

    # anna's call ends while sup1's phone rings (4 s): sup1 then joins nobody's call
    mark = asterisk.log_mark()
    earlier = {c for c in asterisk.channels() if own(c, "sup1")}
    reply = spy(service, UA_SUPERVISOR, "anna", "sup1")
    assert reply.status_code == 202, reply.text
    deadline = time.monotonic() + 10
    while not (ringing := {c for c in asterisk.channels() if own(c, "sup1")} - earlier):
        assert time.monotonic() < deadline, "sup1 was not rung again"
        await asyncio.sleep(0.1)
    (anna,) = [c for c in asterisk.channels() if own(c, "anna")]
    asterisk.sandbox.cli(f"channel request hangup {anna}")
    deadline = time.monotonic() + 20
    while sup1.answered() < 2:
        assert time.monotonic() < deadline, "sup1 did not answer again"
        await asyncio.sleep(0.3)
    await asyncio.sleep(2)
    after = asterisk.log_since(mark)
    (again,) = ringing
    assert f"Attaching spy channel {again} to" not in after, after[-3000:]
    assert "Spying on channel PJSIP/anna-m-" not in after, after[-3000:]
    await ukrainian

    record = service.record((await georgian).call_id, wait=60)
    assert "SIP/2.0 404" in "\n".join(anna_m.messages_of(sent=False))
    assert (record["operator"], record["transfers"]) == ("anna-m", []), record
    assert [e["data"]["supervisor"] for e in record["events"] if e["kind"] == "call.spy"] == [
        "sup2"
    ]


def extensions(asterisk: Asterisk, context: str) -> dict[str, str]:
    """The extensions of a dialplan context as Asterisk runs it, with what each does first."""
    out = asterisk.sandbox.cli(f"dialplan show {context}").stdout
    return dict(re.findall(r"'([^']+)' =>\s+1\.\s+(\S+)", out))


def test_an_operators_transfer_codes_reach_their_own_organisations_targets(
    asterisk: Asterisk, twins: tuple[Path, Deployment]
) -> None:
    """In the dialplan Asterisk runs: each organisation's transfer context (where its
    operators' REFERs, ## and *2 go) names exactly its own lines, operators and centres, by
    id and by code, each code its own target; its operators' context dials exactly their
    colleagues. No supervisor is anyone's target."""
    _, deployment = twins
    for org in deployment.organisations.values():
        found = extensions(asterisk, f"hotline-transfer-{org.id}")
        targets = org.lines | org.operators | org.centres
        assert set(found) == targets | set(org.codes), (org.id, sorted(found))
        for code, target in org.codes.items():
            assert found[code] == f"Goto(hotline-transfer,{target},1)", (org.id, code)
        assert not set(found) & set(deployment.supervisors)
        dialled = extensions(asterisk, f"operators-{org.id}")
        colleagues = {e for e, app in dialled.items() if app.startswith("Dial(")}
        assert colleagues == set(org.operators), (org.id, sorted(dialled))
