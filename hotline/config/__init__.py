"""The deployment config (config/hotline.yaml): its schema, its checks, and the domain it builds.

Every problem is reported as ``file: path.inside.it: what is wrong``; nothing here lets a
traceback reach the person who edited the file. (Over 400 lines: the schema, its checks and
the domain built from it stay together, so that a check names the path it checks.)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import holidays
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from agents import Operator
from agents.rota import DutyRole, Rota, zone
from hotline.config import duty as duty_config
from hotline.config.duty import DutyModel
from hotline.config.fields import KeypadCode, Language, Name, Number
from hotline.config.fields import unknown as _unknown
from ivr import Action, Entry, Flow, Menu
from routing import AfterHours, Line, Office, Schedule, parse_hours
from routing.escalation import Chain
from routing.escalation import Step as EscalationStep
from routing.lines import Overflow
from routing.outbound import PER_CALLER, CallbackPolicy
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


class ConfigError(Exception):
    """A config that cannot run; ``problems`` are ``(path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            "\n".join(f"{source}: {p}: {m}" if p else f"{source}: {m}" for p, m in problems)
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionModel(_Model):
    menu: Name | None = None
    line: Name | None = None
    centre: Name | None = None
    #: Text the caller this centre's address, hours and number, then the same menu again.
    sms: Name | None = None
    repeat: bool = False
    hangup: bool = False
    language: Language | None = None
    prompt: Name | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ActionModel:
        named = sum(t is not None for t in (self.menu, self.line, self.centre, self.sms))
        if named + self.repeat + self.hangup != 1:
            raise ValueError("needs exactly one of: menu, line, centre, sms, repeat, hangup")
        return self

    def build(self) -> Action:
        return Action(**self.model_dump())


class MenuModel(_Model):
    prompt: Name
    options: dict[Annotated[str, Field(pattern=r"^[0-9*#]$")], ActionModel]
    timeout: float = Field(5.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=5)
    no_input: ActionModel
    wrong_key: ActionModel | None = None
    wrong_key_prompt: Name | None = None
    speak_in: list[Language] = []


class NumberModel(_Model):
    language: Language
    start: ActionModel
    fallback_line: Name
    greeting: Name | None = None


class AfterHoursModel(_Model):
    prompt: Name | None = None
    line: Name | None = None
    callback: bool = False

    @model_validator(mode="after")
    def _line_or_callback(self) -> AfterHoursModel:
        if self.line is not None and self.callback:
            raise ValueError("choose one: another line, or a callback offer")
        return self


class OverflowModel(_Model):
    after: float = Field(gt=0, le=3600)
    offices: list[Name] = Field(min_length=1)


class RecordingModel(_Model):
    enabled: bool = False
    #: What the caller hears before waiting (None: nothing, where the law allows it).
    prompt: Name | None = "call-recorded"


class RecordingsModel(_Model):
    #: Conversation recordings are deleted this many days after the call.
    retention_days: int = Field(90, ge=1, le=3650)


class RetentionModel(_Model):
    """How long each kind of personal data is kept (days after the call, or after the report
    was stored): the shared rules (``retention:``), and each organisation's (its own
    ``retention:``, any of these, over the shared ones). What happens after it:
    :mod:`hotline.lifecycle`."""

    #: The call log's personal fields: caller numbers and names, the numbers callers typed
    #: (callbacks, SMS), operators' notes, and the same in the call's events and outbox.
    call_log_days: int = Field(365, ge=1, le=3650)
    #: After it a call's record is ``pseudonymise``d (its figures stay: counts, waits,
    #: outcomes, durations) or ``delete``d (the whole record, its events with it).
    call_log: Literal["pseudonymise", "delete"] = "pseudonymise"
    #: Detention reports (the notifications file and the call log's copy) and their recorded
    #: messages; a report still open is kept until it is handled.
    reports_days: int = Field(365, ge=1, le=3650)
    #: Conversation recordings (unset: ``recordings.retention_days``).
    recordings_days: int | None = Field(None, ge=1, le=3650)


class AuditModel(_Model):
    """The audit trail of access to personal data (hotline/store/trail.py)."""

    #: Its entries are deleted this many days after the access: six years by default, longer
    #: than the data they name is kept (checked), so that an access can be answered for
    #: after the data itself is gone.
    days: int = Field(2190, ge=30, le=36_500)


class EscalationStepModel(_Model):
    """One link of a line's escalation chain: ring the next person on duty as ``ring``."""

    ring: DutyRole
    #: Seconds left to a person who heard the report without a key, to accept it another
    #: way, before the next step.
    wait: int = Field(300, ge=0, le=86_400)
    #: Also text them (what was reported, the reference, a link to it: no recording, no
    #: caller's name) and e-mail them, as they are rung.
    sms: bool = False
    email: bool = False


class EscalationModel(_Model):
    """How a line's detention reports reach a person on duty: each step in turn, then again
    from the top, until someone accepts the report or it is closed."""

    #: Whose duty people: one of the organisation's rotas (none: its first).
    rota: Name | None = None
    steps: list[EscalationStepModel] = Field(min_length=1, max_length=20)
    #: Text the family, on the number they left, their reference.
    family_sms: bool = False
    #: Seconds a person's phone rings.
    ring_timeout: int = Field(30, ge=10, le=120)
    #: A new round begins no sooner than this many seconds after the last one began.
    again_after: int = Field(300, ge=0, le=86_400)
    #: Nobody on duty to ring: looked for again after this many seconds.
    retry: int = Field(60, ge=10, le=3600)

    def build(self) -> Chain:
        return Chain(
            tuple(EscalationStep(s.ring, s.wait, s.sms, s.email) for s in self.steps),
            self.rota,
            self.family_sms,
            self.ring_timeout,
            self.again_after,
            self.retry,
        )


class LineModel(_Model):
    offices: list[Name] = Field(min_length=1)
    priority: int = Field(0, ge=0, le=1000)
    titles: dict[Language, str] = {}
    after_hours: AfterHoursModel = AfterHoursModel()
    overflow: OverflowModel | None = None
    callback_abandoned: bool = False
    take_message_after: float | None = Field(None, ge=5, le=3600)
    recording: RecordingModel = RecordingModel()
    #: Its offices keep their hours on public holidays.
    open_on_holidays: bool = False
    #: What its calls can be about: the topics an operator picks in the wrap-up.
    topics: list[Name] = []
    #: What an operator keys after ## (blind) or *2 (attended) to transfer a caller here;
    #: unique within the organisation.
    code: KeypadCode | None = None
    #: Its detention reports rung through to the people on duty (routing/escalation.py).
    escalation: EscalationModel | None = None


class QueuesModel(_Model):
    """How the service's queues treat callers and operators: the shared rules (``queues:``),
    and each organisation's (its own ``queues:``, any of these, over the shared ones)."""

    ring_timeout: int = Field(15, ge=5, le=120)
    wrap_up: int = Field(10, ge=0, le=600)
    pause_after_misses: int = Field(2, ge=0, le=10)
    announce_every: int = Field(30, ge=10, le=600)
    default_handle_time: int = Field(300, ge=10, le=7200)
    callback_attempts: int = Field(3, ge=1, le=10)
    callback_retry: int = Field(60, ge=5, le=3600)
    #: The wallboard's targets: share of calls answered within the threshold (seconds),
    #: and how soon an open detention notification must be handled (seconds).
    service_level_threshold: int = Field(20, ge=1, le=600)
    service_level_target: float = Field(0.8, gt=0, le=1)
    notification_target: int = Field(900, ge=60, le=86400)
    #: Why an operator may pause (``missed-calls`` is the service's own).
    pause_reasons: list[Name] = Field(["break", "training", "admin"], min_length=1)
    #: How many days of a caller's earlier calls the operator's desk shows.
    caller_history_days: int = Field(90, ge=0, le=3650)
    #: How a call ended for the caller, as the operator records it in the wrap-up.
    resolutions: list[Name] = Field(
        ["advice-given", "referred-to-centre", "lawyer-appointed", "callback-needed"],
        min_length=1,
    )
    #: How a detention notification was handled, as the operator who closes it records it.
    notification_outcomes: list[Name] = Field(
        [
            "lawyer-appointed",
            "family-informed",
            "passed-to-centre",
            "not-reached",
            "not-a-detention",
        ],
        min_length=1,
    )


class OfficeModel(_Model):
    timezone: str
    hours: list[str] = Field(min_length=1)
    #: The office's own closed days.
    holidays: list[date] = []
    #: Where it is (ISO 3166 code, and a subdivision where holidays differ by region): its
    #: public holidays, as the `holidays` package states them, close it unless it is open
    #: around the clock or a line is open on holidays.
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    subdivision: str | None = Field(None, min_length=1, max_length=8)

    @model_validator(mode="after")
    def _known_place(self) -> OfficeModel:
        if self.subdivision is not None and self.country is None:
            raise ValueError("a subdivision needs its country")
        self.public_holidays()
        return self

    def public_holidays(self) -> Container[date]:
        """The country's public holidays (a calendar that fills in each year as it is asked)."""
        if self.country is None:
            return frozenset()
        known = holidays.list_supported_countries()
        if self.country not in known:
            raise ValueError(f"no public holidays are known for country {self.country!r}")
        if self.subdivision is not None and self.subdivision not in known[self.country]:
            regions = ", ".join(known[self.country]) or "none"
            raise ValueError(
                f"{self.country} has no subdivision {self.subdivision!r} (it has: {regions})"
            )
        return holidays.country_holidays(self.country, subdiv=self.subdivision)


class OperatorModel(_Model):
    name: str = Field(min_length=1, max_length=80)
    office: Name
    lines: list[Name] = Field(min_length=1)
    languages: list[Language] = Field(min_length=1)
    #: What an operator keys after ## (blind) or *2 (attended) to transfer a caller here;
    #: unique within the organisation.
    code: KeypadCode | None = None


class SupervisorModel(_Model):
    name: str = Field(min_length=1, max_length=80)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


class CallbacksModel(_Model):
    """Where callbacks may go: the numbers (regular expressions, matched whole; e.g. the
    country's mobile and landline numbering, no international or premium-rate numbers), and
    at most so many calls an hour to one number and in all."""

    allowed: list[Annotated[str, AfterValidator(_pattern)]] = Field(min_length=1)
    per_number_per_hour: int = Field(4, ge=1, le=100)
    #: Each organisation's outbound calls an hour (callbacks and escalations).
    per_hour: int = Field(60, ge=1, le=10_000)
    #: Callback requests one calling number may make to one organisation in an hour.
    per_caller_per_hour: int = Field(PER_CALLER, ge=1, le=100)


class OwnCallbacksModel(_Model):
    """An organisation's own, lower, cap on its outbound calls an hour."""

    per_hour: int = Field(ge=1, le=10_000)


class TrunkModel(_Model):
    #: Calls are accepted from these addresses or networks only (by source address, never by
    #: a user name a caller could send from anywhere).
    addresses: list[Network] = Field(min_length=1)
    #: Where calls out to callers (callbacks) go: the carrier's SIP URI (host and port).
    outbound: Annotated[str, Field(pattern=r"^sips?:[A-Za-z0-9.\-_]+(:\d{1,5})?$")] | None = None
    #: The carrier challenges the hotline's calls (digest): the user name and password come
    #: from HOTLINE_TRUNK_USERNAME and HOTLINE_TRUNK_PASSWORD.
    auth: bool = False
    #: The carrier wants the hotline registered to it (an outbound REGISTER to ``outbound``,
    #: with that user name and password).
    registration: bool = False
    callbacks: CallbacksModel | None = None

    @model_validator(mode="after")
    def _outbound_needs(self) -> TrunkModel:
        if (self.auth or self.registration) and self.outbound is None:
            raise ValueError("auth and registration need the carrier's address in 'outbound'")
        if self.outbound is not None and self.callbacks is None:
            raise ValueError(
                "with 'outbound', say which numbers callbacks may dial in 'callbacks.allowed'"
            )
        return self


class SipModel(_Model):
    """Where Asterisk listens for SIP, and what it says of itself behind NAT."""

    #: The address Asterisk's SIP transports bind to (0.0.0.0: every interface).
    bind: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address("127.0.0.1")
    udp_port: int = Field(5060, ge=1, le=65535)
    tls_port: int = Field(5061, ge=1, le=65535)
    #: The public address (or host name) of a NAT in front of Asterisk, written into SIP
    #: headers and SDP for phones outside; None: Asterisk is reached at its own address.
    external_address: Annotated[str, Field(pattern=r"^[A-Za-z0-9.:\-]+$")] | None = None
    #: Networks reached without that NAT (the carrier's, the office's).
    local_networks: list[Network] = []


class TlsModel(_Model):
    """The TLS certificate phones see, as files on the Asterisk machine (PEM). The sandbox
    generates these files, with its own certificate authority, at ``sandbox up``."""

    certificate: str = "/etc/asterisk/keys/hotline.crt"
    key: str = "/etc/asterisk/keys/hotline.key"


class PhonesModel(_Model):
    """How operators' and supervisors' softphones reach Asterisk (from anywhere: NAT is
    handled on their endpoints)."""

    #: Phones may use plain UDP.
    udp: bool = True
    #: Phones may use TLS (port sip.tls_port).
    tls: bool = True
    #: ``required``: TLS for signalling and SRTP for media, nothing else (no UDP).
    encryption: Literal["optional", "required"] = "optional"
    certificate: TlsModel = TlsModel()

    @model_validator(mode="after")
    def _consistent(self) -> PhonesModel:
        if not (self.udp or self.tls):
            raise ValueError("phones need a transport: udp, tls or both")
        if self.encryption == "required" and (self.udp or not self.tls):
            raise ValueError("encryption: required means tls: true and udp: false")
        return self


class BanModel(_Model):
    """When an address that keeps failing to log in over SIP is blocked (fail2ban reading
    Asterisk's security log; `hotline asterisk render` writes the jail)."""

    #: Failed logins (a wrong password, an unknown user name) from one address that earn a
    #: ban: enough for an operator's typos, far too few to guess a password.
    failures: int = Field(5, ge=1, le=100)
    #: ... counted over this many seconds.
    within: int = Field(600, ge=10, le=86_400)
    #: How long the address is then refused (seconds), on every port, UDP and TCP alike.
    seconds: int = Field(900, ge=5, le=604_800)
    #: Addresses or networks never banned (an office's NAT shared by many phones); the trunk's
    #: addresses are never banned either.
    ignore: list[Network] = []


class SecurityModel(_Model):
    """What is done to addresses that attack the hotline's SIP port."""

    ban: BanModel = BanModel()


class CentreModel(_Model):
    """A legal aid centre in the organisation's directory: callers are connected to it by
    the menus or by an operator (through the trunk: ``number`` must be one callbacks may
    call), or told its address and hours (``says``, one text per language of the
    organisation, spoken by espeak-ng as the prompt ``centre-<id>``)."""

    name: str = Field(min_length=1, max_length=120)
    region: str = Field(min_length=1, max_length=120)
    address: str = Field(min_length=1, max_length=240)
    hours: str = Field(min_length=1, max_length=120)
    number: Number
    says: dict[Language, Annotated[str, Field(min_length=1, max_length=600)]] = {}
    #: What an operator keys after ## (blind) or *2 (attended) to transfer a caller here;
    #: unique within the organisation.
    code: KeypadCode | None = None


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


class WebhookModel(_Model):
    """A receiver of the organisation's events (a case registry): what it is sent, POSTed as
    JSON and signed as Standard Webhooks says with HOTLINE_WEBHOOK_SECRET_<ORGANISATION>."""

    url: Annotated[str, Field(max_length=1024), AfterValidator(_url)]
    #: ``reports``: every change of a detention report; ``calls``: every call's end and
    #: wrap-up.
    events: list[Literal["reports", "calls"]] = Field(min_length=1)
    #: The personal fields it is sent (none unless listed): ``caller`` (the calling number
    #: and name), ``number`` (the number left to call back, a person's number), ``note`` (an
    #: operator's note).
    personal: list[Literal["caller", "number", "note"]] = []


#: What belongs to an organisation (ids unique across all of them).
OWNED = ("numbers", "menus", "lines", "offices", "operators", "supervisors", "centres")


class TargetsModel(_Model):
    """An organisation's own targets (each unset one: the shared ``queues`` value). The
    older place for them: ``queues:`` in the organisation says the same, and more."""

    service_level_threshold: int | None = Field(None, ge=1, le=600)
    service_level_target: float | None = Field(None, gt=0, le=1)
    notification_target: int | None = Field(None, ge=60, le=86400)


class OrganisationModel(_Model):
    """One organisation's hotline: its numbers, menus, lines, offices, operators and
    supervisors, in its languages, and its targets."""

    name: str = Field(min_length=1, max_length=120)
    languages: list[Language] = Field(min_length=1)
    targets: TargetsModel = TargetsModel()
    #: Its own queue rules: any setting of the shared ``queues:``, each one given replacing
    #: the shared value (checked as the shared ones are: :func:`_own_rules`).
    queues: dict[str, Any] = {}
    numbers: dict[Number, NumberModel] = Field(min_length=1)
    menus: dict[Name, MenuModel] = {}
    lines: dict[Name, LineModel] = Field(min_length=1)
    offices: dict[Name, OfficeModel] = Field(min_length=1)
    operators: dict[Name, OperatorModel] = {}
    supervisors: dict[Name, SupervisorModel] = {}
    #: Its directory of legal aid centres.
    centres: dict[Name, CentreModel] = {}
    #: Its duty lawyers and supervisors, and the rotas of who is on duty when.
    duty: DutyModel = DutyModel()
    #: Where its events go (a case registry's URLs).
    webhooks: list[WebhookModel] = []
    #: Its own cap on outbound calls (lower than trunk.callbacks.per_hour).
    callbacks: OwnCallbacksModel | None = None
    #: How long it keeps personal data: any setting of the shared ``retention:``, each one
    #: given replacing the shared value (checked as the shared ones are).
    retention: dict[str, Any] = {}
    #: How long its audit trail is kept (none: the shared ``audit:``).
    audit: AuditModel | None = None


class DeploymentModel(_Model):
    """The whole config: shared settings, and either ``organisations`` or one organisation's
    sections at the top level (``languages``, ``numbers``, ``lines``, ...)."""

    trunk: TrunkModel
    sip: SipModel = SipModel()
    phones: PhonesModel = PhonesModel()
    security: SecurityModel = SecurityModel()
    queues: QueuesModel = QueuesModel()
    recordings: RecordingsModel = RecordingsModel()
    retention: RetentionModel = RetentionModel()
    audit: AuditModel = AuditModel()
    organisations: dict[Name, OrganisationModel] = {}
    languages: list[Language] = []
    numbers: dict[Number, NumberModel] = {}
    menus: dict[Name, MenuModel] = {}
    lines: dict[Name, LineModel] = {}
    offices: dict[Name, OfficeModel] = {}
    operators: dict[Name, OperatorModel] = {}
    #: Supervisors' softphones (SIP endpoints), rung to listen in on operators' calls.
    supervisors: dict[Name, SupervisorModel] = {}
    centres: dict[Name, CentreModel] = {}
    duty: DutyModel | None = None
    webhooks: list[WebhookModel] = []

    @model_validator(mode="after")
    def _organisations_or_one(self) -> DeploymentModel:
        flat = [s for s in ("languages", *OWNED, "duty", "webhooks") if getattr(self, s)]
        if self.organisations and flat:
            raise ValueError(f"with 'organisations', {', '.join(flat)} go inside an organisation")
        if not self.organisations:
            for section in ("languages", "numbers", "lines", "offices"):
                if not getattr(self, section):
                    raise ValueError(f"'{section}' is required (or 'organisations')")
        return self

    def as_organisations(self) -> dict[str, OrganisationModel]:
        """The organisations; a config without them is one, named ``hotline``."""
        if self.organisations:
            return dict(self.organisations)
        return {
            "hotline": OrganisationModel(
                name="Hotline",
                duty=self.duty or DutyModel(),
                **{s: getattr(self, s) for s in ("languages", *OWNED, "webhooks")},
            )
        }


@dataclass(frozen=True)
class Policy:
    """The queues' rules (see QueuesModel): the deployment's, or an organisation's own."""

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

    @classmethod
    def of(cls, rules: QueuesModel) -> Policy:
        """The rules a checked ``queues:`` says (the shared one, or an organisation's)."""
        return cls(
            **rules.model_dump(exclude={"pause_reasons", "resolutions", "notification_outcomes"}),
            pause_reasons=tuple(rules.pause_reasons),
            resolutions=tuple(rules.resolutions),
            notification_outcomes=tuple(rules.notification_outcomes),
        )


@dataclass(frozen=True)
class Retention:
    """Days each kind of personal data is kept (see RetentionModel), and what becomes of a
    call's record after its days: ``pseudonymise`` or ``delete``."""

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
    centres: frozenset[str] = frozenset()
    #: Keypad transfer codes: code -> the line, operator or centre it names.
    codes: Mapping[str, str] = field(default_factory=dict)
    #: Its queue rules (timings, pause reasons, resolutions, notification outcomes, its
    #: wallboard's targets): its own ``queues:`` over the shared ones, value by value.
    policy: Policy = Policy()
    #: Its duty people, and its rotas of who is on duty when (the first: its default), and
    #: where each rota's calendar is kept (hotline/config/duty.py).
    duty: duty_config.Duty = field(default_factory=duty_config.Duty)

    @property
    def rotas(self) -> Mapping[str, Rota]:
        """Its rotas by name, its default first."""
        return self.duty.rotas

    #: Where its events go.
    webhooks: tuple[Webhook, ...] = ()

    #: Its own cap on outbound calls an hour (None: trunk.callbacks.per_hour).
    callbacks_per_hour: int | None = None

    #: How long it keeps personal data: its own ``retention:`` over the shared one.
    retention: Retention = Retention()
    #: Days its audit trail is kept (None: the deployment's ``audit_days``).
    audit_days: int | None = None


@dataclass(frozen=True)
class Webhook:
    """A receiver of an organisation's events: what it is sent (``reports``, ``calls``), and
    which personal fields (``caller``, ``number``, ``note``)."""

    url: str
    events: frozenset[str]
    personal: frozenset[str] = frozenset()


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
    ) -> Organisation | None:
        """The organisation a number, a line, an operator, a supervisor or a centre belongs
        to (None: unknown)."""
        for org in self.organisations.values():
            if (
                number in org.numbers
                or line in org.lines
                or operator in org.operators
                or supervisor in org.supervisors
                or centre in org.centres
            ):
                return org
        return None

    def policy_of(
        self,
        organisation: str | None = None,
        *,
        line: str | None = None,
        operator: str | None = None,
    ) -> Policy:
        """The queue rules of an organisation (by id), or of the one a line or an operator
        belongs to: its own; what belongs to no organisation has the deployment's. (Each
        organisation's are the shared ``queues:`` with its own put in, value by value, as
        the config is read: :func:`_own_rules`.)"""
        found = (
            self.organisations.get(organisation)
            if organisation is not None
            else self.organisation_of(line=line, operator=operator)
            if line is not None or operator is not None
            else None
        )
        return found.policy if found is not None else self.policy

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
            allowed.allowed,
            allowed.per_number_per_hour,
            allowed.per_hour,
            allowed.per_caller_per_hour,
            own,
        )

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


