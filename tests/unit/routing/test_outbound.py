"""Where callbacks may go, and how often: the config's patterns and hourly caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.outbound import CallbackPolicy, capped

POLICY = CallbackPolicy.of([r"(\+?380|0)(50|66|67)[0-9]{7}"], per_number=2, per_hour=3)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "allowed"),
    [
        ("380501234567", True),
        ("+380661112233", True),
        ("0671112233", True),
        ("0900123456", False),  # premium rate
        ("+447700900123", False),  # abroad
        ("380501234567999", False),  # matched whole, not as a prefix
        ("anonymous", False),
        ("", False),
    ],
)
def test_only_numbers_matching_a_pattern_whole(number: str, allowed: bool) -> None:
    assert (POLICY.refuses(number) is None) is allowed


def test_no_patterns_no_callbacks() -> None:
    assert CallbackPolicy((), 1, 1).refuses("380501234567") is not None


def test_caps_per_number_and_in_all_and_when_they_lift() -> None:
    dialled = [(NOW, "380501234567"), (NOW + timedelta(minutes=10), "380501234567")]
    at = NOW + timedelta(minutes=20)
    why, until = capped(POLICY, dialled, "380501234567", at) or ("", None)
    assert "2 callbacks to this number" in why and until == NOW + timedelta(hours=1)
    assert capped(POLICY, dialled, "380661112233", at) is None
    dialled.append((NOW + timedelta(minutes=30), "380661112233"))
    why, until = capped(POLICY, dialled, "0671112233", NOW + timedelta(minutes=40)) or ("", None)
    assert "3 callbacks in the last hour" in why and until == NOW + timedelta(hours=1)
    # an hour after the first, one call less counts
    assert capped(POLICY, dialled, "0671112233", NOW + timedelta(minutes=61)) is None
    assert capped(POLICY, dialled, "380501234567", NOW + timedelta(minutes=61)) is None


def test_a_number_never_allowed_is_refused_for_good() -> None:
    why, until = capped(POLICY, [], "0900123456", NOW) or ("", NOW)
    assert "allowed patterns" in why and until is None
