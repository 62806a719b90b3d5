"""The one stream of domain events: every step of every call, in order.

The call flow publishes; the call log, the API and (later) metrics subscribe. Nobody in the
call flow calls a consumer directly, and a slow consumer never slows a call.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from routing.events import CallEnded, Fact, from_data, to_data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallEvent:
    """Something that happened to a call (``call_id`` empty: to an operator): ``fact`` says
    what (routing.events).

    ``seq`` orders a call's events from 1; ``id`` is unique, so a replayed event is written once;
    ``organisation``: whose it is (None: no organisation's, or not known), set as it is
    published (:class:`hotline.ownership.Ownership`).
    """

    call_id: str
    seq: int
    at: datetime
    fact: Fact
    id: str = ""
    organisation: str | None = None

    @property
    def kind(self) -> str:
        return self.fact.kind

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CallEvent:
        """The inverse of :meth:`as_json` (KeyError, TypeError or ValueError if malformed)."""
        data = raw["data"]
        if not isinstance(data, dict):
            raise TypeError("data is not an object")
        return cls(
            str(raw["call_id"]),
            int(raw["seq"]),
            datetime.fromisoformat(raw["at"]),
            from_data(str(raw["kind"]), data),
            str(raw["id"]),
            raw.get("organisation"),
        )

    def as_json(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "call_id": self.call_id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "data": to_data(self.fact),
        }
        if self.organisation is not None:
            out["organisation"] = self.organisation
        return out


Subscriber = Callable[[CallEvent], None]

#: How many of the latest events the bus keeps, for a listener that reconnects (an event
#: stream's Last-Event-ID): minutes of a busy hotline's events.
RECENT = 5000


class EventBus:
    """Fan-out of events to synchronous subscribers (fast, in-memory) and async queues."""

    def __init__(self, owner: Callable[[CallEvent], str | None] | None = None) -> None:
        #: Whose each event is (its organisation), decided as it is published.
        self.owner = owner
        self._subscribers: list[Subscriber] = []
        self._queues: list[asyncio.Queue[CallEvent]] = []
        self._seq: dict[str, int] = {}
        self._recent: deque[CallEvent] = deque(maxlen=RECENT)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def listen(self, maxsize: int = 10_000) -> asyncio.Queue[CallEvent]:
        queue: asyncio.Queue[CallEvent] = asyncio.Queue(maxsize)
        self._queues.append(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[CallEvent]) -> None:
        self._queues.remove(queue)

    def resume(self, last_seq: dict[str, int]) -> None:
        """Go on numbering calls that were under way when the service last stopped."""
        for call, seq in last_seq.items():
            self._seq[call] = max(seq, self._seq.get(call, 0))

    def seq(self, call: str) -> int:
        """The number of the call's last event so far (0: none, or it ended)."""
        return self._seq.get(call, 0)

    def under_way(self, call: str) -> bool:
        """Whether the call has events and no end yet (in this process, or resumed)."""
        return call in self._seq

    def since(self, event_id: str) -> list[CallEvent] | None:
        """The events published after the one with ``event_id``, oldest first; None when it
        is not among the latest RECENT (too old, or published by another process)."""
        after: list[CallEvent] = []
        for event in reversed(self._recent):
            if event.id == event_id:
                after.reverse()
                return after
            after.append(event)
        return None

    def forget(self, calls: Collection[str]) -> None:
        """Drop the recent events of ``calls`` (an erasure): never replayed to a stream (one
        that asks from one of them is told to read the state again)."""
        kept = [e for e in self._recent if e.call_id not in calls]
        self._recent.clear()
        self._recent.extend(kept)

    def publish(self, event: CallEvent) -> None:
        """Number the event in its call's order (from 1), give it an id, hand it to every
        consumer."""
        event = replace(event, id=event.id or uuid.uuid4().hex)
        if self.owner is not None and event.organisation is None:
            event = replace(event, organisation=self.owner(event))
        # (a fact that may come after the call's end, such as its wrap-up, does not reopen
        # it: numbered 0, after everything)
        if event.call_id and not (event.fact.after_end and event.call_id not in self._seq):
            seq = self._seq[event.call_id] = self._seq.get(event.call_id, 0) + 1
            event = replace(event, seq=seq)
            if isinstance(event.fact, CallEnded):
                self._seq.pop(event.call_id, None)
        self._recent.append(event)
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscriber, event.kind)
        for queue in self._queues:
            if queue.full():  # a stalled listener loses its oldest event, not the call its turn
                queue.get_nowait()
            queue.put_nowait(event)