def load(path: Path) -> Deployment:
    """Read, validate and build the deployment at ``path``; raise ConfigError if it is wrong."""
    source = str(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys)
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [("", "is not UTF-8 text")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [(where, f"not valid YAML: {problem}")]) from None
    return parse(raw, source)


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: PyYAML
    keeps the last silently, and a second rota or operator of the same name would replace
    the first unseen. (Keys merged in with ``<<`` may be given again: that is what they are
    for.)"""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse(raw: Any, source: str = "<config>") -> Deployment:
    """Validate ``raw`` (the YAML's data) and build the deployment."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [("", "must be a mapping of settings (languages, numbers, ...)")])
    try:
        model = DeploymentModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_pydantic_problem(e) for e in exc.errors()]) from None
    organisations = model.as_organisations()
    flat, owners, problems = _flatten(model, organisations)
    rules, found = _own_rules(model, organisations)
    problems += found
    kept, found = _own_retention(model, organisations)
    problems += found
    problems += _kinds(organisations, bool(model.organisations))
    problems += _own_caps(model)
    problems += _audit_outlives(model, organisations, kept)
    problems += _codes(organisations, bool(model.organisations))
    if model.organisations:  # name the organisation in every path
        problems += [(_within(path, owners), message) for path, message in _cross_check(flat)]
        problems += [(_within(p, owners), m) for p, m in _belonging(flat, owners, organisations)]
    else:
        problems += _cross_check(flat)
    duty: dict[str, duty_config.Duty] = {}
    callbacks = model.trunk.callbacks
    policy = CallbackPolicy.of(callbacks.allowed, 1, 1) if callbacks else None
    for org_id, org in organisations.items():
        try:
            home = zone(next(iter(org.offices.values())).timezone)
        except ValueError:
            continue  # (the office's own check names it)
        base = f"organisations.{org_id}.duty" if model.organisations else "duty"
        found, duty[org_id] = duty_config.build(base, org.duty, org.languages, home.key, policy)
        problems += found
        prefix = f"organisations.{org_id}." if model.organisations else ""
        problems += [(prefix + p, m) for p, m in _escalations(org)]
    if problems:
        raise ConfigError(source, problems)
    try:
        return _build(flat, organisations, owners, duty, rules, kept)
    except ValueError as exc:  # a domain rule the schema cannot express
        raise ConfigError(source, [("", str(exc))]) from None


