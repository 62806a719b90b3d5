"""The outbox's vocabulary: a message to send, and the composers that make messages of events.

A composer is a pure function of one event (no I/O, no clock: it runs inside the database
transaction that writes the event). What it returns is sent at least once, in order per
(channel, recipient, key), by the deliverer of the active instance.

Register one in :func:`hotline.app.build` (``composers=[...]``); the escalation's composer and
the webhooks' are examples.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hotline.events import CallEvent

log = logging.getLogger(__name__)

#: The doors a message can leave by.
Channel = Literal["sms", "email", "webhook"]
CHANNELS: tuple[Channel, ...] = ("sms", "email", "webhook")


@dataclass(frozen=True)
class OutboxMessage:
    """One message to send.

    ``id``: unique and stable (e.g. ``f"{event.id}:sms:{to}"``): written once, and sent as the
    webhook's ``webhook-id`` (no ``.`` in a webhook's id: the signature is over ``id.time.body``).
    ``key``: messages of one key to one recipient are delivered in order (a report's ref, a
    call's id). ``payload``: sms ``{"text"}``; email ``{"subject", "text"}``; webhook: the
    JSON body."""

    id: str
    organisation: str
    channel: Channel
    to: str
    key: str
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"outbox message {self.id}: unknown channel {self.channel!r}")
        if not self.id or len(self.id) > 255:
            raise ValueError(f"outbox message id {self.id!r}: 1 to 255 characters")


Composer = Callable[[CallEvent], Iterable[OutboxMessage]]


def compose(
    composers: Sequence[Composer], events: Iterable[CallEvent]
) -> list[tuple[str, OutboxMessage]]:
    """Every composer's messages for ``events`` with the id of the event that caused each, in
    the events' order, each message id once. A composer that fails loses its messages for that
    event, loudly, never the event itself."""
    found: dict[str, tuple[str, OutboxMessage]] = {}
    for event in events:
        for composer in composers:
            try:
                made = list(composer(event))
            except Exception:
                log.exception(
                    "outbox: composer %r failed on %s event %s: its messages are lost",
                    getattr(composer, "__name__", composer),
                    event.kind,
                    event.id,
                )
                continue
            for message in made:
                found.setdefault(message.id, (event.id, message))
    return list(found.values())
