"""The dialplan's contract, as one vocabulary: the FastAGI routes it calls, the channel
variables the service and it pass each other, and what HOTLINE_RESULT tells it to do next.

`dialplans/extensions.conf` is written in these words, the renderer
(:mod:`hotline.asterisk.render`) writes its globals with them, and the service's routes
speak them; tests/unit/hotline/asterisk/test_dialplan.py checks that the dialplan uses no
other (a typo there would send every caller to the fallback queue, silently).
"""

from __future__ import annotations

from enum import StrEnum


class Route(StrEnum):
    """The FastAGI routes: ``AGI(${HOTLINE_AGI}/<route>,...)`` in the dialplan."""

    #: A call from the carrier, from its first menu until it waits, is connected or ends.
    CALL = "call"
    #: A waiting caller's turn: an announcement of their place (or a callback offer).
    WAIT = "wait"
    #: A key a waiting caller pressed.
    KEY = "key"
    #: An operator's phone was rung and is done ringing (with the dial's status).
    DIALED = "dialed"
    #: On the operator's channel, as they pick up.
    ANSWERED = "answered"
    #: A callback: the operator answered, the caller is dialled next.
    CALLBACK = "callback"
    CALLBACK_REACHED = "callback-reached"
    CALLBACK_END = "callback-end"
    #: A blind transfer made on an operator's phone.
    TRANSFER = "transfer"
    #: A transferred caller, told they are being connected.
    TRANSFERRED = "transferred"
    CENTRE_ANSWERED = "centre-answered"
    CENTRE_DIALED = "centre-dialed"
    #: An operator's feature code (*11 log in...).
    FEATURE = "feature"
    #: A supervisor recording a line's announcement (*71 and the line's code).
    ANNOUNCE = "announce"
    #: A supervisor taking an office to shelter or ending it (*72 and the office's code).
    SHELTER = "shelter"
    #: A detention caller leaving their recorded message.
    MESSAGE = "message"
    #: The person on duty, rung for a detention report.
    ESCALATION = "escalation"
    ESCALATION_DIALED = "escalation-dialed"


#: The routes an instance that holds a queue serves even while it may not act (its lease in
#: doubt, or given up at a stop until the next one has taken over): the dialplan reports
#: there how its calls go on and end.
WITNESSED = frozenset(
    {
        Route.ANSWERED,
        Route.DIALED,
        Route.CENTRE_ANSWERED,
        Route.CENTRE_DIALED,
        Route.CALLBACK_REACHED,
        Route.CALLBACK_END,
    }
)


class Event(StrEnum):
    """The dialplan's own AMI events: ``UserEvent(<name>,...)``, where a FastAGI session would
    cost both sides more than the news is worth (a wake of each AMI session, against a TCP
    connection, its environment and a task)."""

    #: A caller's hangup handler: the call (Call), the channel that hung up (By) and the
    #: fencing number of the instance the dialplan pointed at then (Fence: that one takes it).
    HANGUP = "HotlineHangup"
    #: The guard moved a caller to the fallback queue while the service was not answering.
    GUARDED = "HotlineGuarded"


class Result(StrEnum):
    """HOTLINE_RESULT: what the dialplan does once a route returns. Unset, the call counts
    as not handled and goes to its line's fallback queue (a person answers)."""

    #: Hang up: the call is over (a message said, a menu finished, a talk ended).
    DONE = "done"
    #: Wait with music in [hotline-wait] until the service moves the caller.
    WAIT = "wait"
    #: An operator is free: ring them now ([hotline-connect] at HOTLINE_CONNECT), no AMI action.
    RING = "ring"
    #: Routed by an instance that stood down meanwhile: queued at once by the active one.
    REQUEUE = "requeue"
    #: Dial the centre in HOTLINE_CENTRE through the carrier.
    CENTRE = "centre"
    #: No instance may act now (a standby answered, a takeover under way): ask again.
    RETRY = "retry"