def _audit_outlives(
    model: DeploymentModel,
    organisations: Mapping[str, OrganisationModel],
    kept: Mapping[str, Retention],
) -> Iterator[tuple[str, str]]:
    """The audit trail is kept longer than the data it names: an access is answered for
    after the recording, the report or the call's numbers it reached are gone (each
    organisation's longest retention)."""
    shared: set[str] = set()
    for org_id, org in organisations.items():
        retention = kept.get(org_id)
        if retention is None:
            continue  # (its own retention is wrong: named already)
        recordings = (
            "recordings.retention_days"
            if retention.recordings_days == model.recordings.retention_days
            else "retention.recordings_days"
        )
        days, name = max(  # (the first of equals: the call log's)
            (retention.call_log_days, "retention.call_log_days"),
            (retention.reports_days, "retention.reports_days"),
            (retention.recordings_days, recordings),
            key=lambda kind: kind[0],
        )
        audit = org.audit.days if org.audit is not None else model.audit.days
        if audit > days:
            continue
        if org.audit is not None:
            yield f"organisations.{org_id}.audit.days", f"must be longer than {name} ({days})"
        elif (found := f"must be longer than {name} ({days})") not in shared:
            shared.add(found)
            yield "audit.days", found


def _escalations(org: OrganisationModel) -> Iterator[tuple[str, str]]:
    """A line's escalation rings the people of one of its organisation's rotas."""
    rotas = list(org.duty.rotas)
    for name, line in org.lines.items():
        chain = line.escalation
        if chain is None:
            continue
        if not rotas:
            yield (
                f"lines.{name}.escalation",
                "rings the people on duty: give the organisation a duty rota",
            )
        elif chain.rota is not None and chain.rota not in rotas:
            yield f"lines.{name}.escalation.rota", _unknown("rota", chain.rota, rotas)


