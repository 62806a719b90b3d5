"""From domain events to the call log's rows: each event, applied once, updates its call,
callback, notification, recording or operator row. Plain functions over ORM objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotline.events import CallEvent
from hotline.store.tables import Call, Callback, Notification, OperatorChange, Recording


def apply_to_call(call: Call, event: CallEvent) -> None:
    """What an event says about its call."""
    data = event.data
    kind = event.kind
    if kind == "call.started":
        call.started_at = event.at
        call.caller = str(data.get("caller", ""))[:256]
        call.caller_name = str(data.get("caller_name", ""))[:256]
        call.number = str(data.get("number", ""))[:64]
        call.channel = str(data.get("channel", ""))[:256]
        call.sip_call_id = str(data.get("sip_call_id", ""))[:256]
        call.linkedid = str(data.get("linkedid", ""))[:64]
        call.language = data.get("language")
    elif kind == "menu.answer":
        call.path = [*call.path, f"{data.get('menu')}:{data.get('key')}"]
        call.language = data.get("language", call.language)
    elif kind in ("call.after_hours", "call.routed"):
        call.asked_line = data.get("asked")
        call.closed_lines = list(data.get("closed", []))
        call.line = data.get("line") or call.line
        call.language = data.get("language", call.language)
    elif kind == "callback.requested":
        call.callback_number = data.get("number")
        call.line = data.get("line") or call.line
    elif kind == "call.queued":
        call.queued_at = call.queued_at or event.at
        call.line = data.get("line") or call.line
        call.priority = data.get("priority", call.priority)
    elif kind == "call.answered":
        call.answered_at = event.at
        call.operator = data.get("operator")
        call.wait = data.get("wait")
    elif kind == "call.ended":
        call.outcome = data.get("outcome")
        call.ended_at = event.at
        call.wait = data.get("wait", call.wait)
        call.talk = data.get("talk", call.talk)
        call.operator = data.get("operator", call.operator)


def new_call(event: CallEvent) -> Call:
    """The row of a call first seen in ``event`` (normally its ``call.started``)."""
    return Call(id=event.call_id, started_at=event.at, path=[], closed_lines=[])


def operator_change(event: CallEvent) -> OperatorChange:
    data = event.data
    return OperatorChange(
        operator=data["operator"],
        at=event.at,
        state=data["state"],
        reachable=bool(data.get("reachable")),
        reason=data.get("reason"),
        misses=int(data.get("misses", 0)),
    )


class Rows:
    """The rows a batch of events touches, loaded once and updated in memory."""

    def __init__(
        self,
        calls: dict[str, Call],
        callbacks: dict[str, Callback],
        notifications: dict[str, Notification],
        recordings: dict[str, Recording],
        add: Callable[[Any], None],
    ) -> None:
        self.calls = calls
        self.callbacks = callbacks
        self.notifications = notifications
        self.recordings = recordings
        self.add = add

    def apply(self, event: CallEvent) -> None:
        if event.kind == "operator.state":
            self.add(operator_change(event))
            return
        if not event.call_id:
            return
        call = self.calls.get(event.call_id)
        if call is None:
            call = self.calls[event.call_id] = new_call(event)
            self.add(call)
        apply_to_call(call, event)
        self._callback(event)
        self._notification(event)
        self._recording(event)

    def _recording(self, event: CallEvent) -> None:
        path = str(event.data.get("path", ""))
        if event.kind == "recording.stored" and path not in self.recordings:
            self.recordings[path] = Recording(
                call_id=event.call_id,
                kind="conversation",
                path=path,
                created_at=event.at,
                seconds=event.data.get("seconds"),
            )
            self.add(self.recordings[path])
        elif event.kind == "recording.deleted" and path in self.recordings:
            self.recordings[path].deleted_at = event.at

    def _callback(self, event: CallEvent) -> None:
        data = event.data
        callback = self.callbacks.get(event.call_id)
        if event.kind == "callback.requested":
            if callback is None:
                callback = self.callbacks[event.call_id] = Callback(
                    call_id=event.call_id, requested_at=event.at, attempts=0
                )
                self.add(callback)
            callback.number = str(data.get("number", ""))[:64]
            callback.reason = str(data.get("reason", ""))[:32]
            callback.line = data.get("line")
            callback.notification = data.get("notification")
        elif callback is None:
            return
        elif event.kind == "callback.failed":
            callback.attempts = int(data.get("attempt", callback.attempts + 1))
            callback.last_status = str(data.get("status", ""))[:32]
        elif event.kind == "call.answered" and data.get("callback"):
            callback.attempts += 1
            callback.answered_at = event.at
        elif event.kind == "call.ended":
            callback.ended_at = event.at
            callback.outcome = data.get("outcome")

    def _notification(self, event: CallEvent) -> None:
        data = event.data
        if event.kind == "notification.stored":
            ref = str(data["ref"])
            item = self.notifications.get(ref)
            if item is None:
                item = self.notifications[ref] = Notification(ref=ref)
                self.add(item)
            item.call_id = event.call_id
            item.line = str(data.get("line", ""))
            item.caller = str(data.get("caller", ""))[:256]
            item.number = str(data.get("number", ""))[:64]
            item.recording = data.get("recording")
            item.complete = bool(data.get("complete"))
            item.stored_at = event.at
            if item.recording:
                self.add(
                    Recording(
                        call_id=event.call_id,
                        kind="message",
                        path=item.recording,
                        created_at=event.at,
                    )
                )
        elif event.kind == "notification.handled":
            item = self.notifications.get(str(data.get("ref")))
            if item is not None:
                item.handled_at = event.at
                item.handled_by = data.get("by")
