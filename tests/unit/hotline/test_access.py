"""Tokens and roles: configured ones parsed strictly, stored ones hashed."""

from __future__ import annotations

import re

import pytest

from hotline.api.access import Principal, Role, TokenError, mask, parse_tokens, token_hash


def test_tokens_from_the_environment() -> None:
    hashed = token_hash("wallboard-token-2026")
    found = parse_tokens(
        f"viewer=viewer-token-2026, operator:op1=operator-token-2026, viewer=sha256:{hashed}",
        {"op1": "ua"},
    )
    assert found == {
        token_hash("viewer-token-2026"): Principal(Role.VIEWER, None, "env:1"),
        token_hash("operator-token-2026"): Principal(Role.OPERATOR, "op1", "env:2", "ua"),
        hashed: Principal(Role.VIEWER, None, "env:3"),
    }
    assert parse_tokens("", {"op1": "ua"}) == {}


def test_a_token_of_one_organisation_sees_that_organisation_only() -> None:
    found = parse_tokens(
        "supervisor@ge=georgian-supervisor-2026, viewer=platform-viewer-2026",
        {"op1": "ua", "ge1": "ge"},
    )
    georgian, everyone = (
        found[token_hash("georgian-supervisor-2026")],
        found[token_hash("platform-viewer-2026")],
    )
    assert (georgian.organisation, everyone.organisation) == ("ge", None)
    assert georgian.sees("ge") and not georgian.sees("ua") and not georgian.sees(None)
    assert everyone.sees("ge") and everyone.sees("ua") and everyone.sees(None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("viewer", "entry 1: expected role[:operator][@organisation]=token"),
        ("viewer@xx=viewer-token-2026", "entry 1: unknown organisation 'xx' (one of: ge, ua)"),
        ("operator:op1@ge=operator-token-2026", "entry 1: op1 belongs to ua"),
        ("viewer=viewer-token-2026,boss=b", "entry 2: unknown role 'boss'"),
        ("viewer=short", "entry 1: the token is too weak: 5 characters"),
        ("operator=x", "entry 1: an operator token names its operator"),
        ("operator:op9=x", "entry 1: an operator token names its operator"),
        ("viewer=sha256:abc", "entry 1: a sha256: value has 64 hexadecimal digits"),
    ],
)
def test_a_malformed_entry_is_named(spec: str, message: str) -> None:
    with pytest.raises(TokenError, match=re.escape(message)):
        parse_tokens(spec, {"op1": "ua"}, ["ge"])


def test_numbers_are_masked_but_for_their_last_two_digits() -> None:
    assert mask("380501234567") == "**********67"
    assert mask("123") == "***"
    assert mask("") == ""
    assert mask("anonymous") == "anonymous"  # no number in it
