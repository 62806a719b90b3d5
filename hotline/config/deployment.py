"""The deployment the rest of the service reads: a checked config/hotline.yaml as domain
objects (ivr's Flow, routing's lines and offices, agents' operators), the organisations it
runs a hotline for, and their rules. hotline/config/loading.py builds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agents import Operator
from agents.rota import Rota
from hotline.config import duty as duty_config
from hotline.config.telephony import PhonesModel, SecurityModel, SipModel, TrunkModel
from ivr import Action, Flow
from routing import Line, Office, numbers
from routing.escalation import Chain
from routing.outbound import CallbackPolicy
from routing.signals import Target
from routing.transfers import Centre

#: What a caller offered a callback hears: the offer, the number to call, the confirmation.
CALLBACK_PROMPTS = frozenset({"callback-offer", "callback-number", "callback-registered"})


#: What a caller who asked for a centre's address by SMS hears: sent, or not possible.
SMS_PROMPTS = frozenset({"sms-sent", "sms-not-possible"})

#: What a caller leaving a message hears: the request, and the reference number's preface.
MESSAGE_PROMPTS = frozenset({"detention-message", "detention-registered"})

#: What a person on duty hears when rung for a detention report.
ESCALATION_PROMPTS = frozenset(
    {
        "escalation-report",
        "escalation-message",
        "escalation-number",
        "escalation-choice",
        "escalation-accepted",
        "escalation-passed",
        "escalation-taken",
    }
)

#: What callers hear while waiting, and operators when they use a feature code.
QUEUE_PROMPTS = (
    CALLBACK_PROMPTS
    | MESSAGE_PROMPTS
    | ESCALATION_PROMPTS
    | frozenset(
        {
            "leave-message",
            "callback-while-waiting",
            "callback-when",
            "callback-planned",
            "shelter",
            "shelter-begun",
            "shelter-ended",
            "announcement-record",
            "announcement-heard",
            "announcement-confirm",
            "announcement-saved",
            "announcement-cancelled",
            "position",
            "estimated-wait",
            "minutes",
            "connecting",
            "logged-in",
            "logged-out",
            "paused",
            "resumed",
            "not-an-operator",
        }
    )
)


@dataclass(frozen=True)
class Policy:
    """The queues' rules (``queues:``, hotline/config/rules.py): the deployment's, or an
    organisation's own."""

    ring_timeout: int = 15
    wrap_up: int = 10
    pause_after_misses: int = 2
    announce_every: int = 30
    default_handle_time: int = 300
    callback_attempts: int = 3
    callback_retry: int = 60
    service_level_threshold: int = 20
    service_level_target: float = 0.8
    notification_target: int = 900
    pause_reasons: tuple[str, ...] = ("break", "training", "admin")
    caller_history_days: int = 90
    resolutions: tuple[str, ...] = (
        "advice-given",
        "referred-to-centre",
        "lawyer-appointed",
        "callback-needed",
    )
    notification_outcomes: tuple[str, ...] = (
        "lawyer-appointed",
        "family-informed",
        "passed-to-centre",
        "not-reached",
        "not-a-detention",
    )


@dataclass(frozen=True)
class Retention:
    """Days each kind of personal data is kept (``retention:``, hotline/config/rules.py), and
    what becomes of a call's record after its days: ``pseudonymise`` or ``delete``."""

    call_log_days: int = 365
    call_log: str = "pseudonymise"
    reports_days: int = 365
    recordings_days: int = 90


@dataclass(frozen=True)
class Organisation:
    """One organisation the service runs a hotline for, and what is its own (by id)."""

    id: str
    name: str
    languages: tuple[str, ...]
    #: Its home time zone (its first office's): its statistics count days in it.
    timezone: str
    numbers: frozenset[str]
    lines: frozenset[str]
    offices: frozenset[str]
    operators: frozenset[str]
    supervisors: frozenset[str]
    #: The country its callers' and callback numbers are read in when national (its own
    #: ``country``, else its first office's; None: only international forms are read).
    country: str | None = None
    centres: frozenset[str] = frozenset()
    #: Keypad codes: code -> the line, operator or centre it names (a transfer), or the office
    #: (a supervisor's *72).
    codes: Mapping[str, str] = field(default_factory=dict)
    #: Its queue rules (timings, pause reasons, resolutions, notification outcomes, its
    #: wallboard's targets): its own ``queues:`` over the shared ones, value by value.
    policy: Policy = Policy()
    #: Its duty people, and its rotas of who is on duty when (the first: its default), and
    #: where each rota's calendar is kept (hotline/config/duty.py).
    duty: duty_config.Duty = field(default_factory=duty_config.Duty)
    #: Where its events go.
    webhooks: tuple[Webhook, ...] = ()
    #: Its own cap on outbound calls an hour (None: trunk.callbacks.per_hour).
    callbacks_per_hour: int | None = None
    #: How long it keeps personal data: its own ``retention:`` over the shared one.
    retention: Retention = Retention()
    #: Days its audit trail is kept (None: the deployment's ``audit_days``).
    audit_days: int | None = None

    @property
    def rotas(self) -> Mapping[str, Rota]:
        """Its rotas by name, its default first."""
        return self.duty.rotas