Owners = dict[tuple[str, str], str]


def _own_rules(
    model: DeploymentModel, organisations: Mapping[str, OrganisationModel]
) -> tuple[dict[str, Policy], list[tuple[str, str]]]:
    """Each organisation's queue rules: the shared ``queues:`` with what it sets itself put
    in, value by value (under ``queues:``, or its targets under ``targets:``), checked as
    the shared ones are. The one place where an organisation's value, else the
    deployment's, is decided."""
    shared = model.queues.model_dump()
    rules: dict[str, Policy] = {}
    problems: list[tuple[str, str]] = []
    for org_id, org in organisations.items():
        prefix = f"organisations.{org_id}." if model.organisations else ""
        targets = org.targets.model_dump(exclude_none=True)
        problems += [
            (f"{prefix}targets.{name}", "also set under queues: give it once, under queues")
            for name in sorted(targets.keys() & org.queues.keys())
        ]
        try:
            own = QueuesModel.model_validate(shared | targets | org.queues)
        except ValidationError as exc:
            for error in exc.errors():
                path, message = _pydantic_problem(error)
                problems.append((f"{prefix}queues.{path}", message))
            continue
        rules[org_id] = Policy.of(own)
    return rules, problems


def _own_retention(
    model: DeploymentModel, organisations: Mapping[str, OrganisationModel]
) -> tuple[dict[str, Retention], list[tuple[str, str]]]:
    """Each organisation's retention: the shared ``retention:`` with what it sets itself put
    in, value by value, checked as the shared one is; recordings kept
    ``recordings.retention_days`` unless it says otherwise."""
    shared = model.retention.model_dump(exclude_none=True)
    kept: dict[str, Retention] = {}
    problems: list[tuple[str, str]] = []
    for org_id, org in organisations.items():
        prefix = f"organisations.{org_id}." if model.organisations else ""
        try:
            own = RetentionModel.model_validate(shared | org.retention)
        except ValidationError as exc:
            for error in exc.errors():
                path, message = _pydantic_problem(error)
                problems.append((f"{prefix}retention.{path}", message))
            continue
        recordings = own.recordings_days or model.recordings.retention_days
        if own.reports_days > own.call_log_days:
            # the report's call keeps its number as long as the report does, else the
            # report would name what its call's record no longer holds
            problems.append(
                (
                    f"{prefix}retention.reports_days",
                    f"{own.reports_days} is more than call_log_days ({own.call_log_days}): "
                    "a report is kept at most as long as its call's record",
                )
            )
        kept[org_id] = Retention(own.call_log_days, own.call_log, own.reports_days, recordings)
    return kept, problems


