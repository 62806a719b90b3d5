"""What each route answers, as pydantic models: the OpenAPI schema's, and what FastAPI checks
every answer against on its way out.

The routes build their answers as plain dicts (:mod:`hotline.api.views`); these models
describe them field for field. Times are ISO 8601 strings with their offset, as the dicts
hold them (a ``datetime`` field would be re-written by pydantic, ``Z`` for ``+00:00``).
A field present only for some readers or some answers has a default, and its route leaves
out what was not set (``response_model_exclude_unset``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from agents.rota import DutyRole
from agents.state import State
from hotline.api import examples as ex
from hotline.api.access import Role
from hotline.calls.supervision import Mode
from hotline.figures.stats import Period

#: A moment, as ``datetime.isoformat()`` writes it (with its offset).
Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Schema(BaseModel):
    """An answer's model: the docstring under each field describes it in the OpenAPI."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class Open(Schema):
    """A record whose fields depend on its kind: those named here, and more."""

    model_config = ConfigDict(extra="allow")


# -- health and sessions ------------------------------------------------------------------------
class Link(Schema):
    connected: bool
    error: str | None
    connects: int
    """Connections made since the start."""


class Database(Schema):
    connected: bool
    ready: bool
    """Its schema is in place (migrations run): the call log's routes answer."""
    backend: str
    error: str | None
    spooled: int
    """Events on disk not yet in the database."""
    written: int


class Disk(Schema):
    writable: bool
    error: str | None
    unwritten: int
    """Events only in memory until the disk takes them."""


class CalendarState(Schema):
    """A rota's iCalendar (file or URL) as last read."""

    organisation: str
    rota: str
    source: str
    """The file, or the URL's host only (a private calendar's address holds its secret)."""
    ok: bool
    """Read and understood last time; false: the last good copy is in use (if any)."""
    error: str | None
    read_at: Time | None
    changed_at: Time | None
    """When a new version was last taken into use."""


class DutyHealth(Schema):
    ok: bool
    """Every rota's calendar was read fine last time."""
    calendars: list[CalendarState]


class Outbox(Schema):
    """The SMS, e-mail and webhooks waiting to leave (hotline/outbound)."""

    doors: list[str]
    """The channels with a door configured (sms, email, webhook)."""
    pending: dict[str, int]
    """Messages not delivered yet, by channel (the database's count, every 5 s)."""
    oldest_pending_seconds: float | None
    delivered: int
    """Since this instance's start, as the three below."""
    failed: int
    given_up: int
    last_error: str | None
    """The last failed try: channel, recipient (masked), organisation, why."""
    last_error_at: str | None


class RateLimits(Schema):
    """Where the login and reference limits count tries (HOTLINE_RATE_LIMIT_STORAGE)."""

    storage: Literal["memory", "redis"]
    """``memory``: this instance's alone; ``redis``: shared with the instances that name it."""
    error: str | None
    """Redis unreachable: why; meanwhile the tries are counted in this instance's memory."""


class Health(Schema):
    """``status`` for anyone; the rest with a valid token only."""

    model_config = ConfigDict(json_schema_extra=ex.examples(ex.HEALTH))

    status: Literal["ok", "degraded"]
    role: str | None = None
    """``active`` (routes callers), ``taking over`` (active, its queue being rebuilt: a
    second or two) or ``standby`` (HOTLINE_HA)."""
    instance: str | None = None
    fence: int | None = None
    lease_error: str | None = None
    ami: Link | None = None
    database: Database | None = None
    disk: Disk | None = None
    duty: DutyHealth | None = None
    """The duty rotas' calendars (they do not make the status degraded: calls go on)."""
    outbox: Outbox | None = None
    rate_limits: RateLimits | None = None


class Live(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.LIVE))

    status: Literal["alive"]
    role: str
    """``active``, ``taking over`` or ``standby``."""


class LoggedIn(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.LOGGED_IN))

    role: Role
    operator: str | None


class Session(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.SESSION))

    role: Role
    operator: str | None
    """The operator an operator's token acts for."""
    name: str
    organisation: str | None
    """The organisation it sees (null: every one)."""
    organisation_name: str | None


