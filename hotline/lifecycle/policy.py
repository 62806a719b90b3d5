"""What retention and erasure decide, without I/O: which fields of the call log are personal,
what a personal value becomes (a keyed pseudonym, or nothing), and until when each
organisation's data of each kind is kept."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hotline.config.deployment import Deployment, Retention

#: The personal fields of each kind of event's data (the call log's ``events`` table, the
#: spool): caller numbers and names, the numbers callers type, SIP Call-IDs (they may name
#: the caller's host), notes. (``call.started``'s ``number`` is the hotline's own number: it
#: says whose the call is, and stays.)
PERSONAL: Mapping[str, tuple[str, ...]] = {
    "call.started": ("caller", "caller_name", "sip_call_id"),
    "callback.requested": ("number",),
    "callback.refused": ("number",),
    "callback.failed": ("number",),
    "call.centre_sms": ("number",),
    "call.wrapped_up": ("note",),
    "notification.stored": ("caller", "number"),
    "notification.handled": ("note",),
    "escalation.started": ("number",),
}

#: The personal columns of the call log's tables (what is free text: cleared, not hashed).
CALL_NUMBERS = ("caller", "callback_number")
CALL_CLEARED = ("caller_name", "sip_call_id", "note")
REPORT_NUMBERS = ("caller", "number")

#: What a pseudonym starts with: never a digit, so never taken for a number again.
MARK = "~"

#: A personal value's replacement: a pseudonym (retention) or nothing (erasure).
Replace = Callable[[str], str]


def pseudonym(key: bytes, value: str) -> str:
    """``value`` replaced by a keyed hash (the same number, the same pseudonym: repeat callers
    are still counted; without the key, no number can be tried against it). An empty value,
    or one already a pseudonym, stays as it is."""
    if not value or value.startswith(MARK):
        return value
    return MARK + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def erased(value: str) -> str:
    """What an erased personal value becomes: nothing that links it to anything."""
    return ""


def scrubbed(kind: str, data: Mapping[str, Any], replace: Replace) -> dict[str, Any]:
    """An event's ``data`` with its personal fields replaced (numbers) or cleared (text)."""
    out = dict(data)
    for name in PERSONAL.get(kind, ()):
        value = out.get(name)
        if value is None:
            continue
        if name in ("note", "caller_name", "sip_call_id"):
            out[name] = None if name == "note" else ""
        else:
            out[name] = replace(str(value))
    return out


@dataclass(frozen=True)
class Due:
    """An organisation's data due now: its calls started before ``calls_before`` (made
    ``call_log``: pseudonymise or delete), its reports stored before ``reports_before``, its
    conversation recordings made before ``recordings_before``."""

    organisation: str | None
    numbers: frozenset[str]
    lines: frozenset[str]
    calls_before: datetime
    call_log: str
    reports_before: datetime
    recordings_before: datetime


def due(deployment: Deployment, now: datetime) -> list[Due]:
    """Each organisation's cutoffs at ``now``; and last, what belongs to no organisation (a
    number no longer in the config): the shortest of every period, pseudonymised."""
    found = [
        _due(org.id, org.numbers, org.lines, org.retention, now)
        for org in deployment.organisations.values()
    ]
    kept = [org.retention for org in deployment.organisations.values()] or [Retention()]
    strictest = Retention(
        min(r.call_log_days for r in kept),
        "pseudonymise",
        min(r.reports_days for r in kept),
        min(r.recordings_days for r in kept),
    )
    return [*found, _due(None, frozenset(), frozenset(), strictest, now)]


def _due(
    organisation: str | None,
    numbers: frozenset[str],
    lines: frozenset[str],
    kept: Retention,
    now: datetime,
) -> Due:
    return Due(
        organisation,
        numbers,
        lines,
        now - timedelta(days=kept.call_log_days),
        kept.call_log,
        now - timedelta(days=kept.reports_days),
        now - timedelta(days=kept.recordings_days),
    )


def subject_hash(key: bytes, subject: str) -> str:
    """What the erasures table keeps of the number or call erased: a keyed hash (whether a
    number was erased can be asked with the key; nothing can be read back from it)."""
    return hmac.new(key, b"erasure:" + subject.encode(), hashlib.sha256).hexdigest()[:32]
