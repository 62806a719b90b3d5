"""Examples of the API's bodies and answers, for the OpenAPI document (``/docs``): one
organisation's morning (ua-legal-aid: its consultation and detention lines, operators op1 and
op2, the hotline number 0800 213 103). Each is checked against its model by the tests
(tests/unit/hotline/api/test_examples.py), so that an example never shows what the API
would not answer or take."""

from __future__ import annotations

from typing import Any

# -- requests -----------------------------------------------------------------------------------
LOGIN = {"token": "hl_3sV9k2Qm7RZpXw4bTt8cYdLn"}
TRANSFERS: dict[str, dict[str, Any]] = {
    "line": {
        "summary": "To another line",
        "description": "The caller waits in the line's queue, ahead of those who came after.",
        "value": {"line": "detention"},
    },
    "operator": {
        "summary": "To a colleague",
        "description": "Offered to the operator only (409 if they cannot take a call now).",
        "value": {"operator": "op2"},
    },
    "centre": {
        "summary": "To a legal aid centre",
        "description": "Dialled through the trunk; the caller hears ringing meanwhile.",
        "value": {"centre": "kyiv-left-bank"},
    },
}
WRAP_UP = {
    "topics": ["labour"],
    "resolution": "advice-given",
    "note": "Dismissed without notice; explained the appeal deadline.",
    "callback_at": "2026-11-26T10:00:00+02:00",
}
HANDLED = {"outcome": "lawyer-sent", "note": "Lawyer Koval on the way to the station."}
ESCALATION_ACTION = {"action": "accept", "person": "lawyer-koval"}
ERASE = {"caller": "+380501234567"}