# -- queues and operators -----------------------------------------------------------------------
class WaitingCaller(Schema):
    call: str
    caller: str
    """Masked to its last two digits except for supervisors."""
    position: int
    language: str
    priority: int
    callback: bool
    """No caller on the line: they are to be called back."""
    not_before: Time | None = None
    """Not offered before then: a callback's next try, or the time the caller chose."""
    waited: float
    """Seconds so far."""
    estimated_wait: int | None
    """Seconds still to wait (null: nobody serves the line)."""


class LineQueue(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.LINE_QUEUE))

    waiting: list[WaitingCaller]
    longest_wait: float
    estimated_wait: int | None
    """What a caller joining now can expect, in seconds (null: nobody is serving the line)."""
    operators: dict[State, list[str]]
    """The operators serving the line, by state."""
    free: list[str]
    """Those who may be offered a call now."""


class Shelter(Schema):
    since: Time
    until: Time | None
    """When it ends by itself (null: when a supervisor ends it)."""
    by: str
    """Who took the office to shelter."""
    for_: float = Field(alias="for")
    """Seconds it has lasted."""


class Announcement(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.ANNOUNCEMENT))

    line: str
    by: str
    """Who recorded or sent it."""
    at: Time
    until: Time
    """When callers stop hearing it."""


class Office(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.OFFICE))

    id: str
    organisation: str | None
    lines: list[str]
    """The lines it staffs."""
    operators: list[str]
    shelter: Shelter | None
    """In shelter (an air-raid alert): its operators paused, its lines answered by the other
    offices (null: not in shelter)."""


class Reloaded(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.RELOADED))

    changes: list[str]
    """What changed, as paths in the config (``organisations.ua-legal-aid.operators.op4:
    added``); empty: nothing."""
    asterisk: list[str]
    """The modules Asterisk reloaded (``res_pjsip.so``: the endpoints; ``pbx_config.so``: the
    dialplan; ``app_queue.so``: the fallback queues)."""
    notes: list[str]
    """What was left as it was, and why."""


class Operator(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.OPERATOR))

    id: str
    state: State
    reachable: bool
    """Their phone is registered and reachable."""
    in_use: bool
    """Busy with a call the service did not give them (not offered one)."""
    since: Time | None
    for_: float | None = Field(alias="for")
    """Seconds in this state."""
    call: str | None
    pause_reason: str | None
    misses: int
    """Calls offered and not answered since the last answered one."""


class Centre(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.CENTRE))

    id: str
    name: str
    region: str
    address: str
    hours: str
    number: str
    code: str | None
    """What an operator keys after ## to transfer a caller there."""


class Spying(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.SPYING))

    call: str
    operator: str
    supervisor: str
    mode: Mode


# -- the call log -------------------------------------------------------------------------------
class Outcome(StrEnum):
    """How a call ended (null while it is under way).

    - ``answered``: an operator talked to the caller;
    - ``called-back``: a callback's call, answered and talked through;
    - ``abandoned``: the caller hung up before an operator answered (waiting, their phone
      ringing, a centre's ringing);
    - ``callback-failed``: a callback that reached nobody, its tries spent;
    - ``handled``: a callback no longer needed (its notification handled, or erased);
    - ``after-hours``: the line was closed; the caller heard its hours;
    - ``finished``: the menus' own end (information only), or a centre that did not answer;
    - ``hung-up``: the caller hung up in the menus;
    - ``unknown-number``: a number dialled that is no hotline's;
    - ``failed``: the service failed the call (``error`` on its ``call.ended`` event);
    - ``rejected``: a session that was no call the service could serve;
    - ``handed-over``: the caller went to the dialplan's fallback queue (the guard, or the
      service unable to queue them);
    - ``interrupted``: the call ended while no instance was listening (a restart, a
      takeover);
    - ``transferred``: handed to a legal aid centre that answered;
    - ``other``: a value this version does not know (written by another version of the
      service); as a filter, every such call.
    """

    ANSWERED = "answered"
    CALLED_BACK = "called-back"
    ABANDONED = "abandoned"
    CALLBACK_FAILED = "callback-failed"
    HANDLED = "handled"
    AFTER_HOURS = "after-hours"
    FINISHED = "finished"
    HUNG_UP = "hung-up"
    UNKNOWN_NUMBER = "unknown-number"
    FAILED = "failed"
    REJECTED = "rejected"
    HANDED_OVER = "handed-over"
    INTERRUPTED = "interrupted"
    TRANSFERRED = "transferred"
    OTHER = "other"


