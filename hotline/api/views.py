"""What the API shows: queues per line, operators, calls and events, for a given reader (as
dicts; :mod:`hotline.api.schemas` describes each, and a route's answer is checked against it)."""

from __future__ import annotations

import csv
import io
import logging
import math
from datetime import datetime
from typing import Any

from agents.state import OperatorState
from hotline.api.access import Principal, Role
from hotline.api.schemas import Outcome
from hotline.calls.switchboard import Switchboard
from hotline.events import CallEvent
from hotline.privacy import mask
from hotline.store.tables import Call, Event
from routing.events import from_data

log = logging.getLogger(__name__)


def queues(board: Switchboard, who: Principal) -> dict[str, Any]:
    """Every line's queue now: waiting callers, longest wait, operators by state."""
    now = board.clock()
    lines: dict[str, Any] = {}
    for name, line in board.lines_now().items():
        waiting: list[dict[str, Any]] = []
        for w in line.waiting:
            place, estimate = board.where(w.call)
            callback = board.callbacks.get(w.call)
            caller = board.callers.get(w.call) or (callback.number if callback else "")
            waiting.append(
                {
                    "call": w.call,
                    "caller": caller if who.supervisor else mask(caller),
                    "position": place,
                    "language": w.language,
                    "priority": w.priority,
                    "callback": w.callback,
                    "not_before": w.not_before.isoformat() if w.not_before else None,
                    "waited": round((now - w.entered).total_seconds(), 1),
                    "estimated_wait": None if math.isinf(estimate) else round(estimate),
                }
            )
        lines[name] = {
            "waiting": waiting,
            "longest_wait": round(line.longest, 1),
            # what a caller joining now can expect (null: nobody is serving the line)
            "estimated_wait": None if math.isinf(line.estimate) else round(line.estimate),
            "operators": {s.value: list(ids) for s, ids in line.operators.items()},
            # those who may be offered a call now ("available" ones whose phone is not
            # reachable or busy with another call are not)
            "free": list(line.free),
        }
    return lines


def operator(op: OperatorState, now: datetime) -> dict[str, Any]:
    return {
        "id": op.id,
        "state": op.state.value,
        "reachable": op.reachable,
        # busy with a call the service did not give them (a fallback queue's): not offered
        "in_use": op.in_use,
        "since": op.since.isoformat() if op.since else None,
        # seconds in this state (a browser ticks on from here, whatever its clock says)
        "for": round((now - op.since).total_seconds(), 1) if op.since else None,
        "call": op.call,
        "pause_reason": op.pause_reason,
        "misses": op.misses,
    }


#: Keys of an event's data that hold a caller's number or name.
PERSONAL = ("caller", "caller_name")


def call(row: Call, who: Principal) -> dict[str, Any]:
    """A call as the API shows it; numbers only to those who may see them."""
    numbers = who.supervisor or (who.role is Role.OPERATOR and row.operator == who.operator)
    return {
        "id": row.id,
        "linkedid": row.linkedid,
        "sip_call_id": row.sip_call_id,
        "channel": row.channel,
        "caller": row.caller if numbers else mask(row.caller),
        "caller_name": row.caller_name if numbers else "",
        "number": row.number,
        "language": row.language,
        "path": row.path,
        "asked_line": row.asked_line,
        "line": row.line,
        "closed_lines": row.closed_lines,
        "priority": row.priority,
        "callback_number": (
            row.callback_number if numbers or not row.callback_number else mask(row.callback_number)
        ),
        "started": _iso(row.started_at),
        "queued": _iso(row.queued_at),
        "answered": _iso(row.answered_at),
        "ended": _iso(row.ended_at),
        "operator": row.operator,
        "wait": row.wait,
        "talk": row.talk,
        "outcome": outcome(row.outcome),
        "transfers": row.transfers,
        "topics": row.topics,
        "resolution": row.resolution,
        # personal data: supervisors' and the line's operators' (who alone see the call)
        **({"note": row.note} if who.role is not Role.VIEWER else {}),
        "wrapped_up_by": row.wrapped_up_by,
        "wrapped_up_at": _iso(row.wrapped_up_at),
    }


#: What a viewer never sees of an event: the caller's name, and what names the call in SIP
#: and in Asterisk (they lead to the caller), and an operator's note on the call.
HIDDEN = ("caller_name", "channel", "sip_call_id", "linkedid", "note")


def event(out: dict[str, Any], who: Principal) -> dict[str, Any]:
    """An event (its JSON) as the API shows it: the supervisor's in full, others' without
    numbers, a viewer's without names or SIP identifiers either."""
    if not who.supervisor:
        data = dict(out["data"])
        for key in PERSONAL:
            if isinstance(data.get(key), str):
                data[key] = mask(data[key])
        if who.role is Role.VIEWER:
            for key in HIDDEN:
                data.pop(key, None)
        if out["kind"] != "call.started" and isinstance(data.get("number"), str):
            data["number"] = mask(data["number"])  # a callback number
        out = {**out, "data": data}
    return out


def stored_event(row: Event, who: Principal) -> dict[str, Any]:
    fact = from_data(row.kind, row.data)
    return event(CallEvent(row.call_id or "", row.seq, row.at, fact, row.id).as_json(), who)


def outcome(stored: str | None) -> str | None:
    """A call's outcome as the API shows it: ``other`` for a value this version does not
    know (a row written by another version: never a 500 for it), null while under way."""
    if stored is None or stored in KNOWN:
        return stored
    if stored not in _unknown:  # (once each: a log line per row listed would drown it)
        _unknown.add(stored)
        log.warning("call log: outcome %r unknown to this version, shown as 'other'", stored)
    return Outcome.OTHER.value


KNOWN = frozenset(Outcome) - {Outcome.OTHER}
_unknown: set[str] = set()


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


CSV_FIELDS = (
    "id",
    "started",
    "caller",
    "number",
    "language",
    "line",
    "queued",
    "answered",
    "ended",
    "operator",
    "wait",
    "talk",
    "outcome",
    "topics",
    "resolution",
    "path",
    "callback_number",
    "sip_call_id",
)


#: What a spreadsheet would read as a formula at the start of a cell.
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a value that would start a formula (a caller
    id of ``=HYPERLINK(...)``, say) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value
    return value


def csv_rows(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        flat = {**row, "path": " ".join(row["path"]), "topics": " ".join(row["topics"])}
        writer.writerow({k: cell(v) for k, v in flat.items()})
    return out.getvalue()
