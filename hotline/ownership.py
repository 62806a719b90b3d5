"""Whose an event is: the organisation of the call it belongs to, decided once, as it is
published, for every reader (the event stream, webhooks).

A call belongs to the organisation whose hotline number it dialled, for its whole life: a
number the caller typed (a callback number) says nothing of whose the call is, and a
Ukrainian caller who types Georgia's hotline number as theirs is still Ukraine's caller.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from hotline.config.deployment import Deployment
from hotline.events import CallEvent
from routing import events as ev

#: Calls whose organisation is remembered after their start (their last events, a wrap-up or
#: a recording stored, may come well after the end): hours of a busy hotline's calls.
REMEMBERED = 50_000


class Ownership:
    """The organisation of each event (None: no organisation's, or not known: only a token of
    every organisation sees it)."""

    def __init__(
        self,
        deployment: Deployment,
        line_of_call: Callable[[str], str | None] = lambda _: None,
        line_of_notification: Callable[[str], str | None] = lambda _: None,
    ) -> None:
        self.deployment = deployment
        #: Where the queue has a call now (a callback restored after a restart, say).
        self.line_of_call = line_of_call
        self.line_of_notification = line_of_notification
        self._calls: OrderedDict[str, str] = OrderedDict()

    def __call__(self, event: CallEvent) -> str | None:
        call, fact = event.call_id, event.fact
        if isinstance(fact, ev.CallStarted):
            found = self._id(number=fact.number)  # the hotline number dialled
        elif call and call in self._calls:
            return self._calls[call]
        else:
            found = self._of_fact(fact) or (
                self._id(line=self.line_of_call(call)) if call else None
            )
        if call and found is not None:
            self._calls[call] = found
            while len(self._calls) > REMEMBERED:
                self._calls.popitem(last=False)
        return found

    def of_call(self, call: str) -> str | None:
        """The organisation of a call seen here (None: not seen, or forgotten)."""
        return self._calls.get(call)

    def _of_fact(self, fact: ev.Fact) -> str | None:
        """What the event's own fields say: its line's, operator's, supervisor's or office's
        organisation (never a number's: that is the caller's to type)."""
        if isinstance(fact, ev.NotificationHandled):
            return self._id(line=self.line_of_notification(fact.ref))
        for what in ("line", "operator", "supervisor", "office"):
            value = getattr(fact, what, None)
            if isinstance(value, str) and (found := self._id(**{what: value})):
                return found
        return None

    def _id(self, **what: str | None) -> str | None:
        found = self.deployment.organisation_of(**what)
        return found.id if found else None
