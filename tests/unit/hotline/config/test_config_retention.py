"""Each organisation's retention, as the config reads it: its own ``retention:`` over the
shared one, value by value; conversation recordings kept ``recordings.retention_days`` unless
it says otherwise; a wrong value named with its organisation."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.config.deployment import Retention
from hotline.config.loading import ConfigError, parse
from tests.unit.hotline.config.test_config import broken

GE = "organisations.ge-legal-aid."


def georgia(**kept: Any) -> Any:
    """A change of the default config: Georgia's call centre keeps data this long."""
    return lambda c: c["organisations"]["ge-legal-aid"].update(retention=kept)


def test_an_organisation_keeps_data_its_own_time_value_by_value() -> None:
    raw = broken(georgia(call_log_days=30, reports_days=14, call_log="delete"))
    raw["retention"] = {"call_log_days": 400, "reports_days": 200}
    raw["recordings"] = {"retention_days": 60}
    deployment = parse(raw)
    georgia_ = deployment.organisations["ge-legal-aid"].retention
    assert georgia_ == Retention(30, "delete", 14, 60)
    for other in ("ua-legal-aid", "ge-rehabilitation"):
        assert deployment.organisations[other].retention == Retention(400, "pseudonymise", 200, 60)


def test_the_defaults_pseudonymise_after_a_year_and_keep_recordings_90_days() -> None:
    deployment = parse(broken(lambda c: None))
    for org in deployment.organisations.values():
        assert org.retention == Retention(365, "pseudonymise", 365, 90)


def test_an_organisation_may_keep_its_recordings_shorter() -> None:
    deployment = parse(broken(georgia(recordings_days=7)))
    assert deployment.organisations["ge-legal-aid"].retention.recordings_days == 7
    assert deployment.organisations["ua-legal-aid"].retention.recordings_days == 90


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (georgia(call_log_days=0), GE + "retention.call_log_days: Input should be greater than"),
        (georgia(call_log="forget"), GE + "retention.call_log: Input should be 'pseudonymise'"),
        (georgia(keep_forever=True), GE + "retention.keep_forever: unknown setting"),
        (
            georgia(call_log_days=30, reports_days=90),
            GE + "retention.reports_days: 90 is more than call_log_days (30)",
        ),
        (
            lambda c: c.update(retention={"recordings_days": 5000}),
            "retention.recordings_days: Input should be less than or equal to 3650",
        ),
        (
            lambda c: c["organisations"]["ge-legal-aid"].update(retention=[30]),
            GE + "retention: Input should be a valid dictionary",
        ),
    ],
)
def test_a_wrong_retention_is_named(change: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(broken(change), "config/hotline.yaml")
    assert f"config/hotline.yaml: {message}" in str(caught.value)
