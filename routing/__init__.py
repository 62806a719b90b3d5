"""Lines, offices and their hours: where a caller's call goes, and when. Pure: no I/O."""

from routing.lines import AfterHours, Decision, Line, decide
from routing.schedule import Office, Schedule, Span, parse_hours

__all__ = [
    "AfterHours",
    "Decision",
    "Line",
    "Office",
    "Schedule",
    "Span",
    "decide",
    "parse_hours",
]
