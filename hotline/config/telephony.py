"""How the hotline meets the telephone network in config/hotline.yaml: the carrier's trunk
and where callbacks may go through it (``trunk``), where Asterisk listens (``sip``), how
softphones connect (``phones``), and the bans of addresses that attack it (``security``)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from hotline.config.fields import Country, Section
from routing.numbers import DialForm, Kind
from routing.outbound import PER_CALLER, Allowed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: What `hotline check` says to a config that still gives callbacks.allowed as patterns.
PATTERNS_GONE = (
    "regular expressions are no longer read here: name the countries and types of number "
    "callbacks may dial, e.g. allowed: [{country: UA, types: [mobile, fixed_line]}, "
    "{country: GE, types: [mobile]}] (types: mobile, fixed_line, toll_free, voip, "
    "personal_number, uan; premium-rate, shared-cost and short numbers never)"
)


class AllowedModel(Section):
    """Numbers callbacks may dial: a country's (ISO 3166 alpha-2) of these types, as its
    numbering plan says (phonenumbers' data: premium-rate and shared-cost ranges are known
    to it, so they are refused whatever form a caller types them in)."""

    country: Country
    types: Annotated[list[Kind], Field(min_length=1)] = ["mobile", "fixed_line"]

    def rule(self) -> Allowed:
        return Allowed.of(self.country, self.types)


class CallbacksModel(Section):
    """Where callbacks may go: the countries and types of number (e.g. the country's mobiles
    and landlines: no other country, no premium-rate number), and at most so many calls an
    hour to one number and in all."""

    allowed: list[AllowedModel] = Field(min_length=1)
    per_number_per_hour: int = Field(4, ge=1, le=100)
    #: Each organisation's outbound calls an hour (callbacks and escalations).
    per_hour: int = Field(60, ge=1, le=10_000)
    #: Callback requests one calling number may make to one organisation in an hour.
    per_caller_per_hour: int = Field(PER_CALLER, ge=1, le=100)

    @field_validator("allowed", mode="before")
    @classmethod
    def _no_patterns(cls, value: Any) -> Any:
        if isinstance(value, list) and any(isinstance(item, str) for item in value):
            raise ValueError(PATTERNS_GONE)
        return value

    def rules(self) -> tuple[Allowed, ...]:
        return tuple(model.rule() for model in self.allowed)


class OwnCallbacksModel(Section):
    """An organisation's own, lower, cap on its outbound calls an hour."""

    per_hour: int = Field(ge=1, le=10_000)


class TrunkModel(Section):
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
    #: How numbers are written in what the carrier (and the SMS gateway) is given:
    #: ``international`` (380501234567) or ``e164`` (+380501234567).
    dial: DialForm = "international"

    @model_validator(mode="after")
    def _outbound_needs(self) -> TrunkModel:
        if (self.auth or self.registration) and self.outbound is None:
            raise ValueError("auth and registration need the carrier's address in 'outbound'")
        if self.outbound is not None and self.callbacks is None:
            raise ValueError(
                "with 'outbound', say which numbers callbacks may dial in 'callbacks.allowed'"
            )
        return self


class SipModel(Section):
    """Where Asterisk listens for SIP, and what it says of itself behind NAT."""

    #: The address Asterisk's SIP transports bind to (0.0.0.0: every interface).
    bind: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address("127.0.0.1")
    udp_port: int = Field(5060, ge=1, le=65535)
    tls_port: int = Field(5061, ge=1, le=65535)
    #: SIP over secure WebSocket, the desk's phone (Asterisk's HTTPS server, the phones'
    #: certificate); plain HTTP and WebSocket stay on the loopback.
    wss_port: int = Field(8089, ge=1, le=65535)
    #: The public address (or host name) of a NAT in front of Asterisk, written into SIP
    #: headers and SDP for phones outside; None: Asterisk is reached at its own address.
    external_address: Annotated[str, Field(pattern=r"^[A-Za-z0-9.:\-]+$")] | None = None
    #: Networks reached without that NAT (the carrier's, the office's).
    local_networks: list[Network] = []


class TlsModel(Section):
    """The TLS certificate phones see, as files on the Asterisk machine (PEM). The sandbox
    generates these files, with its own certificate authority, at ``sandbox up``."""

    certificate: str = "/etc/asterisk/keys/hotline.crt"
    key: str = "/etc/asterisk/keys/hotline.key"


class TurnModel(Section):
    """A TURN server (coturn) that relays the desk phone's media for operators behind networks
    that let nothing else through (docs/operations.md: when it is needed, how to run it). Its
    credentials are made per desk session from the secret shared with it
    (HOTLINE_TURN_SECRET; coturn's ``use-auth-secret``/``static-auth-secret``) and expire."""

    #: Its addresses as browsers reach it (``turn:turn.example.org:3478?transport=udp``,
    #: ``turns:turn.example.org:5349?transport=tcp``).
    urls: Annotated[list[Annotated[str, Field(pattern=r"^turns?:[^\s]+$")]], Field(min_length=1)]
    #: How long the credentials of a desk session hold (a session lasts 12).
    hours: int = Field(12, ge=1, le=48)


class PhonesModel(Section):
    """How operators' and supervisors' softphones reach Asterisk (from anywhere: NAT is
    handled on their endpoints)."""

    #: Phones may use plain UDP.
    udp: bool = True
    #: Phones may use TLS (port sip.tls_port).
    tls: bool = True
    #: ``required``: TLS for signalling and SRTP for media, nothing else (no UDP).
    encryption: Literal["optional", "required"] = "optional"
    #: Operators may take calls in the desk, with a browser and a headset: SIP over secure
    #: WebSocket (sip.wss_port) and WebRTC media (DTLS-SRTP, ICE), with credentials the
    #: service hands to their desk's session alone.
    browser: bool = True
    #: The desk's phone relays its media through this TURN server where nothing else passes
    #: (None: none; on a network that reaches Asterisk's media ports, none is needed).
    turn: TurnModel | None = None
    certificate: TlsModel = TlsModel()

    @model_validator(mode="after")
    def _consistent(self) -> PhonesModel:
        if not (self.udp or self.tls):
            raise ValueError("phones need a transport: udp, tls or both")
        if self.encryption == "required" and (self.udp or not self.tls):
            raise ValueError("encryption: required means tls: true and udp: false")
        return self


class BanModel(Section):
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


class SecurityModel(Section):
    """What is done to addresses that attack the hotline's SIP port."""

    ban: BanModel = BanModel()
