"""The webhooks' composer: which events an organisation's receivers get, and in what words.

``reports``: every change of a detention report (``notification.*`` and, as the escalation
adds them, ``escalation.*``: matched by prefix, so that a new kind flows without a change
here), in order per report (the key: its reference). ``calls``: each call's end and wrap-up,
in order per call. Only the event's own organisation's receivers get it (the organisation of
the hotline number the call dialled: :mod:`hotline.ownership`), and never a personal field
its receiver has not asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from hotline.config.deployment import Deployment, Webhook
from hotline.events import CallEvent
from hotline.outbound.outbox import Composer, OutboxMessage
from routing.events import to_data

#: Kinds (by prefix) of the ``reports`` topic, and kinds of the ``calls`` topic.
REPORT_KINDS = ("notification.", "escalation.")
CALL_KINDS = frozenset({"call.ended", "call.wrapped_up"})

#: The personal fields of events, by what a receiver must list in ``personal`` to get them
#: (a field of a new kind that is personal belongs here: the rest pass as they are).
PERSONAL = {
    "caller": frozenset({"caller", "caller_name", "name"}),
    "number": frozenset({"number", "callback_number", "to"}),
    "note": frozenset({"note"}),
}
#: Never sent: where a recording lies on the hotline's disk is nobody else's business.
NEVER = frozenset({"recording"})


def topic(kind: str) -> str | None:
    """The receivers' topic of an event kind (None: none)."""
    if kind.startswith(REPORT_KINDS):
        return "reports"
    return "calls" if kind in CALL_KINDS else None


def data(event: CallEvent, personal: frozenset[str]) -> dict[str, Any]:
    """What a receiver that asked for ``personal`` is told of ``event``."""
    hidden = set(NEVER)
    for what, names in PERSONAL.items():
        if what not in personal:
            hidden |= names
    told = {k: v for k, v in to_data(event.fact).items() if k not in hidden}
    return {"call": event.call_id, **told} if event.call_id else told


def payload(event: CallEvent, hook: Webhook) -> dict[str, Any]:
    """The JSON body (Standard Webhooks' ``type``, ``timestamp``, ``data``)."""
    return {
        "type": event.kind,
        "timestamp": event.at.isoformat(),
        "data": data(event, hook.personal),
    }


def message_id(event: CallEvent, url: str) -> str:
    """Stable across retries and instances, one per event and receiver (no ``.``: it is
    signed as ``id.timestamp.body``)."""
    return f"msg_{event.id}_{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def webhooks(deployment: Deployment) -> Composer:
    """The composer for ``deployment``'s organisations' webhooks."""

    def compose(event: CallEvent) -> Iterator[OutboxMessage]:
        org = deployment.organisations.get(event.organisation or "")
        found = topic(event.kind)
        if org is None or found is None:
            return
        ref = getattr(event.fact, "ref", None)
        key = f"report:{ref}" if found == "reports" and isinstance(ref, str) else event.call_id
        for hook in org.webhooks:
            if found in hook.events:
                yield OutboxMessage(
                    message_id(event, hook.url),
                    org.id,
                    "webhook",
                    hook.url,
                    key,
                    payload(event, hook),
                )

    return compose
