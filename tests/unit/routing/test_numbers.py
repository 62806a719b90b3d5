"""Telephone numbers read in whatever form they come: one caller, whatever the carrier sent;
what is no number kept as it came; the forms older rows were stored in; the carrier's form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import numbers


@pytest.mark.parametrize(
    ("raw", "region", "stored"),
    [
        # the three forms a Ukrainian carrier sends one mobile in: one caller
        ("0501234567", "UA", "+380501234567"),
        ("380501234567", "UA", "+380501234567"),
        ("+380501234567", "UA", "+380501234567"),
        ("+380 50 123-45-67", "UA", "+380501234567"),  # as a person writes it in an API
        # the international forms whatever the organisation's country (or none)
        ("380501234567", "GE", "+380501234567"),
        ("380501234567", None, "+380501234567"),
        ("+995555123456", "UA", "+995555123456"),
        ("995555123456", "UA", "+995555123456"),
        # a Georgian mobile, nationally: nine digits, no trunk prefix
        ("555123456", "GE", "+995555123456"),
        ("0322920055", "GE", "+995322920055"),
        ("442071234567", "UA", "+442071234567"),
        # no number: kept as it came
        ("anonymous", "UA", "anonymous"),
        ("unknown", "UA", "unknown"),
        ("", "UA", ""),
        ("112", "UA", "112"),  # a short code
        ("2145145", "UA", "2145145"),  # no Ukrainian number: never someone's +3802145145
        ("0501234567", None, "0501234567"),  # national, and no country to read it in
        ("op1", "UA", "op1"),
        ("=1+2", "UA", "=1+2"),
        ("+1 212 555 0100 ext 5", "US", "+1 212 555 0100 ext 5"),  # an extension: no number
        ("9" * 200, "UA", "9" * 200),
    ],
)
def test_a_number_is_stored_in_one_form(raw: str, region: str | None, stored: str) -> None:
    assert numbers.normalise(raw, region) == stored


@pytest.mark.parametrize(
    ("number", "country", "kinds"),
    [
        ("+380501234567", "UA", ("mobile",)),
        ("+380442345678", "UA", ("fixed_line",)),
        ("+380900212345", "UA", ("premium_rate",)),
        ("+380800213103", "UA", ("toll_free",)),
        ("+995555123456", "GE", ("mobile",)),
        ("+12125550100", "US", ("fixed_line", "mobile")),  # the US plan tells them apart not
        ("112", None, ()),
        ("anonymous", None, ()),
    ],
)
def test_a_numbers_country_and_type(number: str, country: str | None, kinds: tuple[str]) -> None:
    assert numbers.country(number) == country
    assert numbers.kinds(number) == kinds


def test_the_forms_older_rows_may_hold() -> None:
    assert numbers.forms("+380501234567") == ("+380501234567", "380501234567", "0501234567")
    assert numbers.forms("+995555123456") == ("+995555123456", "995555123456", "555123456")
    assert numbers.forms("anonymous") == ("anonymous",)


@pytest.mark.parametrize(
    ("number", "form", "dialled"),
    [
        ("+380501234567", "international", "380501234567"),  # today's: Kannel, the carrier
        ("+380501234567", "e164", "+380501234567"),
        ("anonymous", "international", "anonymous"),
        ("380501234567", "international", "380501234567"),  # (dialling twice changes nothing)
    ],
)
def test_the_carriers_form(number: str, form: numbers.DialForm, dialled: str) -> None:
    assert numbers.dial(number, form) == dialled


def test_a_config_is_told_why_a_number_is_none() -> None:
    assert (
        numbers.unreadable("0440", "UA")
        == "'0440' is no valid telephone number in UA's numbering plan"
    )
    assert "has no country to read a national one in" in numbers.unreadable("0440000103", None)


@given(st.text(max_size=40), st.sampled_from(["UA", "GE", "GB", None]))
def test_whatever_a_stranger_sends_never_crashes_and_reads_the_same_twice(
    raw: str, region: str | None
) -> None:
    stored = numbers.normalise(raw, region)
    assert numbers.normalise(stored, region) == stored
    assert stored == raw.strip() or stored.startswith("+")


@given(st.sampled_from(["50", "66", "67", "93", "44", "32"]), st.integers(1_000_000, 9_999_999))
def test_every_form_of_a_ukrainian_number_is_one_caller(code: str, rest: int) -> None:
    e164 = numbers.normalise(f"0{code}{rest}", "UA")
    for form in numbers.forms(e164):
        assert numbers.normalise(form, "UA") == e164
