"""Telephone numbers as the hotline reads them: whatever form a carrier, a caller's keypad or
the config gives (``0501234567``, ``380501234567``, ``+380 50 123 45 67``), one form to store,
compare and count them by (E.164: ``+380501234567``), their country and type (mobile,
premium-rate, ...) for the callback rules, and the form the carrier is dialled in. Pure: the
numbering plans are the ``phonenumbers`` package's data, no I/O.

A number that is not one (``anonymous``, ``unknown``, a short code such as ``112``, a typing
mistake) is kept as it came: it is never an error here, and never the same caller as another.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

#: The types of number the callback rules name (phonenumbers' ``PhoneNumberType``, in lower
#: case). Premium-rate, shared-cost and the like are left out on purpose: no rule can let a
#: callback dial them (toll fraud), and a short code has no type at all.
Kind = Literal["mobile", "fixed_line", "toll_free", "voip", "personal_number", "uan"]
KINDS: tuple[Kind, ...] = get_args(Kind)

#: How the carrier wants numbers dialled: ``international`` (``380501234567``, the country
#: code without a ``+``: the form the sandbox's carrier and Kannel are given) or ``e164``
#: (``+380501234567``).
DialForm = Literal["international", "e164"]

_KINDS: dict[int, tuple[str, ...]] = {
    PhoneNumberType.MOBILE: ("mobile",),
    PhoneNumberType.FIXED_LINE: ("fixed_line",),
    # (where the plan does not tell them apart, as in the US, either rule lets it through)
    PhoneNumberType.FIXED_LINE_OR_MOBILE: ("fixed_line", "mobile"),
    PhoneNumberType.TOLL_FREE: ("toll_free",),
    PhoneNumberType.PREMIUM_RATE: ("premium_rate",),
    PhoneNumberType.SHARED_COST: ("shared_cost",),
    PhoneNumberType.VOIP: ("voip",),
    PhoneNumberType.PERSONAL_NUMBER: ("personal_number",),
    PhoneNumberType.PAGER: ("pager",),
    PhoneNumberType.UAN: ("uan",),
    PhoneNumberType.VOICEMAIL: ("voicemail",),
}

#: Longest input looked at: phonenumbers refuses more than 250 characters itself; a caller id
#: is a SIP user part a stranger writes, so nothing longer is even parsed.
_LONGEST = 64


def known_country(code: str) -> bool:
    """Whether ``code`` (ISO 3166 alpha-2, ``UA``) is a region phonenumbers has a plan of."""
    return code in phonenumbers.SUPPORTED_REGIONS


def parse(raw: str, region: str | None) -> PhoneNumber | None:
    """``raw`` as a number of the plan it belongs to, a national form read in ``region``
    (None: no national form is understood); None when it is no valid number of any plan."""
    text = raw.strip()
    if not text or len(text) > _LONGEST or not any(c.isdigit() for c in text):
        return None
    found = _possible(text, region)
    if found is None and text[0].isdigit() and not text.startswith("0"):
        # carriers often send the international form without its "+" (380501234567)
        found = _possible("+" + text, None)
    return found


def _possible(text: str, region: str | None) -> PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    # valid, not merely possible: a 7-digit short code or extension would otherwise become a
    # number of the region's plan (2145145 -> +3802145145) and be taken for someone's
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return number


def normalise(raw: str, region: str | None) -> str:
    """The form a number is stored, compared and counted by: E.164 (``+380501234567``) when
    it is a valid number (national forms read in ``region``), else ``raw`` as it came
    (``anonymous``, ``112``), only stripped of surrounding blanks."""
    number = parse(raw, region)
    if number is None:
        return raw.strip()
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalised(raw: str, region: str | None) -> bool:
    """Whether ``raw`` reads as a number (what :func:`normalise` turns into E.164)."""
    return parse(raw, region) is not None


def unreadable(raw: str, region: str | None) -> str:
    """Why ``raw`` is no number (for the config's checks)."""
    if region is None and not raw.strip().startswith("+"):
        return (
            f"{raw!r} is no number in international form, and its organisation has no "
            "country to read a national one in (set `country:` on the organisation or an "
            "office, or write it +380...)"
        )
    where = f" in {region}'s numbering plan" if region else ""
    return f"{raw!r} is no valid telephone number{where}"


def country(number: str) -> str | None:
    """The country (ISO 3166 alpha-2) of a number in international form; None: none (a
    national form, a short code, a number of no valid plan)."""
    parsed = parse(number, None)
    return None if parsed is None else phonenumbers.region_code_for_number(parsed)


def kinds(number: str) -> tuple[str, ...]:
    """The types of a number in international form (``("mobile",)``, ``("premium_rate",)``;
    ``()``: no valid number, so no type)."""
    parsed = parse(number, None)
    if parsed is None:
        return ()
    return _KINDS.get(phonenumbers.number_type(parsed), ())


def dial(number: str, form: DialForm) -> str:
    """``number`` (E.164) as the carrier is given it; what is no number is given as it is."""
    parsed = parse(number, None)
    if parsed is None:
        return number
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return e164 if form == "e164" else e164.removeprefix("+")


def forms(number: str) -> tuple[str, ...]:
    """Every form ``number`` (E.164) may have been stored in before numbers were normalised
    (the carrier's international form with and without ``+``, the national one), itself
    first: a caller's older calls are found by any of them. A number that is not one: only
    itself."""
    parsed = parse(number, None)
    if parsed is None:
        return (number,)
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    national = _digits(phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL))
    return tuple(_unique([number, e164, e164.removeprefix("+"), national]))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit() or c == "+")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