class Var(StrEnum):
    """The channel variables and globals of the contract."""

    RESULT = "HOTLINE_RESULT"
    #: The FastAGI address with its secret (a global; the active instance points it at itself).
    AGI = "HOTLINE_AGI"
    #: The newest active instance's fencing number (a global) and the one an action carries.
    FENCE = "HOTLINE_FENCE"
    FENCED = "HOTLINE_FENCED"
    #: Seconds a caller tries again while no instance answers (a global).
    TAKEOVER = "HOTLINE_TAKEOVER"
    DEFAULT_LANGUAGE = "HOTLINE_DEFAULT_LANGUAGE"
    #: The caller's line and language, kept on their channel: a restarted service rebuilds
    #: its queue from them, the fallback queue knows the line.
    LINE = "HOTLINE_LINE"
    LANGUAGE = "HOTLINE_LANGUAGE"
    #: When they joined the queue (Unix seconds), for a restarted service's order.
    ENTERED = "HOTLINE_ENTERED"
    #: Seconds between announcements of their place (their organisation's rule).
    ANNOUNCE_EVERY = "HOTLINE_ANNOUNCE_EVERY"
    #: Seconds an operator's phone rings for them.
    RING_TIMEOUT = "HOTLINE_RING_TIMEOUT"
    #: Whom a routed caller rings as their session ends (:func:`ring`'s extension).
    CONNECT = "HOTLINE_CONNECT"
    #: The centre to dial (a number through the carrier).
    CENTRE = "HOTLINE_CENTRE"
    #: The number dialled from the carrier.
    DIALLED = "HOTLINE_DIALLED"
    #: A callback's or an escalation's call, number, ring and recorded message.
    CALLBACK = "HOTLINE_CALLBACK"
    NUMBER = "HOTLINE_NUMBER"
    RECORDING = "HOTLINE_RECORDING"
    ESCALATION = "HOTLINE_ESCALATION"
    RING = "HOTLINE_RING"
    #: Set by the guard on a caller it moved to the fallback queue.
    GUARDED = "HOTLINE_GUARDED"
    #: Listening in: the operator's channel and ChanSpy's options.
    SPY_CHANNEL = "HOTLINE_SPY_CHANNEL"
    SPY_OPTIONS = "HOTLINE_SPY_OPTIONS"
    #: The dialplan's own counter of tries while no instance answers.
    TRIES = "HOTLINE_TRIES"


class Context(StrEnum):
    """The dialplan's contexts the service sends a channel to (AMI Redirect, Originate)."""

    #: A caller waiting with music (and [hotline-next], where a route's result is read).
    WAIT = "hotline-wait"
    NEXT = "hotline-next"
    #: Ring an operator for the caller (exten: the operator).
    CONNECT = "hotline-connect"
    #: A transferred caller, told they are being connected, then rung through.
    TRANSFERRED = "hotline-transferred"
    #: Dial a centre through the carrier (exten: its number).
    CENTRE = "hotline-centre"
    #: Leave a recorded message (a detention caller nobody answered in time).
    MESSAGE = "hotline-message"
    #: The service is stopping: the caller goes to their line's fallback queue.
    HANDOVER = "hotline-handover"
    #: An action carried out only if its fencing number is still the newest (exten:
    #: ``<fence>*<context>*<exten>``).
    FENCED = "hotline-fenced"
    CALLBACK = "hotline-callback"
    ESCALATION = "hotline-escalation"
    ESCALATION_DIAL = "hotline-escalation-dial"
    SPY = "hotline-spy"
    #: What an organisation's operators may transfer to: ``hotline-transfer-<organisation>``.
    TRANSFER = "hotline-transfer"


#: Where a caller waits: a channel in one of these is in the service's queue.
WAITING = frozenset({Context.WAIT, Context.NEXT})


def transfer_context(organisation: str) -> str:
    """The context of what ``organisation``'s operators may transfer to."""
    return f"{Context.TRANSFER}-{organisation}"


def organisation_of_transfer(context: str) -> str | None:
    """The organisation whose transfer context ``context`` is (None: another context)."""
    prefix = f"{Context.TRANSFER}-"
    return context.removeprefix(prefix) if context.startswith(prefix) else None


#: An operator's phone in the desk is an endpoint of its own, their id with this suffix
#: (``anna.desk``: no operator id holds a dot, so it never names another's endpoint).
DESK = ".desk"


def desk_phone(operator: str) -> str:
    """The endpoint, AOR and auth of ``operator``'s phone in the desk."""
    return operator + DESK


def operator_of(endpoint: str) -> str:
    """The operator whose endpoint (their own phone's or their desk's) this is."""
    return endpoint.removesuffix(DESK)


def ring(operator: str, seconds: float, desk: bool = False) -> str:
    """The extension a caller is sent to in [hotline-connect] (and [hotline-transferred]) to
    ring ``operator`` for ``seconds``, and their desk's phone too with ``desk``:
    ``<operator>.<seconds>[.desk]``, so that one Redirect carries it all (a Redirect sets no
    variable; an operator's id holds no dot), or one variable (HOTLINE_CONNECT, for a caller
    whose session ends on it)."""
    return f"{operator}.{max(1, round(seconds))}" + (DESK if desk else "")


def rung(extension: str) -> str:
    """The operator a [hotline-connect] extension rings (:func:`ring`'s)."""
    return extension.partition(".")[0]


def escalation_call(ref: str, attempt: int) -> str:
    """A report's escalation call as the dialplan carries it (HOTLINE_ESCALATION, and the
    argument it gives the escalation's routes back): ``<ref>-<attempt>``."""
    return f"{ref}-{attempt}"


def parse_escalation_call(value: str) -> tuple[str, int]:
    """The report and the attempt of :func:`escalation_call`'s value (attempt 0: none)."""
    ref, _, n = value.rpartition("-")
    return ref, int(n) if n.isdigit() else 0


def assign(name: Var, value: object) -> str:
    """``NAME=value``, as an Originate's Variable header or a [globals] line says it."""
    return f"{name}={value}"