def _own_caps(model: DeploymentModel) -> list[tuple[str, str]]:
    """An organisation may lower the hourly cap on outbound calls, never raise it."""
    shared = model.trunk.callbacks
    cap = shared.per_hour if shared is not None else 0
    return [
        (
            f"organisations.{org_id}.callbacks.per_hour",
            f"{org.callbacks.per_hour} is more than trunk.callbacks.per_hour ({cap}): "
            "an organisation may only set a lower cap",
        )
        for org_id, org in model.organisations.items()
        if org.callbacks is not None and org.callbacks.per_hour > cap
    ]


def _flatten(
    model: DeploymentModel, organisations: Mapping[str, OrganisationModel]
) -> tuple[DeploymentModel, Owners, list[tuple[str, str]]]:
    """Every organisation's sections in one (ids unique across them: a clash is a problem),
    who owns each id, and the languages of them all."""
    merged: dict[str, dict[str, Any]] = {section: {} for section in OWNED}
    owners: Owners = {}
    languages: list[str] = []
    clashes: list[tuple[str, str]] = []
    for org_id, org in organisations.items():
        languages += [lang for lang in org.languages if lang not in languages]
        for section in OWNED:
            for name, item in getattr(org, section).items():
                if (section, name) in owners:
                    clashes.append(
                        (
                            f"organisations.{org_id}.{section}.{name}",
                            f"also in organisation {owners[section, name]!r}: ids are unique "
                            "across organisations",
                        )
                    )
                    continue
                owners[section, name] = org_id
                merged[section][name] = item
    return model.model_copy(update={"languages": languages, **merged}), owners, clashes


