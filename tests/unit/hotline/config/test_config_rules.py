"""Each organisation's queue rules, as the config reads them: its own ``queues:`` over the
shared ones, value by value; the rest of the service asks :meth:`Deployment.rules_of` (or
its shorthand :meth:`Deployment.policy_of`)."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.config.deployment import Policy, Rules
from hotline.config.loading import ConfigError, parse
from tests.unit.hotline.config.test_config import broken

GE = "organisations.ge-legal-aid."


def georgia(**rules: Any) -> Any:
    """A change of the default config: Georgia's call centre sets these rules."""
    return lambda c: c["organisations"]["ge-legal-aid"].update(queues=rules)


def test_an_organisation_overrides_the_shared_rules_value_by_value() -> None:
    own = {"ring_timeout": 8, "wrap_up": 45, "pause_reasons": ["supervision", "break"]}
    deployment = parse(broken(georgia(**own)))
    shared = Policy()  # the default config's values are the schema's defaults
    assert deployment.policy == shared
    rules = deployment.organisations["ge-legal-aid"].policy
    assert (rules.ring_timeout, rules.wrap_up, rules.pause_reasons) == (
        8,
        45,
        ("supervision", "break"),
    )
    # what it does not set is the shared value
    assert (rules.announce_every, rules.resolutions) == (shared.announce_every, shared.resolutions)
    for other in ("ua-legal-aid", "ge-rehabilitation"):
        assert deployment.organisations[other].policy == shared


@pytest.mark.parametrize(
    ("what", "organisation"),
    [
        ({"organisation": "ge-legal-aid"}, "ge-legal-aid"),
        ({"line": "ge-consultation"}, "ge-legal-aid"),
        ({"operator": "ge1"}, "ge-legal-aid"),
        ({"line": "consultation"}, "ua-legal-aid"),
        ({"operator": "gr1"}, "ge-rehabilitation"),
        ({"line": "nowhere"}, None),  # no organisation's: the shared rules
        ({}, None),
    ],
)
def test_the_rules_of_a_line_or_an_operator_are_its_organisations(
    what: dict[str, str], organisation: str | None
) -> None:
    deployment = parse(broken(georgia(wrap_up=45, caller_history_days=7)))
    expected = (
        deployment.organisations[organisation].policy
        if organisation is not None
        else deployment.policy
    )
    assert deployment.policy_of(**what) is expected


@pytest.mark.parametrize(
    ("what", "organisation", "timezone"),
    [
        ({"organisation": "ge-rehabilitation"}, "ge-rehabilitation", "Asia/Tbilisi"),
        ({"line": "ge-consultation"}, "ge-legal-aid", "Asia/Tbilisi"),
        ({"operator": "op3"}, "ua-legal-aid", "Europe/Kyiv"),
        ({"organisation": "nowhere"}, None, "Europe/Kyiv"),  # the hotline's: its first office's
        ({"operator": "nobody"}, None, "Europe/Kyiv"),
        ({}, None, "Europe/Kyiv"),
    ],
)
def test_an_organisations_own_rules_else_the_deployments(
    what: dict[str, str], organisation: str | None, timezone: str
) -> None:
    deployment = parse(broken(georgia(wrap_up=45)))
    owner = deployment.organisations[organisation] if organisation is not None else deployment
    rules = deployment.rules_of(**what)
    assert rules == Rules(owner.policy, timezone)
    assert rules.policy is owner.policy


def test_targets_are_the_same_rules_under_their_older_name() -> None:
    raw = broken(
        lambda c: c["organisations"]["ge-legal-aid"].update(
            targets={"service_level_threshold": 30, "notification_target": 600},
            queues={"service_level_target": 0.9},
        )
    )
    deployment = parse(raw)
    georgia_, ukraine = (deployment.policy_of(o) for o in ("ge-legal-aid", "ua-legal-aid"))
    assert (georgia_.service_level_threshold, georgia_.service_level_target) == (30, 0.9)
    assert (georgia_.notification_target, ukraine.service_level_threshold) == (600, 20)
    assert deployment.notification_target("ge-consultation") == 600
    assert deployment.notification_target("detention") == 900


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (georgia(wrap_up=-1), GE + "queues.wrap_up: Input should be greater than or equal to 0"),
        (georgia(ring_timeout=600), GE + "queues.ring_timeout: Input should be less than or equal"),
        (georgia(colour="red"), GE + "queues.colour: unknown setting"),
        (georgia(pause_reasons=[]), GE + "queues.pause_reasons: List should have at least 1 item"),
        (
            georgia(resolutions=["Advice Given"]),
            GE + "queues.resolutions.0: 'Advice Given' does not match",
        ),
        (
            lambda c: c["organisations"]["ge-legal-aid"].update(
                targets={"notification_target": 600}, queues={"notification_target": 300}
            ),
            GE + "targets.notification_target: also set under queues: give it once, under queues",
        ),
        (
            lambda c: c["organisations"]["ge-legal-aid"].update(queues=["wrap_up"]),
            GE + "queues: Input should be a valid dictionary",
        ),
    ],
)
def test_a_wrong_rule_of_an_organisation_is_named(change: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(broken(change), "config/hotline.yaml")
    assert f"config/hotline.yaml: {message}" in str(caught.value)