class Transfer(Open):
    """One transfer of the call: where to (``target``, ``to``), how (``mode``), by whom, and
    how it went (``outcome``; null while under way)."""

    at: Time
    target: str
    to: str
    mode: str
    by: str
    outcome: str | None


class Call(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.CALL))

    id: str
    linkedid: str
    sip_call_id: str
    channel: str
    caller: str
    """Masked except for supervisors and the operator who answered."""
    caller_name: str
    number: str
    """The hotline number dialled."""
    language: str | None
    path: list[str]
    """The menu answers, ``menu:key``."""
    asked_line: str | None
    line: str | None
    closed_lines: list[str]
    priority: int | None
    callback_number: str | None
    started: Time
    queued: Time | None
    answered: Time | None
    ended: Time | None
    operator: str | None
    wait: float | None
    talk: float | None
    outcome: Outcome | None
    transfers: list[Transfer]
    topics: list[str]
    resolution: str | None
    note: str | None
    """The operator's note (personal data)."""
    wrapped_up_by: str | None
    wrapped_up_at: Time | None


class Event(Schema):
    """A domain event (``kind`` says what; ``data`` its fields, as the reader may see them)."""

    id: str
    call_id: str
    seq: int
    at: Time
    kind: str
    data: dict[str, Any]


class CallWithEvents(Call):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.CALL_WITH_EVENTS))

    events: list[Event]
    """Its timeline, in order."""


class Transferring(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.TRANSFERRING))

    call: str
    from_: str = Field(alias="from")
    """The operator the caller leaves."""
    target: Literal["line", "operator", "centre"]
    to: str


class PlannedCallback(Schema):
    call: str
    """The callback's own call."""
    at: Time
    """When it is offered (the first moment from the time asked that its line is open)."""


class WrappedUp(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.WRAPPED_UP))

    call: str
    topics: list[str]
    resolution: str
    by: str
    callback: PlannedCallback | None = None
    """The callback planned (``callback_at``)."""


# -- statistics ---------------------------------------------------------------------------------
class Figures(Schema):
    offered: int
    answered: int
    abandoned: int
    waiting: int
    answered_within_threshold: int
    service_level: float | None
    """Answered within the threshold / (offered - still waiting)."""
    service_levels: dict[str, float | None] = {}
    """The service level at each of the other thresholds asked for (``thresholds``), by
    threshold in seconds."""
    average_speed_of_answer: float | None
    average_handle_time: float | None
    """Mean talk time of the answered calls that ended (the wrap-up is not in it)."""
    talk_time: float
    longest_wait: float
    transferred: int


class PeriodFigures(Figures):
    start: Time
    topics: dict[str, int] = {}
    """Calls by wrap-up topic (only when there are some)."""


class Wrapped(Schema):
    """The calls wrapped up with one topic or resolution."""

    calls: int
    average_handle_time: float | None
    lines: dict[str, int]
    operators: dict[str, int]


class Quantiles(Schema):
    p50: float | None
    p90: float | None
    max: float | None


class CallsTaken(Schema):
    mean: float | None
    max: int | None


class ReportFigures(Schema):
    reports: int
    accepted: int
    """Accepted by a person on duty (or on their behalf)."""
    open: int
    """Neither accepted nor closed."""
    time_to_acceptance: Quantiles
    """Seconds from the report to its acceptance, of those accepted."""
    within_target: float | None
    """Share accepted within the line's ``notification_target`` (0 to 1), of those accepted
    or past it."""
    calls: CallsTaken
    """Calls to people on duty until a person accepted it."""


class ReportsFigures(ReportFigures):
    lines: dict[str, ReportFigures]


class OperatorTime(Schema):
    """Seconds of the period an operator (or all of them) spent in each state."""

    logged_in: float
    available: float
    ringing: float
    on_call: float
    wrap_up: float
    paused: float
    paused_by_reason: dict[str, float]
    occupancy: float | None
    """(on a call + wrap-up) / (logged in - paused)."""
    average_wrap_up: float | None
    """Wrap-up seconds per answered call."""
    average_handle_time_with_wrap_up: float | None
    """Mean talk plus mean wrap-up per answered call."""