#: What a phone dials or is, by id: SIP endpoints (operators, supervisors) and transfer
#: targets (lines, centres). Each id is one of them in the whole deployment: an attended
#: transfer keyed as *2 and a line's code dials PJSIP/<the line's id>, which would ring a
#: supervisor of that name; a prefix of one endpoint's channels is no other's.
DIALLED = ("lines", "operators", "supervisors", "centres")
KIND = {"lines": "a line", "operators": "an operator", "supervisors": "a supervisor"}
KIND["centres"] = "a centre"


def _kinds(
    organisations: Mapping[str, OrganisationModel], named: bool
) -> Iterator[tuple[str, str]]:
    """An id is one line, operator, supervisor or centre in the deployment, whichever
    organisation each belongs to (the clash is named where the second one is)."""
    seen: dict[str, tuple[str, str]] = {}  # id -> (its section, organisation)
    for org_id, org in organisations.items():
        for section in DIALLED:
            for name in getattr(org, section):
                first = seen.setdefault(name, (section, org_id))
                if first[0] == section:
                    continue  # (the same section twice: _flatten's clash)
                where = f"organisations.{org_id}.{section}.{name}" if named else f"{section}.{name}"
                whose = f" of organisation {first[1]!r}" if named else ""
                yield (
                    where,
                    f"also the id of {KIND[first[0]]}{whose}: lines, operators, "
                    "supervisors and centres have ids unique across the deployment (phones "
                    "dial them by id)",
                )


def _codes_of(org: OrganisationModel) -> Iterator[tuple[str, str, str]]:
    """(section, id, keypad code) of what an organisation's operators can transfer to."""
    for section in ("lines", "operators", "centres"):
        for name, item in getattr(org, section).items():
            if item.code is not None:
                yield section, name, item.code


def _codes(
    organisations: Mapping[str, OrganisationModel], named: bool
) -> Iterator[tuple[str, str]]:
    """Each keypad code names one target within its organisation."""
    for org_id, org in organisations.items():
        seen: dict[str, str] = {}
        for section, name, code in _codes_of(org):
            path = f"{section}.{name}.code"
            if code in seen:
                where = f"organisations.{org_id}.{path}" if named else path
                yield where, f"keypad code {code!r} is also {seen[code]}'s"
            seen.setdefault(code, name)


def _within(path: str, owners: Owners) -> str:
    """``lines.x...`` as ``organisations.<owner>.lines.x...``."""
    section, _, rest = path.partition(".")
    owner = owners.get((section, rest.split(".", 1)[0]))
    return f"organisations.{owner}.{path}" if owner else path