@dataclass(frozen=True)
class Webhook:
    """A receiver of an organisation's events: what it is sent (``reports``, ``calls``), and
    which personal fields (``caller``, ``number``, ``note``)."""

    url: str
    events: frozenset[str]
    personal: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rules:
    """What holds for an organisation's calls, operators and figures: its queue rules and
    its home time zone. What belongs to no organisation has the deployment's."""

    policy: Policy
    timezone: str


@dataclass(frozen=True)
class Deployment:
    """A checked deployment, as domain objects."""

    languages: tuple[str, ...]
    flow: Flow
    lines: Mapping[str, Line]
    offices: Mapping[str, Office]
    operators: Mapping[str, Operator]
    trunk: TrunkModel
    sip: SipModel = field(default_factory=SipModel)
    phones: PhonesModel = field(default_factory=PhonesModel)
    #: Bans of addresses that fail to log in too often.
    security: SecurityModel = field(default_factory=SecurityModel)
    policy: Policy = Policy()
    #: Days a conversation recording is kept.
    retention_days: int = 90
    #: Days the audit trail is kept (an organisation's own: ``Organisation.audit_days``).
    audit_days: int = 2190
    #: Supervisors' softphones: id -> name.
    supervisors: Mapping[str, str] = field(default_factory=dict)
    #: Who runs what (a config without organisations is one, ``hotline``).
    organisations: Mapping[str, Organisation] = field(default_factory=dict)
    #: The legal aid centres callers can be connected to, every organisation's.
    centres: Mapping[str, Centre] = field(default_factory=dict)
    #: What the config itself says in a prompt, by (language, prompt): a centre's address
    #: and hours.
    prompt_texts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    #: Each line's escalation chain of its detention reports (lines without one: none).
    escalations: Mapping[str, Chain] = field(default_factory=dict)

    def organisation_of(
        self,
        *,
        number: str | None = None,
        line: str | None = None,
        operator: str | None = None,
        supervisor: str | None = None,
        centre: str | None = None,
        office: str | None = None,
    ) -> Organisation | None:
        """The organisation a number, a line, an operator, a supervisor, a centre or an
        office belongs to (None: unknown)."""
        for org in self.organisations.values():
            if (
                number in org.numbers
                or line in org.lines
                or operator in org.operators
                or supervisor in org.supervisors
                or centre in org.centres
                or office in org.offices
            ):
                return org
        return None

    def rules_of(
        self,
        organisation: str | None = None,
        *,
        line: str | None = None,
        operator: str | None = None,
    ) -> Rules:
        """The rules of an organisation (by id), or of the one a line or an operator belongs
        to: its own; what belongs to no organisation (or to one not known) has the
        deployment's. The one place where the organisation's value, else the deployment's,
        is chosen. (Each organisation's queue rules are the shared ``queues:`` with its own
        put in, value by value, as the config is read: hotline/config/loading.py.)"""
        found = (
            self.organisations.get(organisation)
            if organisation is not None
            else self.organisation_of(line=line, operator=operator)
            if line is not None or operator is not None
            else None
        )
        if found is None:
            return Rules(self.policy, self.timezone)
        return Rules(found.policy, found.timezone)

    def policy_of(
        self,
        organisation: str | None = None,
        *,
        line: str | None = None,
        operator: str | None = None,
    ) -> Policy:
        """The queue rules of an organisation (by id), or of the one a line or an operator
        belongs to (see :meth:`rules_of`)."""
        return self.rules_of(organisation, line=line, operator=operator).policy

    def notification_target(self, line: str) -> int:
        """Seconds within which a notification on ``line`` is to be handled (its
        organisation's ``notification_target``)."""
        return self.policy_of(line=line).notification_target

    def target(self, name: str, organisation: str | None = None) -> Target | None:
        """The line, operator or centre a transfer names, by id or by ``organisation``'s
        keypad code (None: none of them)."""
        org = self.organisations.get(organisation or "")
        if org is not None:
            name = org.codes.get(name, name)
        if name in self.lines:
            return Target("line", name)
        if name in self.operators:
            return Target("operator", name)
        centre = self.centres.get(name)
        return centre.target() if centre is not None else None

    @property
    def endpoints(self) -> list[str]:
        """Every SIP endpoint with a password: operators and supervisors."""
        return [*self.operators, *self.supervisors]

    @property
    def callbacks(self) -> CallbackPolicy:
        """Where callbacks may go (none anywhere without a carrier to call through)."""
        allowed = self.trunk.callbacks
        if allowed is None:
            return CallbackPolicy((), 1, 1)
        own = {
            org.id: org.callbacks_per_hour
            for org in self.organisations.values()
            if org.callbacks_per_hour is not None
        }
        return CallbackPolicy.of(
            allowed.rules(),
            allowed.per_number_per_hour,
            allowed.per_hour,
            allowed.per_caller_per_hour,
            own,
        )

    def number(self, raw: str, *, organisation: str | None = None, line: str | None = None) -> str:
        """``raw`` (a caller id, a number a caller typed or an API was given) as it is stored,
        compared and counted: E.164 when it reads as a number in the country of the
        organisation (by id, or of ``line``), else as it came (``anonymous``, a short code).
        With neither (a deployment-wide API token's query): the first organisation's country,
        in the config's order, that reads it."""
        if organisation is None and line is None:
            for region in dict.fromkeys(org.country for org in self.organisations.values()):
                if numbers.normalised(raw, region):
                    return numbers.normalise(raw, region)
        return numbers.normalise(raw, self.region(organisation=organisation, line=line))

    def caller(self, raw: str, dialled: str) -> str:
        """A caller id as the carrier sent it (0501234567, 380501234567, +380...) as it is
        stored: read in the country of the organisation whose number ``dialled`` is."""
        org = self.organisation_of(number=dialled)
        if org is None:  # (a number no organisation has: international forms only)
            return numbers.normalise(raw, None)
        return self.number(raw, organisation=org.id)

    def region(self, *, organisation: str | None = None, line: str | None = None) -> str | None:
        """The country national numbers are read in for an organisation (by id, or of
        ``line``); with neither, or none known: the only one of the deployment's, if its
        organisations share one."""
        found = (
            self.organisations.get(organisation)
            if organisation is not None
            else self.organisation_of(line=line)
            if line is not None
            else None
        )
        if found is not None:
            return found.country
        countries = {org.country for org in self.organisations.values()}
        return countries.pop() if len(countries) == 1 else None

    def dial(self, number: str) -> str:
        """A stored number as the carrier and the SMS gateway are given it (trunk.dial)."""
        return numbers.dial(number, self.trunk.dial)

    @property
    def timezone(self) -> str:
        """The hotline's home time zone (its first office's): statistics count days in it."""
        return next(iter(self.offices.values())).schedule.timezone if self.offices else "UTC"

    def prompt_names(self) -> set[str]:
        """Every prompt the menus, numbers and lines name."""
        names: set[str] = set()
        actions: list[Action] = []
        for menu in self.flow.menus.values():
            names.add(menu.prompt)
            if menu.wrong_key_prompt:
                names.add(menu.wrong_key_prompt)
            actions += [*menu.options.values(), menu.no_input, menu.wrong_key]
        for entry in self.flow.entries.values():
            if entry.greeting:
                names.add(entry.greeting)
            actions.append(entry.action)
        names.update(a.prompt for a in actions if a.prompt)
        names.update(
            line.after_hours.prompt for line in self.lines.values() if line.after_hours.prompt
        )
        names.update(line.recording_prompt for line in self.lines.values() if line.recording_prompt)
        if any(a.centre for a in actions):
            names.add("centre-unavailable")
        if any(a.sms for a in actions):
            names |= SMS_PROMPTS
        if any(line.after_hours.callback for line in self.lines.values()):
            names |= CALLBACK_PROMPTS
        return names | QUEUE_PROMPTS
