"""The service's log: plain lines for a terminal, or one JSON object a line for a log
collector (``HOTLINE_LOG_FORMAT=json``), with the call a line is about where there is one
(the FastAGI session's channel, which every line logged while serving it carries). Caller
numbers are masked where the service logs them; the API's access log (``HOTLINE_ACCESS_LOG``)
masks every number in a request's line too."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from hotline.privacy import mask

#: The call being served (set by the FastAGI server for each session; tasks it starts inherit
#: it).
CALL: ContextVar[str | None] = ContextVar("call", default=None)

#: Libraries whose DEBUG lines carry query parameters or AMI traffic (caller numbers).
CHATTY = ("aiosqlite", "asyncpg", "sqlalchemy", "panoramisk", "httpx", "httpcore")

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: A run of digits long enough to be a phone number (not a call id: digits, a dot, digits).
NUMBER = re.compile(r"(?<![\d.])\+?\d{7,}(?![\d.])")


class CallOfTheLine(logging.Filter):
    """Puts the call being served on each record (``record.call``, None outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call = CALL.get()
        return True


class NumbersMasked(logging.Filter):
    """Masks every phone number in a line (the access log: a search by caller number)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = NUMBER.sub(lambda m: mask(m.group()), record.getMessage())
        record.args = None
        return True


class JsonLines(JsonFormatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, call (when there
    is one), exception (when there is one); nothing else (python-json-logger would add any
    extra a library puts on its records: uvicorn's ``color_message``, or a caller's number)."""

    ALWAYS = ("time", "level", "logger", "message")
    WHEN_THERE_IS_ONE = ("call", "exception")

    def __init__(self) -> None:
        super().__init__(
            ["asctime", "levelname", "name", "message", "call"],
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
            },
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        line = {key: log_data[key] for key in self.ALWAYS}
        return line | {key: log_data[key] for key in self.WHEN_THERE_IS_ONE if log_data.get(key)}


def setup(level: str, form: str = "text", access_log: bool = False) -> None:
    """The root logger at ``level`` in ``form`` (text or json), on standard error."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter(TEXT))
    handler.addFilter(CallOfTheLine())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in CHATTY:  # the service's own DEBUG, never caller numbers through theirs
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))
    # httpx says every request's URL at INFO: Kannel's sendsms URL holds its password and
    # the number texted, a webhook's may hold a token (the outbox logs its own line instead)
    logging.getLogger("httpx").setLevel(max(logging.getLogger("httpx").level, logging.WARNING))
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    access.addFilter(NumbersMasked())
