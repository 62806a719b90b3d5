"""Where callbacks may go, and how often: the config's countries and types of number, each
organisation's hourly cap
(an organisation may set a lower one), the cap per number, and the limit on one calling
number's requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.outbound import Allowed, CallbackPolicy, Dial, Request, capped, too_many_requests

POLICY = CallbackPolicy.of(
    [Allowed.of("UA", ["mobile"]), Allowed.of("GE", ["mobile", "fixed_line"])],
    per_number=2,
    per_hour=3,
    per_caller=2,
    own_per_hour={"ge": 1},
)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def minutes(m: float) -> datetime:
    return NOW + timedelta(minutes=m)


@pytest.mark.parametrize(
    ("number", "allowed"),
    [
        ("+380501234567", True),  # a Ukrainian mobile
        ("+380661112233", True),
        ("380671112233", True),  # (the carrier's form without "+" reads as the same)
        ("+995555123456", True),  # a Georgian mobile
        ("+995322920055", True),  # a Georgian landline: GE allows fixed lines
        ("+380442345678", False),  # a Ukrainian landline: UA allows mobiles only here
        ("+380900212345", False),  # premium rate
        ("+380800213103", False),  # toll free: not a type listed
        ("+447400123456", False),  # abroad
        ("+380501234567999", False),  # too long: no number
        ("0501234567", False),  # a national form: the edge reads it in its country first
        ("112", False),  # a short number
        ("anonymous", False),
        ("", False),
    ],
)
def test_only_numbers_of_an_allowed_country_and_type(number: str, allowed: bool) -> None:
    assert (POLICY.refuses(number) is None) is allowed


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("+447400123456", "a number of GB: no callback goes there (trunk.callbacks.allowed)"),
        (
            "+380900212345",
            "a premium_rate number of UA: not a type callbacks dial (trunk.callbacks.allowed)",
        ),
        ("+380442345678", "a fixed_line number of UA: not a type callbacks dial"),
        ("112", "not a valid telephone number (trunk.callbacks.allowed)"),
    ],
)
def test_a_refusal_says_what_the_number_is(number: str, why: str) -> None:
    refused = POLICY.refuses(number)
    assert refused is not None and refused.startswith(why), refused


def test_a_rule_cannot_let_premium_rate_numbers_through() -> None:
    with pytest.raises(ValueError, match="premium_rate"):
        Allowed.of("UA", ["mobile", "premium_rate"])


def test_no_patterns_no_callbacks() -> None:
    assert CallbackPolicy((), 1, 1).refuses("380501234567") is not None


UA = [Dial(minutes(0), "380501111111", "ua"), Dial(minutes(10), "380502222222", "ua")]


@pytest.mark.parametrize(
    ("dialled", "number", "organisation", "at", "why", "until"),
    [
        # each organisation its own 3 an hour: ua's two leave ua one, and ge its own
        (UA, "380503333333", "ua", 20, None, None),
        (
            [*UA, Dial(minutes(15), "380504444444", "ua")],
            "380503333333",
            "ua",
            20,
            "3 calls of this organisation in the last hour (trunk.callbacks.per_hour)",
            60,
        ),
        ([*UA, Dial(minutes(15), "380504444444", "ua")], "380503333333", "hotline", 20, None, None),
        # ge set a cap of its own, 1: another organisation's calls never count in it
        ([*UA, Dial(minutes(15), "380504444444", "ua")], "380503333333", "ge", 20, None, None),
        (
            [Dial(minutes(5), "380504444444", "ge")],
            "380503333333",
            "ge",
            20,
            "1 calls of this organisation in the last hour (organisations.ge.callbacks.per_hour)",
            65,
        ),
        # an hour after the first, one call less counts
        ([*UA, Dial(minutes(15), "380504444444", "ua")], "380503333333", "ua", 61, None, None),
        # per number, whoever calls it
        (
            [Dial(minutes(0), "380501111111", "ua"), Dial(minutes(5), "380501111111", "ge")],
            "380501111111",
            "hotline",
            20,
            "2 callbacks to this number in the last hour (trunk.callbacks.per_number_per_hour)",
            60,
        ),
        # never: a number of a type no rule allows
        ([], "+380900212345", "ua", 0, "a premium_rate number of UA", None),
    ],
)
def test_the_hourly_caps_per_organisation_and_per_number(
    dialled: list[Dial],
    number: str,
    organisation: str,
    at: float,
    why: str | None,
    until: float | None,
) -> None:
    refused = capped(POLICY, dialled, number, organisation, minutes(at))
    if why is None:
        assert refused is None
    else:
        assert refused is not None and refused[0].startswith(why)
        assert refused[1] == (minutes(until) if until is not None else None)


ASKED = [Request(minutes(0), "380501111111", "ua"), Request(minutes(30), "380501111111", "ua")]


@pytest.mark.parametrize(
    ("requests", "caller", "organisation", "at", "refused"),
    [
        (ASKED[:1], "380501111111", "ua", 40, False),
        (ASKED, "380501111111", "ua", 40, True),  # a third request within the hour
        (ASKED, "380501111111", "ua", 61, False),  # the first is an hour old
        (ASKED, "380502222222", "ua", 40, False),  # another caller
        (ASKED, "380501111111", "ge", 40, False),  # another organisation's line
        # a withheld number tells no caller apart: never refused here (the cap bounds it)
        ([Request(minutes(m), "", "ua") for m in range(5)], "", "ua", 40, False),
        ([Request(minutes(m), "anonymous", "ua") for m in range(5)], "anonymous", "ua", 9, False),
    ],
)
def test_the_limit_on_one_calling_numbers_requests(
    requests: list[Request], caller: str, organisation: str, at: float, refused: bool
) -> None:
    why = too_many_requests(POLICY, requests, caller, organisation, minutes(at))
    assert (why is not None) is refused
    if why is not None:
        assert why == (
            "2 callback requests from this number in the last hour "
            "(trunk.callbacks.per_caller_per_hour)"
        )