# -- answers ------------------------------------------------------------------------------------
HEALTH = {
    "status": "ok",
    "role": "active",
    "instance": "hotline-a",
    "fence": 42,
    "lease_error": None,
    "ami": {"connected": True, "error": None, "connects": 1},
    "database": {
        "connected": True,
        "ready": True,
        "backend": "postgresql",
        "error": None,
        "spooled": 0,
        "written": 18234,
    },
    "disk": {"writable": True, "error": None, "unwritten": 0},
    "duty": {
        "ok": True,
        "calendars": [
            {
                "organisation": "ua-legal-aid",
                "rota": "kyiv",
                "source": "calendar.example.org",
                "ok": True,
                "error": None,
                "read_at": "2026-11-25T09:00:00+02:00",
                "changed_at": "2026-11-24T18:30:00+02:00",
            }
        ],
    },
    "rate_limits": {"storage": "redis", "error": None},
    "outbox": {
        "doors": ["sms", "email"],
        "pending": {"sms": 0, "email": 1},
        "oldest_pending_seconds": 4.2,
        "delivered": 57,
        "failed": 1,
        "given_up": 0,
        "last_error": None,
        "last_error_at": None,
    },
}
LIVE = {"status": "alive", "role": "active"}
LOGGED_IN = {"role": "operator", "operator": "op1"}
SESSION = {
    "role": "supervisor",
    "operator": None,
    "name": "sup-kyiv",
    "organisation": "ua-legal-aid",
    "organisation_name": "Free Legal Aid (Ukraine)",
}
LINE_QUEUE = {
    "waiting": [
        {
            "call": "1796526905.3",
            "caller": "**********67",
            "position": 1,
            "language": "uk",
            "priority": 0,
            "callback": False,
            "waited": 48.5,
            "estimated_wait": 30,
        }
    ],
    "longest_wait": 48.5,
    "estimated_wait": 60,
    "operators": {"on_call": ["op1"], "wrap_up": ["op2"], "available": []},
    "free": [],
}
OPERATOR = {
    "id": "op1",
    "state": "on_call",
    "reachable": True,
    "in_use": False,
    "since": "2026-11-25T11:02:41+02:00",
    "for": 95.3,
    "call": "1796526905.3",
    "pause_reason": None,
    "misses": 0,
}
CENTRE = {
    "id": "kyiv-left-bank",
    "name": "Kyiv Left Bank legal aid centre",
    "region": "Kyiv",
    "address": "vul. Mytropolyta Sheptytskoho 4, Kyiv",
    "hours": "Mon-Fri 09:00-18:00",
    "number": "0442901234",
    "code": "21",
}
SPYING = {"call": "1796526905.3", "operator": "op1", "supervisor": "sup1", "mode": "listen"}
OFFICE = {
    "id": "kyiv",
    "organisation": "ua-legal-aid",
    "lines": ["consultation", "detention"],
    "operators": ["op1", "op2"],
    "shelter": {
        "since": "2026-11-25T11:10:00+02:00",
        "until": None,
        "by": "sup1",
        "for": 312.0,
    },
}
ANNOUNCEMENT = {
    "line": "consultation",
    "by": "sup1",
    "at": "2026-11-25T08:30:00+02:00",
    "until": "2026-11-26T08:30:00+02:00",
}
RELOADED = {
    "changes": ["organisations.ua-legal-aid.operators.op4: added"],
    "asterisk": ["res_pjsip.so"],
    "notes": [],
}
CALL = {
    "id": "1796526905.3",
    "linkedid": "1796526905.3",
    "sip_call_id": "a84b4c76e66710@carrier.example.net",
    "channel": "PJSIP/carrier-00000031",
    "caller": "380501234567",
    "caller_name": "",
    "number": "0800213103",
    "language": "uk",
    "path": ["language:1", "main:2"],
    "asked_line": "consultation",
    "line": "consultation",
    "closed_lines": [],
    "priority": 0,
    "callback_number": None,
    "started": "2026-11-25T11:01:12+02:00",
    "queued": "2026-11-25T11:01:40+02:00",
    "answered": "2026-11-25T11:02:41+02:00",
    "ended": "2026-11-25T11:09:03+02:00",
    "operator": "op1",
    "wait": 61.0,
    "talk": 382.0,
    "outcome": "answered",
    "transfers": [],
    "topics": ["labour"],
    "resolution": "advice-given",
    "note": "Dismissed without notice; explained the appeal deadline.",
    "wrapped_up_by": "op1",
    "wrapped_up_at": "2026-11-25T11:10:20+02:00",
}
CALL_WITH_EVENTS = {
    **CALL,
    "events": [
        {
            "id": "1796526905.3-1",
            "call_id": "1796526905.3",
            "seq": 1,
            "at": "2026-11-25T11:01:12+02:00",
            "kind": "call.started",
            "data": {"caller": "380501234567", "number": "0800213103", "language": "uk"},
        },
        {
            "id": "1796526905.3-5",
            "call_id": "1796526905.3",
            "seq": 5,
            "at": "2026-11-25T11:02:41+02:00",
            "kind": "call.answered",
            "data": {"operator": "op1", "wait": 61.0},
        },
        {
            "id": "1796526905.3-6",
            "call_id": "1796526905.3",
            "seq": 6,
            "at": "2026-11-25T11:09:03+02:00",
            "kind": "call.ended",
            "data": {
                "outcome": "answered",
                "line": "consultation",
                "operator": "op1",
                "wait": 61.0,
                "talk": 382.0,
                "by": "caller",
            },
        },
    ],
}
STREAM_EVENT = {
    "id": "1796526905.3-6",
    "call_id": "1796526905.3",
    "seq": 6,
    "at": "2026-11-25T11:09:03+02:00",
    "kind": "call.ended",
    "data": {"outcome": "answered", "line": "consultation", "operator": "op1", "talk": 382.0},
    "organisation": "ua-legal-aid",
}
TRANSFERRING = {"call": "1796526905.3", "from": "op1", "target": "line", "to": "detention"}
WRAPPED_UP = {
    "call": "1796526905.3",
    "topics": ["labour"],
    "resolution": "advice-given",
    "by": "op1",
    "callback": {"call": "cb-1796526905.3", "at": "2026-11-26T10:00:00+02:00"},
}
_FIGURES = {
    "offered": 42,
    "answered": 38,
    "abandoned": 3,
    "waiting": 1,
    "answered_within_threshold": 31,
    "service_level": 0.756,
    "service_levels": {"60": 0.878},
    "average_speed_of_answer": 17.4,
    "average_handle_time": 412.0,
    "talk_time": 15656.0,
    "longest_wait": 184.0,
    "transferred": 2,
}
_TIME = {
    "logged_in": 28800.0,
    "available": 6120.0,
    "ringing": 310.0,
    "on_call": 15656.0,
    "wrap_up": 3420.0,
    "paused": 3294.0,
    "paused_by_reason": {"break": 2700.0, "training": 594.0},
    "occupancy": 0.747,
    "average_wrap_up": 90.0,
    "average_handle_time_with_wrap_up": 502.0,
}
STATS = {
    "from": "2026-11-25T00:00:00+02:00",
    "to": "2026-11-26T00:00:00+02:00",
    "threshold": 20.0,
    "thresholds": [60.0],
    "timezone": "Europe/Kyiv",
    "by": "day",
    "target": 0.8,
    "total": _FIGURES,
    "lines": {"consultation": _FIGURES},
    "operators": {"op1": {**_FIGURES, "offered": 20, "answered": 20, "abandoned": 0}},
    "topics": {
        "labour": {
            "calls": 14,
            "average_handle_time": 388.0,
            "lines": {"consultation": 14},
            "operators": {"op1": 9, "op2": 5},
        }
    },
    "resolutions": {
        "advice-given": {
            "calls": 30,
            "average_handle_time": 401.0,
            "lines": {"consultation": 30},
            "operators": {"op1": 17, "op2": 13},
        }
    },
    "periods": [{"start": "2026-11-25T00:00:00+02:00", **_FIGURES, "topics": {"labour": 14}}],
    "reports": {
        "reports": 3,
        "accepted": 2,
        "open": 1,
        "time_to_acceptance": {"p50": 240.0, "p90": 600.0, "max": 660.0},
        "within_target": 1.0,
        "calls": {"mean": 1.5, "max": 2},
        "lines": {
            "detention": {
                "reports": 3,
                "accepted": 2,
                "open": 1,
                "time_to_acceptance": {"p50": 240.0, "p90": 600.0, "max": 660.0},
                "within_target": 1.0,
                "calls": {"mean": 1.5, "max": 2},
            }
        },
    },
    "operators_time": {"total": _TIME, "operators": {"op1": _TIME}},
}
NOTIFICATION = {
    "ref": "482193",
    "call": "1796527010.7",
    "line": "detention",
    "caller": "380671112233",
    "number": "380671112233",
    "recording": "/var/spool/asterisk/notifications/1796527010.7.wav",
    "at": "2026-11-25T02:14:09+02:00",
    "complete": True,
    "handled_at": None,
    "handled_by": None,
    "taken_by": None,
    "outcome": None,
    "open": True,
    "language": "uk",
    "escalation": {
        "state": "acceptance",
        "round": 1,
        "ringing": None,
        "until": "2026-11-25T02:19:40+02:00",
        "calls": [
            {
                "attempt": 1,
                "step": 0,
                "round": 1,
                "person": "lawyer-koval",
                "role": "lawyer",
                "at": "2026-11-25T02:14:12+02:00",
                "outcome": "declined",
            },
            {
                "attempt": 2,
                "step": 1,
                "round": 1,
                "person": "lawyer-bondar",
                "role": "lawyer",
                "at": "2026-11-25T02:14:40+02:00",
                "outcome": None,
            },
        ],
        "accepted": None,
    },
}
LISTED_NOTIFICATION = {**NOTIFICATION, "overdue": False}
NOTIFICATION_WITH_HISTORY = {
    **NOTIFICATION,
    "note": None,
    "history": [
        {"at": "2026-11-25T02:14:09+02:00", "kind": "notification.stored", "by": None},
        {"at": "2026-11-25T02:14:12+02:00", "kind": "escalation.ringing", "person": "lawyer-koval"},
    ],
}
CALLING_BACK = {
    "ref": "482193",
    "call": "cb-1796527010.7",
    "operator": "op2",
    "number": "380671112233",
}
DESK_OPERATOR = {
    **OPERATOR,
    "name": "Olena",
    "lines": ["consultation", "detention"],
    "languages": ["uk", "en"],
}
DESK = {
    "operator": DESK_OPERATOR,
    "organisation": {"id": "ua-legal-aid", "name": "Free Legal Aid (Ukraine)"},
    "pause_reasons": ["break", "training"],
    "resolutions": ["advice-given", "referred", "callback-planned"],
    "notification_outcomes": ["lawyer-sent", "not-reached"],
    "lines": [
        {
            "id": "consultation",
            "titles": {"uk": "Консультація", "en": "Consultation"},
            "topics": ["labour", "family", "housing"],
            "code": "1",
        }
    ],
    "colleagues": [{"id": "op2", "name": "Taras", "state": "available", "free": True, "code": "2"}],
    "centres": [CENTRE],
    "notifications": [],
    "callbacks": [
        {
            "call": "1796525500.1",
            "line": "consultation",
            "number": "**********45",
            "reason": "abandoned",
            "at": None,
            "by": None,
        }
    ],
    "call": {
        "id": "1796526905.3",
        "state": "talking",
        "caller": "380501234567",
        "language": "uk",
        "line": "consultation",
        "path": ["language:1", "main:2"],
        "number": "0800213103",
        "waited": 61.0,
        "answered": "2026-11-25T11:02:41+02:00",
        "previous": [
            {
                "id": "1796440120.9",
                "started": "2026-11-24T15:20:02+02:00",
                "line": "consultation",
                "operator": "op2",
                "outcome": "answered",
                "topics": ["labour"],
                "resolution": "referred",
                "note": "Asked for the employment contract.",
            }
        ],
        "notifications": [],
        "callbacks": [],
    },
    "last_call": None,
}
DESK_NOTIFICATION = {**NOTIFICATION, "recorded": True}
DESK_PHONE = {
    "operator": "op1",
    "server": "wss://hotline.example.org:8089/ws",
    "uri": "sip:desk-op1-7f3a@hotline.example.org",
    "username": "desk-op1-7f3a",
    "password": "Zq8v2LwY4mKp0sTn",
    "realm": "hotline",
    "ice_servers": [
        {"urls": ["stun:turn.example.org:3478"]},
        {
            "urls": ["turn:turn.example.org:3478?transport=udp"],
            "username": "1796600000:op1",
            "credential": "m0pSg7Zk1Yv0d3XfW2u8VqvQ0Ek=",
        },
    ],
}
DUTY_NOW = {
    "at": "2026-11-25T11:00:00+02:00",
    "until": "2026-12-09T11:00:00+02:00",
    "rotas": [
        {
            "organisation": "ua-legal-aid",
            "rota": "kyiv",
            "default": True,
            "timezone": "Europe/Kyiv",
            "lawyers": [
                {
                    "id": "lawyer-koval",
                    "name": "Iryna Koval",
                    "language": "uk",
                    "phone": "380671234500",
                    "email": "koval@legalaid.example.org",
                }
            ],
            "supervisors": [{"id": "sup1", "name": "Mykola", "language": "uk"}],
            "gaps": [
                {
                    "role": "lawyer",
                    "start": "2026-11-28T02:00:00+02:00",
                    "end": "2026-11-28T08:00:00+02:00",
                    "seconds": 21600.0,
                    "says": "no lawyer on duty Saturday 2026-11-28 02:00-08:00 (Europe/Kyiv)",
                }
            ],
        }
    ],
}
AUDIT_ENTRY = {
    "at": "2026-11-25T11:12:30+02:00",
    "kind": "recording",
    "by": "sup-kyiv",
    "role": "supervisor",
    "operator": None,
    "scope": "ua-legal-aid",
    "organisation": "ua-legal-aid",
    "call": "1796526905.3",
    "ref": None,
    "address": "198.51.100.24",
    "detail": "bytes=0-",
}
ERASED = {"calls": 3, "recordings": 2, "reports": 0, "callbacks": 1}
ERASURE_DONE = {
    "at": "2026-11-25T12:00:00+02:00",
    "by": "sup-kyiv",
    "organisation": "ua-legal-aid",
    "kind": "number",
    "calls": 3,
    "recordings": 2,
    "reports": 0,
    "callbacks": 1,
}


def examples(*found: dict[str, Any]) -> dict[str, Any]:
    """A model's ``json_schema_extra``: its examples."""
    return {"examples": list(found)}