class OperatorsTime(Schema):
    total: OperatorTime
    operators: dict[str, OperatorTime]


class Stats(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.STATS))

    from_: Time = Field(alias="from")
    to: Time
    threshold: float
    """Seconds: answered within them counts for the service level."""
    timezone: str
    by: Period
    total: Figures
    lines: dict[str, Figures]
    operators: dict[str, Figures]
    topics: dict[str, Wrapped]
    resolutions: dict[str, Wrapped]
    periods: list[PeriodFigures]
    target: float
    """The service level aimed at (0 to 1)."""
    reports: ReportsFigures
    """The detention reports stored in the period: how fast a person on duty accepted them."""
    thresholds: list[float] = []
    """The other thresholds asked for."""
    operators_time: OperatorsTime


# -- detention notifications --------------------------------------------------------------------
class EscalationCall(Schema):
    """A call to a person on duty for the report."""

    attempt: int
    step: int
    """The chain's step it was made for (from 0)."""
    round: int
    person: str
    role: str
    """lawyer or supervisor."""
    at: Time
    outcome: str | None
    """accepted, declined, NOANSWER, BUSY, FAILED, HUNGUP (heard, no key), UNKNOWN, FENCED;
    null while it lasts."""


class EscalationAcceptance(Schema):
    person: str
    by: str
    """The person, or the supervisor who accepted on their behalf (``supervisor:<name>``)."""
    at: Time


class Escalation(Schema):
    """How the report is being delivered to the people on duty."""

    state: str
    """ringing, acceptance (a person heard it: waiting for their word), round (the next
    round's start), nobody (nobody on duty: looked for again), capped, accepted, handled."""
    round: int
    ringing: str | None
    """The person being rung now."""
    until: Time | None
    """When the wait ends."""
    calls: list[EscalationCall]
    accepted: EscalationAcceptance | None


class Notification(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.NOTIFICATION))

    ref: str
    call: str
    line: str
    caller: str
    number: str
    """Where to call back."""
    recording: str
    """The caller's recorded message, if any (empty: none)."""
    at: Time
    complete: bool
    handled_at: Time | None
    handled_by: str | None
    taken_by: str | None
    """The operator who took it by phone."""
    outcome: str | None
    open: bool
    language: str | None = None
    """The caller's."""
    escalation: Escalation | None = None
    """Its escalation to the people on duty (null: its line has none)."""


class ListedNotification(Notification):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.LISTED_NOTIFICATION))

    overdue: bool
    """Open for longer than the organisation's ``notification_target``."""


class Step(Open):
    """One step of a notification's history (``kind``: a call event's, or
    ``notification.stored``, ``.played``, ``.called``, ``.handled``)."""

    at: Time
    kind: str


class NotificationWithHistory(Notification):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.NOTIFICATION_WITH_HISTORY))

    note: str | None
    history: list[Step]


class CallingBack(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.CALLING_BACK))

    ref: str
    call: str
    operator: str
    number: str


# -- the operator's desk ------------------------------------------------------------------------
class DeskOperator(Operator):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.DESK_OPERATOR))

    name: str
    lines: list[str]
    languages: list[str]


class Organisation(Schema):
    id: str
    name: str


class DeskLine(Schema):
    id: str
    titles: dict[str, str]
    """Its name in each language."""
    topics: list[str]
    code: str | None


class Colleague(Schema):
    id: str
    name: str
    state: State
    free: bool
    code: str | None


class DeskNotification(Notification):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.DESK_NOTIFICATION))

    recorded: bool


class EarlierCall(Schema):
    id: str
    started: Time
    line: str | None
    operator: str | None
    outcome: Outcome | None
    topics: list[str]
    resolution: str | None
    note: str | None
    """On the lines the operator serves only (null otherwise)."""


class PendingCallback(Schema):
    call: str
    number: str
    reason: str