def _belonging(
    m: DeploymentModel, owners: Owners, organisations: Mapping[str, OrganisationModel]
) -> Iterator[tuple[str, str]]:
    """What an organisation's numbers, menus, lines and operators name is its own, and they
    speak its languages."""

    def own(path: str, whose: str, section: str, name: str | None) -> Iterator[tuple[str, str]]:
        owner = owners.get((section, name or ""))
        if owner is not None and owner != whose:
            kind = section.removesuffix("s")
            yield path, f"{kind} {name!r} belongs to organisation {owner!r}"

    def speaks(path: str, whose: str, language: str | None) -> Iterator[tuple[str, str]]:
        languages = organisations[whose].languages
        if language is not None and language in m.languages and language not in languages:
            yield path, f"language {language!r} is not one of {whose}'s ({', '.join(languages)})"

    def action(path: str, whose: str, a: ActionModel) -> Iterator[tuple[str, str]]:
        yield from own(f"{path}.menu", whose, "menus", a.menu)
        yield from own(f"{path}.line", whose, "lines", a.line)
        yield from own(f"{path}.centre", whose, "centres", a.centre)
        yield from own(f"{path}.sms", whose, "centres", a.sms)
        yield from speaks(f"{path}.language", whose, a.language)

    for number, n in m.numbers.items():
        whose, base = owners["numbers", number], f"numbers.{number}"
        yield from speaks(f"{base}.language", whose, n.language)
        yield from action(f"{base}.start", whose, n.start)
        yield from own(f"{base}.fallback_line", whose, "lines", n.fallback_line)
    for name, menu in m.menus.items():
        whose, base = owners["menus", name], f"menus.{name}"
        for key, option in menu.options.items():
            yield from action(f"{base}.options.{key}", whose, option)
        for what, a in (("no_input", menu.no_input), ("wrong_key", menu.wrong_key)):
            if a is not None:
                yield from action(f"{base}.{what}", whose, a)
        for lang in menu.speak_in:
            yield from speaks(f"{base}.speak_in", whose, lang)
    for name, line in m.lines.items():
        whose, base = owners["lines", name], f"lines.{name}"
        for i, office in enumerate(line.offices):
            yield from own(f"{base}.offices.{i}", whose, "offices", office)
        for i, office in enumerate(line.overflow.offices if line.overflow else ()):
            yield from own(f"{base}.overflow.offices.{i}", whose, "offices", office)
        yield from own(f"{base}.after_hours.line", whose, "lines", line.after_hours.line)
    for name, centre in m.centres.items():
        whose = owners["centres", name]
        for lang in organisations[whose].languages:
            if lang not in centre.says:
                yield f"centres.{name}.says", f"says nothing in {lang!r} (one of {whose}'s)"
        for lang in centre.says:
            yield from speaks(f"centres.{name}.says.{lang}", whose, lang)
    for name, op in m.operators.items():
        whose, base = owners["operators", name], f"operators.{name}"
        yield from own(f"{base}.office", whose, "offices", op.office)
        for i, line_name in enumerate(op.lines):
            yield from own(f"{base}.lines.{i}", whose, "lines", line_name)
        for i, lang in enumerate(op.languages):
            yield from speaks(f"{base}.languages.{i}", whose, lang)


def _pydantic_problem(error: Any) -> tuple[str, str]:
    path = ".".join(str(part) for part in error["loc"])
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        message = "unknown setting"
    elif kind == "missing":
        message = "is required"
    elif kind == "string_pattern_mismatch":
        message = f"{error['input']!r} does not match {error['ctx']['pattern']}"
    return path, message.removeprefix("Value error, ")


def _cross_check(m: DeploymentModel) -> Iterator[tuple[str, str]]:
    def action(path: str, a: ActionModel) -> Iterator[tuple[str, str]]:
        if a.menu is not None and a.menu not in m.menus:
            yield f"{path}.menu", _unknown("menu", a.menu, m.menus)
        if a.line is not None and a.line not in m.lines:
            yield f"{path}.line", _unknown("line", a.line, m.lines)
        if a.centre is not None and a.centre not in m.centres:
            yield f"{path}.centre", _unknown("centre", a.centre, m.centres)
        if a.sms is not None and a.sms not in m.centres:
            yield f"{path}.sms", _unknown("centre", a.sms, m.centres)
        if a.language is not None and a.language not in m.languages:
            yield f"{path}.language", _unknown("language", a.language, m.languages)

    for number, n in m.numbers.items():
        base = f"numbers.{number}"
        if n.language not in m.languages:
            yield f"{base}.language", _unknown("language", n.language, m.languages)
        if n.start.repeat:
            yield f"{base}.start", "'repeat' needs a menu to repeat; a number starts one"
        if n.start.sms is not None:
            yield f"{base}.start", "'sms' needs a menu to come back to; a number starts one"
        yield from action(f"{base}.start", n.start)
        if n.fallback_line not in m.lines:
            yield f"{base}.fallback_line", _unknown("line", n.fallback_line, m.lines)
    for name, menu in m.menus.items():
        base = f"menus.{name}"
        for key, option in menu.options.items():
            yield from action(f"{base}.options.{key}", option)
        yield from action(f"{base}.no_input", menu.no_input)
        if menu.wrong_key is not None:
            yield from action(f"{base}.wrong_key", menu.wrong_key)
        for lang in menu.speak_in:
            if lang not in m.languages:
                yield f"{base}.speak_in", _unknown("language", lang, m.languages)
        for what, a in (("no_input", menu.no_input), ("wrong_key", menu.wrong_key)):
            if a is not None and a.repeat:
                yield f"{base}.{what}", "'repeat' here would ask the caller forever"
            if a is not None and a.sms is not None:
                yield f"{base}.{what}", "'sms' here would text the caller again and again"
    for name, line in m.lines.items():
        for i, staffed_by in enumerate(line.offices):
            if staffed_by not in m.offices:
                yield f"lines.{name}.offices.{i}", _unknown("office", staffed_by, m.offices)
        if line.overflow is not None:
            for i, wider in enumerate(line.overflow.offices):
                if wider not in m.offices:
                    yield f"lines.{name}.overflow.offices.{i}", _unknown("office", wider, m.offices)
        redirect = line.after_hours.line
        if redirect is not None and redirect not in m.lines:
            yield f"lines.{name}.after_hours.line", _unknown("line", redirect, m.lines)
    for name, office in m.offices.items():
        try:
            Schedule(office.timezone, ())
        except ValueError as exc:
            yield f"offices.{name}.timezone", str(exc)
        try:
            parse_hours(office.hours)
        except ValueError as exc:
            yield f"offices.{name}.hours", str(exc)
    for name, op in m.operators.items():
        base = f"operators.{name}"
        if op.office not in m.offices:
            yield f"{base}.office", _unknown("office", op.office, m.offices)
        for i, line_name in enumerate(op.lines):
            if line_name not in m.lines:
                yield f"{base}.lines.{i}", _unknown("line", line_name, m.lines)
        for i, lang in enumerate(op.languages):
            if lang not in m.languages:
                yield f"{base}.languages.{i}", _unknown("language", lang, m.languages)
    callable_ = CallbackPolicy.of(m.trunk.callbacks.allowed, 1, 1) if m.trunk.callbacks else None
    for name, centre in m.centres.items():
        why = callable_.refuses(centre.number) if callable_ else "the trunk allows no callbacks"
        if why is not None:
            yield f"centres.{name}.number", f"cannot be called through the trunk: {why}"
    named = set(m.lines) & set(m.operators) | (set(m.lines) | set(m.operators)) & set(m.centres)
    if named:
        yield "centres", f"transfers name lines, operators and centres alike: {sorted(named)}"
    overlap = set(m.operators) & set(m.numbers)
    if overlap:
        yield "operators", f"an operator id is also a hotline number: {sorted(overlap)}"
    both = set(m.supervisors) & (set(m.operators) | set(m.numbers))
    if both:
        yield "supervisors", f"a supervisor id is also an operator or a number: {sorted(both)}"


