"""AMI events in, the service's words out: each event counted and timed for /metrics,
parsed (:mod:`hotline.asterisk.messages`), and handed to a :class:`Listener` as what it
means: a phone's state, a transfer the phones made, a caller the guard moved, a caller gone.
Nothing past this module reads an AMI field or a channel name."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hotline.asterisk import messages
from hotline.asterisk.dialplan import operator_of
from hotline.asterisk.messages import Hangup, PhoneState, Transferred
from hotline.figures import metrics
from routing.events import CallStarted

log = logging.getLogger(__name__)


class Listener(Protocol):
    """Who hears what Asterisk saw (the running service)."""

    def phone(self, state: PhoneState) -> None:
        """An operator's phone became reachable or not, busy or not."""
        ...

    def transferred(self, transfer: Transferred) -> None:
        """The phones completed an attended transfer."""
        ...

    def guarded(self, call: str, arrival: CallStarted) -> None:
        """The guard moved ``call`` to the fallback queue while the service was not
        answering (``arrival``: the call as it started, for one never logged)."""
        ...

    def left(self, hangup: Hangup) -> None:
        """A caller's channel is gone. Told whether or not this instance keeps a queue: the
        one the dialplan pointed at then (``hangup.fence``) takes it, which may be one that
        gave up its lease at a stop and still sees its calls to their end."""
        ...


def listen(
    listener: Listener, listening: Callable[[], bool]
) -> Callable[[Mapping[str, Any]], None]:
    """The AMI event handler: every event counted; while ``listening()`` (an instance that
    keeps a queue), the ones the service reads handed to ``listener``; a hangup always (the
    listener knows whether it is its own)."""

    phones: dict[str, messages.PhoneState] = {}  # each endpoint's last state

    def on_event(event: Mapping[str, Any]) -> None:
        started = time.perf_counter()
        name = str(event.get("Event", ""))
        metrics.AMI_EVENTS.labels(name or "?").inc()
        if stamp := event.get("Timestamp"):
            with contextlib.suppress(ValueError):
                metrics.AMI_EVENT_LAG.observe(max(0.0, time.time() - float(stamp)))
        keeping = listening()
        if not keeping and name != "UserEvent":
            return
        try:
            parsed = messages.parse(event)
        except messages.MalformedMessage as exc:
            log.warning("%s: ignored", exc)
            parsed = None
        try:
            _hand(listener, phones, parsed, keeping)
        except Exception:  # (raised into panoramisk, it would close the AMI connection)
            log.exception("AMI %s: not taken in", name)
        metrics.AMI_EVENT_SECONDS.observe(time.perf_counter() - started)

    return on_event


def _hand(
    listener: Listener,
    phones: dict[str, messages.PhoneState],
    parsed: messages.AmiEvent | None,
    keeping: bool,
) -> None:
    """What an event means, told to the listener (only a hangup unless it keeps a queue); an
    operator's two phones (their own, their desk's) told as one."""
    match parsed:
        case messages.Hangup() as hangup:
            listener.left(hangup)
        case _ if not keeping:
            pass
        case messages.DeviceState() as device:
            if (state := messages.phone_state(device)) is not None:
                phones[state.operator] = state
                operator = operator_of(state.operator)
                listener.phone(messages.operators_phones(phones, operator))
        case messages.AttendedTransfer() as attended:
            if (transfer := messages.transferred(attended)) is not None:
                listener.transferred(transfer)
        case messages.Guarded(call, caller, number, channel, sip_call_id):
            arrival = CallStarted(caller, number, channel=channel, sip_call_id=sip_call_id)
            listener.guarded(call, arrival)
