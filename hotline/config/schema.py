"""The config file's format (config/hotline.yaml): the whole file, and one organisation's
part of it with its directory of centres and its webhooks. The other sections are each in a
module of their own: menus.py (numbers and menus), lines.py, offices.py (and operators,
supervisors), rules.py (queues, retention, audit), telephony.py (trunk, sip, phones,
security), duty.py; the ids and shapes they share are in fields.py. What is checked across
sections is in checks.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from hotline.config.duty import DutyModel
from hotline.config.fields import Country, KeypadCode, Language, Name, Number, Section
from hotline.config.lines import LineModel
from hotline.config.menus import MenuModel, NumberModel
from hotline.config.offices import OfficeModel, OperatorModel, SupervisorModel
from hotline.config.rules import AuditModel, QueuesModel, RecordingsModel, RetentionModel
from hotline.config.telephony import (
    OwnCallbacksModel,
    PhonesModel,
    SecurityModel,
    SipModel,
    TrunkModel,
)


class CentreModel(Section):
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


class WebhookModel(Section):
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


class TargetsModel(Section):
    """An organisation's own targets (each unset one: the shared ``queues`` value). The
    older place for them: ``queues:`` in the organisation says the same, and more."""

    service_level_threshold: int | None = Field(None, ge=1, le=600)
    service_level_target: float | None = Field(None, gt=0, le=1)
    notification_target: int | None = Field(None, ge=60, le=86400)


class OrganisationModel(Section):
    """One organisation's hotline: its numbers, menus, lines, offices, operators and
    supervisors, in its languages, and its targets."""

    name: str = Field(min_length=1, max_length=120)
    languages: list[Language] = Field(min_length=1)
    #: The country whose numbering plan reads its national numbers (a caller id or a typed
    #: callback number ``0501234567``, its centres' and duty people's phones); unset: its
    #: first office's ``country`` that is set.
    country: Country | None = None
    targets: TargetsModel = TargetsModel()
    #: Its own queue rules: any setting of the shared ``queues:``, each one given replacing
    #: the shared value (checked as the shared ones are, as the file is loaded).
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

    def region(self) -> str | None:
        """The country its national numbers are read in (None: none is known; only numbers
        in international form are then read as numbers)."""
        if self.country is not None:
            return self.country
        return next((o.country for o in self.offices.values() if o.country), None)


class DeploymentModel(Section):
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
    country: Country | None = None
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
        flat = [s for s in ("languages", "country", *OWNED, "duty", "webhooks") if getattr(self, s)]
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
                country=self.country,
                **{s: getattr(self, s) for s in ("languages", *OWNED, "webhooks")},
            )
        }
