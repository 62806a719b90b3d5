"""The call log, as the event stream writes it: a durable journal and a summary per call.

Each event is appended to ``events.jsonl`` in the data folder as it happens and replayed at
start, so a restart loses no logged call. (The SQL store and its spool replace the journal's
reading side when the call log issue lands; the journal stays as the spool.)
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.events import CallEvent

log = logging.getLogger(__name__)


@dataclass
class CallRecord:
    """What the service knows of one call, built from its events."""

    id: str
    started: datetime
    caller: str = ""
    number: str = ""
    sip_call_id: str = ""
    linkedid: str = ""
    channel: str = ""
    language: str | None = None
    path: list[str] = field(default_factory=list)
    asked_line: str | None = None
    line: str | None = None
    closed_lines: list[str] = field(default_factory=list)
    callback_number: str | None = None
    queued: datetime | None = None
    answered: datetime | None = None
    operator: str | None = None
    #: Seconds from joining the queue to an operator's answer (or to hanging up).
    wait: float | None = None
    talk: float | None = None
    outcome: str | None = None
    ended: datetime | None = None
    events: list[CallEvent] = field(default_factory=list)

    def apply(self, event: CallEvent) -> None:
        data = event.data
        self.events.append(event)
        if event.kind == "call.started":
            self.caller = data.get("caller", "")
            self.number = data.get("number", "")
            self.sip_call_id = data.get("sip_call_id", "")
            self.linkedid = data.get("linkedid", "")
            self.channel = data.get("channel", "")
            self.language = data.get("language")
        elif event.kind == "menu.answer":
            self.path.append(f"{data['menu']}:{data['key']}")
            self.language = data.get("language", self.language)
        elif event.kind == "call.after_hours":
            self.asked_line = data.get("asked")
            self.closed_lines = list(data.get("closed", []))
        elif event.kind == "callback.requested":
            self.callback_number = data.get("number")
        elif event.kind == "call.routed":
            self.asked_line = data.get("asked")
            self.line = data.get("line")
            self.closed_lines = list(data.get("closed", []))
            self.language = data.get("language", self.language)
        elif event.kind == "call.queued":
            self.queued = event.at
        elif event.kind == "call.answered":
            self.answered = event.at
            self.operator = data.get("operator")
            self.wait = data.get("wait")
        elif event.kind == "call.ended":
            self.outcome = data.get("outcome")
            self.ended = event.at
            self.wait = data.get("wait", self.wait)
            self.talk = data.get("talk")
            self.operator = data.get("operator", self.operator)

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("events")
        for name in ("started", "queued", "answered", "ended"):
            value = getattr(self, name)
            out[name] = value.isoformat() if value else None
        return out


class CallLog:
    """Subscriber of the event stream: journals every event and keeps recent calls in memory."""

    def __init__(self, data_dir: Path, keep: int = 20_000) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.journal_path = data_dir / "events.jsonl"
        self.keep = keep
        self.calls: OrderedDict[str, CallRecord] = OrderedDict()
        self._replay()
        self._journal = self.journal_path.open("a", encoding="utf-8")

    def _replay(self) -> None:
        if not self.journal_path.exists():
            return
        with self.journal_path.open(encoding="utf-8", errors="replace") as journal:
            for number, line in enumerate(journal, 1):
                try:
                    raw = json.loads(line)
                    event = CallEvent(
                        raw["call_id"],
                        raw["seq"],
                        datetime.fromisoformat(raw["at"]),
                        raw["kind"],
                        raw["data"],
                    )
                except (ValueError, KeyError, TypeError):
                    log.warning("%s:%d: unreadable event skipped", self.journal_path, number)
                    continue
                self._remember(event)

    def _remember(self, event: CallEvent) -> None:
        if not event.call_id:  # an operator's event: journalled, not a call
            return
        record = self.calls.get(event.call_id)
        if record is None:
            record = self.calls[event.call_id] = CallRecord(event.call_id, event.at)
            while len(self.calls) > self.keep:
                self.calls.popitem(last=False)
        record.apply(event)

    def __call__(self, event: CallEvent) -> None:
        self._journal.write(json.dumps(event.as_json(), ensure_ascii=False) + "\n")
        self._journal.flush()
        self._remember(event)

    def close(self) -> None:
        self._journal.close()

    def find(
        self, sip_call_id: str | None = None, number: str | None = None, limit: int = 100
    ) -> list[CallRecord]:
        """Most recent calls first, filtered."""
        found = []
        for record in reversed(self.calls.values()):
            if sip_call_id is not None and record.sip_call_id != sip_call_id:
                continue
            if number is not None and record.number != number:
                continue
            found.append(record)
            if len(found) >= limit:
                break
        return found
