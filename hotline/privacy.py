"""What may be shown of a caller where they should not be recognised: one policy, for the
API's viewers and for the service's own log."""

from __future__ import annotations


def mask(number: str) -> str:
    """A caller number for eyes that should not see it (a viewer, the service's log): only
    its last two digits. What is no number (``unknown``, ``anonymous``: no digit in it) is
    shown as it is."""
    if not any(ch.isdigit() for ch in number):
        return number
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 2) + number[-2:]


def identifies(number: str) -> bool:
    """Whether a caller number tells one caller from another (a withheld one does not:
    ``unknown``, ``anonymous``, empty, a short code): only such a number links a call to
    the caller's earlier calls, reports and callbacks."""
    digits = number.removeprefix("+")
    return digits.isdigit() and 5 <= len(digits) <= 20
