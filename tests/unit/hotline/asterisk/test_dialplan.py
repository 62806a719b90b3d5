"""The dialplan speaks the contract's words and no other: every FastAGI route it calls is
served, every event it raises is one the service reads, every result it tests is one the
service sets, every variable is named in
hotline/asterisk/dialplan.py, every context the service sends a channel to exists. A typo on
either side would otherwise send callers to the fallback queue without a word."""

from __future__ import annotations

import re
from pathlib import Path

from hotline.asterisk import messages
from hotline.asterisk.dialplan import (
    Context,
    Event,
    Result,
    Route,
    Var,
    organisation_of_transfer,
    ring,
    rung,
    transfer_context,
)
from hotline.asterisk.render import extensions
from hotline.config.deployment import Deployment

ROOT = Path(__file__).resolve().parents[4]
STATIC = (ROOT / "dialplans/extensions.conf").read_text()


def dialplan(deployment: Deployment) -> str:
    return STATIC + extensions(deployment, "agi://127.0.0.1:4573", "secret")


def test_every_route_the_dialplan_calls_is_served_and_every_route_is_called(
    deployment: Deployment,
) -> None:
    called = set(re.findall(r"\$\{HOTLINE_AGI\}/([a-z-]+)", dialplan(deployment)))
    assert called == {route.value for route in Route}


def test_every_event_the_dialplan_raises_is_read_and_every_event_is_raised(
    deployment: Deployment,
) -> None:
    raised = re.findall(r"UserEvent\((\w+),(.*)\)$", dialplan(deployment), re.M)
    assert {name for name, _ in raised} == {event.value for event in Event}
    for name, body in raised:  # as Asterisk sends it: every field the service needs is there
        fields = dict.fromkeys(re.findall(r"(?:^|,)(\w+): ", body), "7")
        parsed = messages.parse({"Event": "UserEvent", "UserEvent": name, **fields})
        assert parsed is not None, name


def test_every_result_the_dialplan_reads_or_sets_is_one_the_service_sets() -> None:
    read = set(re.findall(r'"\$\{HOTLINE_RESULT\}" !?= "([a-z]*)"', STATIC))
    written = set(re.findall(r"Set\(HOTLINE_RESULT=([a-z]*)\)", STATIC))
    assert read and written
    assert (read | written) - {""} <= {result.value for result in Result}
    # the results that move a caller on are each read somewhere
    assert set(Result) <= read


def test_every_variable_is_one_of_the_contract(deployment: Deployment) -> None:
    used = set(re.findall(r"\b(HOTLINE_[A-Z_]+?)(?:_\$|\b)", dialplan(deployment)))
    assert used <= {var.value for var in Var}, used - {var.value for var in Var}


def test_every_context_the_service_sends_to_exists(deployment: Deployment) -> None:
    defined = set(re.findall(r"^\[([a-z0-9-]+)\]", dialplan(deployment), re.M))
    assert {context.value for context in Context} <= defined
    for organisation in deployment.organisations:
        assert transfer_context(organisation) in defined
        assert organisation_of_transfer(transfer_context(organisation)) == organisation
    assert organisation_of_transfer("hotline-connect") is None


def test_a_ring_carries_its_operator_and_length_in_one_extension() -> None:
    assert ring("ge1", 14.6) == "ge1.15"
    assert ring("op-2", 0.2) == "op-2.1"  # never a ring of no time
    assert rung(ring("ua_op3", 30)) == "ua_op3"
    assert rung("ge1") == "ge1"  # from an instance that sent no length: the shared one
    # their desk's phone too, while its session holds credentials
    assert ring("ge1", 20, desk=True) == "ge1.20.desk" and rung("ge1.20.desk") == "ge1"
    assert '"${CUT(EXTEN,.,3)}" = "desk"]?&PJSIP/${CUT(EXTEN,.,1)}.desk' in STATIC
    connect = STATIC[STATIC.index("[hotline-connect]") :]
    assert "PJSIP/${CUT(EXTEN,.,1)}" in connect.split("\n\n")[0]