class Caller(Schema):
    """The caller ringing or talking to the operator."""

    id: str
    state: Literal["ringing", "talking"]
    caller: str
    language: str
    line: str
    path: list[str]
    number: str | None
    waited: float
    answered: Time | None
    previous: list[EarlierCall]
    """Their calls of the last ``queues.caller_history_days`` days."""
    notifications: list[Notification]
    callbacks: list[PendingCallback]


class LastCall(Schema):
    id: str
    line: str | None
    answered: Time | None
    ended: Time | None
    topics: list[str]
    resolution: str | None
    note: str | None


class DeskCallback(Schema):
    call: str
    line: str
    number: str
    reason: str
    """Why: ``asked`` (a caller, key 1 or 3), ``abandoned``, ``after-hours``, ``planned`` (at a
    wrap-up), ``notification``."""
    at: Time | None
    """Not offered before then (null: as soon as an operator is free)."""
    by: str | None
    """The operator who planned it at a wrap-up."""


class Desk(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.DESK))

    operator: DeskOperator
    organisation: Organisation
    pause_reasons: list[str]
    resolutions: list[str]
    notification_outcomes: list[str]
    lines: list[DeskLine]
    colleagues: list[Colleague]
    centres: list[Centre]
    notifications: list[DeskNotification]
    """The open detention notifications of their lines."""
    callbacks: list[DeskCallback]
    """The callbacks waiting on their lines, those planned for a time first."""
    call: Caller | None
    last_call: LastCall | None
    """The last call they answered, with its wrap-up so far."""


# -- who is on duty ----------------------------------------------------------------------------
class DutyPerson(Schema):
    id: str
    name: str
    language: str
    phone: str | None = None
    """For supervisors' tokens only."""
    email: str | None = None
    """For supervisors' tokens only."""


class DutyGap(Schema):
    role: DutyRole
    start: Time
    end: Time
    """(Cut at the end of the 14 days looked at.)"""
    seconds: float
    says: str
    """In words, in the rota's time zone: ``no lawyer on duty Saturday 2026-12-12 02:00-08:00
    (Europe/Kyiv)``."""


class RotaNow(Schema):
    organisation: str
    rota: str
    default: bool
    """The organisation's first rota: the one an escalation that names none rings."""
    timezone: str
    lawyers: list[DutyPerson]
    """On duty now, the first to ring first."""
    supervisors: list[DutyPerson]
    gaps: list[DutyGap]
    """Nobody on duty in a role, within the next 14 days (earliest first)."""
    calendar: CalendarState | None = None
    """Its iCalendar, where it has one."""


class DutyNow(Schema):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.DUTY_NOW))

    at: Time
    until: Time
    """The end of the 14 days the gaps are looked for in."""
    rotas: list[RotaNow]


# -- the audit trail ----------------------------------------------------------------------------
class AuditEntry(Schema):
    """One access to personal data (ids only: no number, name or note)."""

    model_config = ConfigDict(json_schema_extra=ex.examples(ex.AUDIT_ENTRY))

    at: Time
    kind: Literal["recording", "message", "note", "export", "listen", "erasure"]
    """What was reached: a recording played or downloaded (each request, a player's seek
    too), a detention message played, a note shown, the call log exported as CSV, a call
    listened in on, data erased."""
    by: str
    """Who: an operator's id, a token's name, a supervisor's phone (never a token)."""
    role: str
    operator: str | None
    scope: str | None
    """The organisation the reader's token sees (null: every one)."""
    organisation: str | None
    """Whose data it was."""
    call: str | None
    ref: str | None
    """A detention report's reference."""
    address: str | None
    """The client's address (null: a phone, or a command)."""
    detail: str | None
    """More: the byte range played, how many calls an export held, the listening's mode."""


class IceServer(Schema):
    """A STUN or TURN server the browser gathers candidates with (RTCIceServer)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class DeskPhone(Schema):
    """What the desk's phone registers with: valid for this session alone, until its logout,
    the revocation of its token, or the next session's phone of the same operator."""

    model_config = ConfigDict(json_schema_extra=ex.examples(ex.DESK_PHONE))

    operator: str
    server: str
    """Asterisk's secure WebSocket (``wss://<host>:<sip.wss_port>/ws``)."""
    uri: str
    """The phone's SIP address (``sip:<username>@<host>``)."""
    username: str
    password: str
    realm: str
    ice_servers: list[IceServer]
