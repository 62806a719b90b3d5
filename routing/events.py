"""What can happen to a call or an operator: one frozen dataclass per kind of event.

The queue emits most of them and the service the rest (a call's start, its menus, its
recordings, its notification); the call log, the API, the event stream and the metrics read
their fields. They become JSON in one place, :func:`to_data` and :func:`from_data`, for the
spool, the database and the event stream alike: the fields that are set, tuples as lists.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar, get_args


@dataclass(frozen=True, slots=True)
class Fact:
    """Something that happened; ``kind`` names it in the log and the API (``call.ended``)."""

    kind: ClassVar[str] = ""
    #: It may come after the call's end (a recording stored, a wrap-up saved).
    after_end: ClassVar[bool] = False


KINDS: dict[str, type[Fact]] = {}
F = TypeVar("F", bound=type[Fact])


def _kind(name: str) -> Any:
    def register(cls: F) -> F:
        cls.kind = name
        KINDS[name] = cls
        return cls

    return register


# -- a call's way through the service ---------------------------------------------------------


@_kind("call.started")
@dataclass(frozen=True, slots=True)
class CallStarted(Fact):
    caller: str
    number: str = ""
    caller_name: str = ""
    channel: str = ""
    sip_call_id: str = ""
    linkedid: str = ""
    language: str | None = None


@_kind("menu.answer")
@dataclass(frozen=True, slots=True)
class MenuAnswer(Fact):
    menu: str
    key: str  # the key pressed, or "timeout"
    language: str | None = None


@_kind("call.after_hours")
@dataclass(frozen=True, slots=True)
class CallAfterHours(Fact):
    """The line asked for is closed; ``line`` is where the call goes instead (None: nowhere)."""

    asked: str
    closed: tuple[str, ...] = ()
    line: str | None = None


@_kind("call.routed")
@dataclass(frozen=True, slots=True)
class CallRouted(Fact):
    asked: str
    line: str
    language: str
    closed: tuple[str, ...] = ()
    path: tuple[str, ...] = ()


@_kind("call.queued")
@dataclass(frozen=True, slots=True)
class CallQueued(Fact):
    line: str
    language: str
    priority: int


@_kind("call.offered")
@dataclass(frozen=True, slots=True)
class CallOffered(Fact):
    operator: str


@_kind("call.missed")
@dataclass(frozen=True, slots=True)
class CallMissed(Fact):
    """The operator's phone rang and nobody took the call (``status``: Asterisk's, or ours)."""

    operator: str
    status: str


@_kind("call.answered")
@dataclass(frozen=True, slots=True)
class CallAnswered(Fact):
    operator: str
    wait: float
    callback: bool | None = None  # True: a callback the caller took
    #: Asterisk's uniqueid of the operator's channel that took the call (app_queue's queue_log
    #: names it in CONNECT); None where the service did not see it.
    peer: str | None = None


@_kind("call.message_asked")
@dataclass(frozen=True, slots=True)
class MessageAsked(Fact):
    line: str


#: How a call's record ends (:class:`CallEnded`'s ``outcome``): what the call log keeps, the
#: API shows and filters by (``hotline.api.schemas.Outcome``, which says what each means) and
#: the metrics count. A new one is added here (mypy then checks every end names one of these).
Ending = Literal[
    "answered",
    "abandoned",
    "called-back",
    "callback-failed",
    "handled",
    "after-hours",
    "finished",
    "hung-up",
    "unknown-number",
    "failed",
    "rejected",
    "handed-over",
    "interrupted",
    "transferred",
]
ENDINGS: tuple[Ending, ...] = get_args(Ending)


@_kind("call.ended")
@dataclass(frozen=True, slots=True)
class CallEnded(Fact):
    """The call's record ends: how (``outcome``), and what is known of it by then (``by``:
    who ended it, where known: ``caller`` or ``operator`` hanging up a conversation, the
    ``guard``, ``centre:<id>``)."""

    outcome: Ending
    line: str | None = None
    operator: str | None = None
    wait: float | None = None
    talk: float | None = None
    asked: str | None = None
    path: tuple[str, ...] | None = None
    reason: str | None = None
    error: str | None = None
    by: str | None = None
    notification: str | None = None
    attempts: int | None = None
    while_ringing: str | None = None


@_kind("call.transferred")
@dataclass(frozen=True, slots=True)
class CallTransferred(Fact):
    """The caller was sent to ``to`` (a ``target``: line, operator or centre), ``blind`` or
    ``attended`` by ``operator`` (who talked to them ``talk`` seconds on ``line``) at ``by``'s
    request (the operator themselves, a supervisor), or by their own choice in the menus
    (``mode`` ``menu``, ``by`` ``caller``)."""

    target: str
    to: str
    mode: str
    by: str
    operator: str | None = None
    line: str | None = None
    talk: float | None = None


@_kind("call.centre_answered")
@dataclass(frozen=True, slots=True)
class CentreAnswered(Fact):
    centre: str


@_kind("call.centre_sms")
@dataclass(frozen=True, slots=True)
class CentreTexted(Fact):
    """The caller asked for a centre's address by SMS in the menus, and it is to be sent to
    ``number`` in ``language`` (the outbox sends it: hotline/outbound/centre_sms.py)."""

    centre: str
    number: str
    language: str


@_kind("call.transfer_failed")
@dataclass(frozen=True, slots=True)
class TransferFailed(Fact):
    """Where the caller was sent did not answer (``status``: Asterisk's DIALSTATUS): they
    are back at the head of the queue they came from."""

    target: str
    to: str
    status: str


@_kind("call.wrapped_up")
@dataclass(frozen=True, slots=True)
class WrappedUp(Fact):
    """The operator's wrap-up of a call (``by``: who saved it; a later one replaces it): what
    it was about, how it ended for the caller, and a note (personal data: supervisors and the
    line's operators only, never in logs or metrics)."""

    after_end = True

    topics: tuple[str, ...]
    resolution: str
    by: str
    note: str | None = None


@_kind("call.spy")
@dataclass(frozen=True, slots=True)
class CallSpied(Fact):
    supervisor: str
    operator: str
    mode: str


@_kind("call.spy_failed")
@dataclass(frozen=True, slots=True)
class SpyFailed(Fact):
    supervisor: str
    reason: str


# -- callbacks --------------------------------------------------------------------------------


@_kind("callback.requested")
@dataclass(frozen=True, slots=True)
class CallbackRequested(Fact):
    number: str
    line: str
    reason: str
    notification: str | None = None
    #: Not before then (a planned callback: the time the caller or an operator chose).
    at: str | None = None
    #: The operator who planned it at a call's wrap-up.
    by: str | None = None


@_kind("callback.refused")
@dataclass(frozen=True, slots=True)
class CallbackRefused(Fact):
    number: str
    line: str
    reason: str
    retry_at: str | None = None  # ISO time: a cap that lifts then


@_kind("callback.failed")
@dataclass(frozen=True, slots=True)
class CallbackFailed(Fact):
    attempt: int
    status: str
    number: str


@_kind("callback.restored")
@dataclass(frozen=True, slots=True)
class CallbackRestored(Fact):
    attempts: int
    dialling: str | None = None  # the operator rung for it when the service stopped
    next_try: str | None = None  # ISO time


# -- recordings and notifications --------------------------------------------------------------


@_kind("recording.started")
@dataclass(frozen=True, slots=True)
class RecordingStarted(Fact):
    operator: str
    line: str


@_kind("recording.stored")
@dataclass(frozen=True, slots=True)
class RecordingStored(Fact):
    after_end = True
    path: str
    seconds: float


@_kind("recording.failed")
@dataclass(frozen=True, slots=True)
class RecordingFailed(Fact):
    after_end = True
    error: str


@_kind("recording.deleted")
@dataclass(frozen=True, slots=True)
class RecordingDeleted(Fact):
    after_end = True
    path: str
    reason: str


@_kind("notification.stored")
@dataclass(frozen=True, slots=True)
class NotificationStored(Fact):
    ref: str
    line: str
    caller: str
    number: str
    complete: bool
    recording: str | None = None
    #: The operator who took it by phone (none: the caller's recorded message).
    taken_by: str | None = None
    #: The caller's language (the family is told of their report in it).
    language: str | None = None


@_kind("notification.handled")
@dataclass(frozen=True, slots=True)
class NotificationHandled(Fact):
    after_end = True
    ref: str
    by: str
    outcome: str | None = None
    #: The handler's note (personal data: not for viewers).
    note: str | None = None


# -- a detention report's escalation to the people on duty ------------------------------------
# (on the report's call, after its end as often as not: numbered after everything)


@_kind("escalation.started")
@dataclass(frozen=True, slots=True)
class EscalationStarted(Fact):
    """A report's escalation begins on its line's chain (``rota``: whose duty people)."""

    after_end = True
    ref: str
    line: str
    rota: str | None = None
    #: The caller's language, and the number they left (the family is texted on it).
    language: str | None = None
    number: str | None = None


@_kind("escalation.round")
@dataclass(frozen=True, slots=True)
class EscalationRound(Fact):
    """The chain starts again from the top (``round`` 2, 3, ...): nobody accepted yet."""

    after_end = True
    ref: str
    round: int


@_kind("escalation.ringing")
@dataclass(frozen=True, slots=True)
class EscalationRinging(Fact):
    """``person`` (on duty as ``role``) is rung on ``number`` for the report: the chain's
    ``step`` (from 0), in its ``round``; ``attempt`` numbers the report's calls from 1."""

    after_end = True
    ref: str
    attempt: int
    step: int
    round: int
    person: str
    role: str
    number: str
    #: The language they are spoken to in.
    language: str | None = None


@_kind("escalation.declined")
@dataclass(frozen=True, slots=True)
class EscalationDeclined(Fact):
    """The person rung pressed 2: passed on to the next."""

    after_end = True
    ref: str
    attempt: int
    person: str


@_kind("escalation.unanswered")
@dataclass(frozen=True, slots=True)
class EscalationUnanswered(Fact):
    """The call to the person ended without their word: ``status`` NOANSWER, BUSY, FAILED
    (the call could not be made), HUNGUP (answered, no key), UNKNOWN (the service stopped
    meanwhile), CAPPED (the organisation's hourly calls), FENCED (an instance deposed)."""

    after_end = True
    ref: str
    attempt: int
    person: str
    status: str


@_kind("escalation.accepted")
@dataclass(frozen=True, slots=True)
class EscalationAccepted(Fact):
    """``person`` accepted the report (pressed 1; ``by`` another: a supervisor on their
    behalf). The escalation is over."""

    after_end = True
    ref: str
    person: str
    by: str
    attempt: int | None = None


@_kind("escalation.waiting")
@dataclass(frozen=True, slots=True)
class EscalationWaiting(Fact):
    """Nothing is done until ``until`` (ISO time): ``reason`` acceptance (the person heard
    it and said nothing: they may accept from the desk), round (the chain starts again no
    sooner), nobody (nobody on duty to ring: looked again then), capped (the hourly calls)."""

    after_end = True
    ref: str
    until: str
    reason: str


@_kind("escalation.notified")
@dataclass(frozen=True, slots=True)
class EscalationNotified(Fact):
    """A message goes out beside the call (``channel`` sms or email, to ``to``, in
    ``language``): to the ``person`` rung at ``step``, or, ``person`` ``family``, to the
    number the caller left, with their reference."""

    after_end = True
    ref: str
    person: str
    channel: str
    to: str
    language: str
    step: int | None = None
    #: The report's line (what the message says was reported).
    line: str | None = None


@_kind("escalation.restarted")
@dataclass(frozen=True, slots=True)
class EscalationRestarted(Fact):
    """A supervisor started the chain again from the top."""

    after_end = True
    ref: str
    by: str


@_kind("escalation.skipped")
@dataclass(frozen=True, slots=True)
class EscalationSkipped(Fact):
    """A supervisor moved the chain on to its next step."""

    after_end = True
    ref: str
    by: str


@_kind("escalation.stopped")
@dataclass(frozen=True, slots=True)
class EscalationStopped(Fact):
    """The escalation is over: ``reason`` accepted, or handled (the report was closed)."""

    after_end = True
    ref: str
    reason: str
    by: str | None = None


# -- operators --------------------------------------------------------------------------------


@_kind("operator.state")
@dataclass(frozen=True, slots=True)
class OperatorChanged(Fact):
    operator: str
    state: str
    reachable: bool
    in_use: bool = False
    reason: str | None = None  # a pause's
    misses: int = 0


# -- offices ----------------------------------------------------------------------------------


@_kind("office.shelter")
@dataclass(frozen=True, slots=True)
class ShelterBegan(Fact):
    """An office went to shelter (an air-raid alert), or its end time changed."""

    office: str
    by: str
    since: str
    until: str | None = None


@_kind("office.shelter_ended")
@dataclass(frozen=True, slots=True)
class ShelterEnded(Fact):
    office: str
    by: str


@_kind("call.sheltered")
@dataclass(frozen=True, slots=True)
class CallSheltered(Fact):
    """The caller waits on a line one of whose offices is in shelter: the other offices
    answer them, and they hear why they may wait longer."""

    office: str


# -- the service ---------------------------------------------------------------------------------


@_kind("config.reloaded")
@dataclass(frozen=True, slots=True)
class ConfigReloaded(Fact):
    """The config was read again while the service ran (``hotline reload``, SIGHUP or the
    API): what changed, as paths in it, and the modules Asterisk reloaded."""

    by: str
    changes: tuple[str, ...]
    asterisk: tuple[str, ...] = ()
    #: The config file's SHA-256 (its first 16 hex digits): a standby that reads another
    #: instance's reload with a digest not its own reads its file again.
    digest: str = ""


@_kind("call.announced")
@dataclass(frozen=True, slots=True)
class CallAnnounced(Fact):
    """The caller heard the line's recorded announcement (by whom it was recorded, and when)
    before they waited."""

    line: str
    by: str
    recorded: str


@_kind("line.announcement")
@dataclass(frozen=True, slots=True)
class AnnouncementSet(Fact):
    """A recorded announcement is played to the line's callers before they wait, until
    ``until``."""

    line: str
    by: str
    until: str
    #: Its file in Asterisk's spool (an instance taking over plays the same one).
    name: str = ""


@_kind("line.announcement_removed")
@dataclass(frozen=True, slots=True)
class AnnouncementRemoved(Fact):
    line: str
    by: str


# -- the audit trail --------------------------------------------------------------------------


@_kind("audit.access")
@dataclass(frozen=True, slots=True)
class Accessed(Fact):
    """Someone reached a call's personal data (``what``: a recording, a message, a note, an
    export, a listening in, an erasure): an entry of the audit trail (hotline/store/trail.py). It
    travels through the call log's spool like any event, but is never published on the
    bus and lands in the ``audit`` table, not on the call's timeline; ids only, never a
    number, a name or a note."""

    after_end = True

    what: str
    by: str
    role: str
    operator: str | None = None
    #: The organisation the reader's token sees (None: every one).
    scope: str | None = None
    #: The organisation whose data it was (None: no organisation's).
    organisation: str | None = None
    call: str | None = None
    ref: str | None = None
    address: str | None = None
    detail: str | None = None


# -- one way to and from JSON -----------------------------------------------------------------


def to_data(fact: Fact) -> dict[str, Any]:
    """The fields that are set (tuples as lists): the ``data`` of the event's JSON."""
    data: dict[str, Any] = {}
    for f in fields(fact):
        value = getattr(fact, f.name)
        if value is not None:
            data[f.name] = list(value) if isinstance(value, tuple) else value
    return data


def from_data(kind: str, data: dict[str, Any]) -> Fact:
    """The inverse of :func:`to_data`: ValueError for an unknown kind, TypeError for a field
    missing, unknown or not of its type."""
    cls = KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    known = {f.name: str(f.type) for f in fields(cls)}
    if unknown := set(data) - set(known):
        raise TypeError(f"{kind}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {}
    for name, value in data.items():
        if isinstance(value, list):
            value = tuple(value)
        if not any(_is(value, kind_of) for kind_of in known[name].split(" | ")):
            raise TypeError(f"{kind}: {name} is not {known[name]}: {value!r}")
        values[name] = value
    return cls(**values)  # TypeError for a missing field


def _is(value: Any, annotation: str) -> bool:
    """Whether a JSON value is of a field's type (the few types events use)."""
    match annotation:
        case "None":
            return value is None
        case "str":
            return isinstance(value, str)
        case "Ending":  # any text: a spool or database may hold another version's outcome
            return isinstance(value, str)
        case "bool":
            return isinstance(value, bool)
        case "int":
            return isinstance(value, int) and not isinstance(value, bool)
        case "float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "tuple[str, ...]":
            return isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    raise AssertionError(f"an event field of type {annotation}")
