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