def _build(
    m: DeploymentModel,
    organisations: Mapping[str, OrganisationModel],
    owners: Owners,
    duty: Mapping[str, duty_config.Duty],
    rules: Mapping[str, Policy],
    kept: Mapping[str, Retention],
) -> Deployment:
    menus = {
        name: Menu(
            name=name,
            prompt=menu.prompt,
            options={key: a.build() for key, a in menu.options.items()},
            no_input=menu.no_input.build(),
            wrong_key=(menu.wrong_key or menu.no_input).build(),
            timeout=menu.timeout,
            retries=menu.retries,
            wrong_key_prompt=menu.wrong_key_prompt,
            speak_in=tuple(menu.speak_in),
        )
        for name, menu in m.menus.items()
    }
    entries = {
        number: Entry(number, n.language, n.start.build(), n.fallback_line, n.greeting)
        for number, n in m.numbers.items()
    }
    lines = {
        name: Line(
            name=name,
            offices=tuple(line.offices),
            priority=line.priority,
            titles=dict(line.titles),
            after_hours=AfterHours(**line.after_hours.model_dump()),
            overflow=(
                Overflow(line.overflow.after, tuple(line.overflow.offices))
                if line.overflow
                else None
            ),
            callback_abandoned=line.callback_abandoned,
            take_message_after=line.take_message_after,
            recorded=line.recording.enabled,
            recording_prompt=line.recording.prompt if line.recording.enabled else None,
            open_on_holidays=line.open_on_holidays,
            topics=tuple(line.topics),
        )
        for name, line in m.lines.items()
    }
    offices = {
        name: Office(
            name,
            Schedule(o.timezone, parse_hours(o.hours), frozenset(o.holidays), o.public_holidays()),
        )
        for name, o in m.offices.items()
    }
    operators = {
        op_id: Operator(op_id, op.name, op.office, tuple(op.lines), tuple(op.languages))
        for op_id, op in m.operators.items()
    }
    centres = {
        name: Centre(name, c.name, c.region, c.address, c.hours, c.number)
        for name, c in m.centres.items()
    }
    return Deployment(
        languages=tuple(m.languages),
        flow=Flow(menus, entries, tuple(m.languages)),
        lines=lines,
        offices=offices,
        operators=operators,
        trunk=m.trunk,
        sip=m.sip,
        phones=m.phones,
        security=m.security,
        policy=Policy.of(m.queues),
        retention_days=m.recordings.retention_days,
        audit_days=m.audit.days,
        supervisors={name: s.name for name, s in m.supervisors.items()},
        organisations={
            org_id: _organisation(org_id, org, owners, rules[org_id], duty[org_id], kept[org_id])
            for org_id, org in organisations.items()
        },
        centres=centres,
        prompt_texts={
            (lang, centres[name].prompt): text
            for name, c in m.centres.items()
            for lang, text in c.says.items()
        },
        escalations={
            name: line.escalation.build()
            for name, line in m.lines.items()
            if line.escalation is not None
        },
    )


def _organisation(
    org_id: str,
    org: OrganisationModel,
    owners: Owners,
    policy: Policy,
    duty: duty_config.Duty,
    retention: Retention,
) -> Organisation:
    def own(section: str) -> frozenset[str]:
        return frozenset(
            name for (kind, name), owner in owners.items() if (kind, owner) == (section, org_id)
        )

    return Organisation(
        org_id,
        org.name,
        tuple(org.languages),
        next(iter(org.offices.values())).timezone,
        numbers=own("numbers"),
        lines=own("lines"),
        offices=own("offices"),
        operators=own("operators"),
        supervisors=own("supervisors"),
        centres=own("centres"),
        codes={code: name for _, name, code in _codes_of(org)},
        policy=policy,
        duty=duty,
        webhooks=tuple(
            Webhook(hook.url, frozenset(hook.events), frozenset(hook.personal))
            for hook in org.webhooks
        ),
        callbacks_per_hour=org.callbacks.per_hour if org.callbacks else None,
        retention=retention,
        audit_days=org.audit.days if org.audit else None,
    )
