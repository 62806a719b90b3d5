"""Settings of one running service, read once from the environment (HOTLINE_*)."""

from __future__ import annotations

import ipaddress
import math
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, DotEnvSettingsSource, SettingsConfigDict

#: Where `hotline sandbox up` keeps the Asterisk root and the secrets it generated.
SANDBOX_DIR = Path(".cache/sandbox")


#: The files settings are read from after the environment (a later one overrides an earlier).
ENV_FILES = (str(SANDBOX_DIR / "secrets.env"), ".env")


def environment(*more: Path) -> dict[str, str]:
    """The environment as every command sees it: the env files' variables (``more`` too, read
    last: a sandbox's own secrets), and the process's own over them (what the rendered Asterisk
    files read: each operator's SIP password). The files are read by pydantic-settings, as
    `Settings` reads them, with every variable's name kept as written."""
    files = [*ENV_FILES, *map(str, more)]
    found = DotEnvSettingsSource(Settings, env_file=files, case_sensitive=True).env_vars
    return {name: value for name, value in found.items() if value is not None} | dict(os.environ)


class Settings(BaseSettings):
    """Everything deployment-specific that is not the hotline config itself."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=ENV_FILES, extra="ignore")

    config: Path = Path("config/hotline.yaml")
    data_dir: Path = Path("data")
    prompts_dir: Path = Path("recordings/prompts")
    prompts_build_dir: Path = Path("recordings/build")

    agi_host: str = "127.0.0.1"
    agi_port: int = Field(4573, ge=1, le=65535)
    #: The secret the dialplan names in every FastAGI call (agi://host:port/<secret>/...):
    #: a session without it is closed unheard. The sandbox generates it.
    agi_secret: SecretStr = SecretStr("")
    #: The addresses Asterisk connects from (comma-separated); any other peer is reset.
    agi_peers: str = "127.0.0.1,::1"

    #: The secret shared with the TURN server of ``phones.turn`` (coturn's
    #: ``static-auth-secret``): the desk phones' relay credentials are made with it.
    turn_secret: SecretStr = SecretStr("")

    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "hotline"
    ami_secret: SecretStr = SecretStr("")
    #: The AMI account that has Asterisk reload its config at a reload (``hotline-reload``,
    #: the ``config`` class, which the service's own account has not): unset, a reload
    #: writes Asterisk's files and `hotline asterisk reload` (with it) has Asterisk read them.
    ami_reload_secret: SecretStr = SecretStr("")

    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    #: Bearer token of the supervisor role (more tokens: api_tokens, `hotline token create`).
    api_token: SecretStr = SecretStr("")
    #: More tokens, comma-separated ``role[:operator]=token``; a token may be given as
    #: ``sha256:<hex>`` (its hash) so that the secret itself is kept nowhere on the server.
    api_tokens: SecretStr = SecretStr("")

    #: The proxies whose X-Forwarded-For names the client (comma-separated addresses or
    #: networks): a reverse proxy in front of the API, the other instance of a standby pair
    #: (it forwards /api). Empty: nobody's; the client is the connection's peer, whatever a
    #: request claims. What the login limit counts and the access log shows.
    trusted_proxies: str = ""
    #: Event streams (/api/events) one token may have open at once; one more is refused (429).
    streams_per_token: int = Field(10, ge=1, le=1000)
    #: Where the login and notification-reference limits count tries: empty, this
    #: instance's memory; a Redis URL (``redis://127.0.0.1:6379/0``, ``rediss://...``,
    #: ``redis+unix:///run/redis.sock?db=0``) to count them together with the other
    #: instances that name the same. Redis unreachable: each instance counts in its memory
    #: until it answers again (a warning in the log), never without a limit.
    rate_limit_storage: SecretStr = SecretStr("")

    #: /metrics needs an API token (supervisor, viewer or metrics; each sees its own
    #: organisation's figures). Off: a request without one sees the service's state alone
    #: (up, linked, active), never an organisation's figures.
    metrics_auth: bool = True

    #: The call log's database: empty means SQLite in the data folder (hotline.db);
    #: production: postgresql+asyncpg://user:password@host/db
    database_url: SecretStr = SecretStr("")

    #: Run the service's clock from this instant (tests and demos of office hours); the clock
    #: still advances. Unset: the real time.
    clock_start: datetime | None = None

    #: Run as one of several instances on one PostgreSQL (an active one and standbys, by a
    #: lease: hotline/running/leadership.py); off: this instance is alone and always active.
    ha: bool = False
    #: This instance's name among the instances that share the database (the lease's
    #: holder); unset: host:agi_port.
    instance: str = ""
    #: Seconds the active instance's lease lasts (PostgreSQL only): a standby takes over
    #: within about this long after the active one died or hung.
    lease_seconds: float = Field(3.0, ge=0.5, le=60)
    #: How Asterisk reaches this instance's FastAGI server (set as the dialplan's HOTLINE_AGI
    #: when it becomes active); unset: agi://agi_host:agi_port.
    agi_url: str = ""
    #: How the other instances reach this one's API (a standby forwards /api to the active
    #: one); unset: http://api_host:api_port (the host name if api_host is 0.0.0.0).
    api_url: str = ""
    #: Where people reach the desk from outside (e.g. https://hotline.example.org): the
    #: link to a report in the texts to the people on duty; unset: the API's address.
    public_url: str = Field("", pattern=r"^(https?://[^\s]+)?$")

    sandbox_dir: Path = SANDBOX_DIR
    #: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    #: ``text`` (a line for a terminal) or ``json`` (an object a line, for a log collector).
    log_format: Literal["text", "json"] = "text"
    #: Log every API request (uvicorn's access log; numbers in it masked).
    access_log: bool = False
    #: Start `hotline guard` beside the service (it moves callers to the fallback queues
    #: when the service hangs); off only where something else runs the guard.
    guard: bool = True

    #: Asterisk's spool folder as this service sees it (recordings are read from there);
    #: unset: the sandbox's when there is one, else /var/spool/asterisk.
    asterisk_spool: Path | None = None
    #: The root Asterisk's files are under as this service sees it ("/" on the same machine):
    #: a reload writes the generated files into its etc/asterisk and the prompts into its
    #: usr/share/asterisk/sounds/hotline, then has Asterisk reload them. Unset: the
    #: sandbox's when there is one, else none (a reload leaves Asterisk's files as they are
    #: and says so: `hotline asterisk render` and an Asterisk reload do it by hand).
    asterisk_root: Path | None = None
    #: Where conversation recordings and detention messages are kept, sealed (the vault's
    #: folder; default: data/vault). With a standby only those not yet in the shared database.
    recordings_dir: Path | None = None
    #: The key recordings and messages are sealed under (AES-256-GCM): 32 random bytes in
    #: base64 (`hotline vault key`). Required: `hotline env` and `sandbox up` make one.
    recordings_key: SecretStr = SecretStr("")
    #: Keys used before it, comma-separated: still opened, until `hotline vault rotate` has
    #: sealed everything under the current one.
    recordings_old_keys: SecretStr = SecretStr("")

    #: Asterisk's queue_log of the service's queues, for QueueMetrics-style tools
    #: (hotline/store/queuelog.py: app_queue's events and fields): a file, e.g.
    #: /var/log/hotline/queue_log, created with mode 0600 (caller numbers are personal data).
    #: Unset or empty: none is written (it grows with every call: rotate it as Asterisk's
    #: is, with logrotate; the service opens it again once it was moved away).
    queue_log: Path | None = None
    #: How the queue_log writes a caller's number: ``masked`` (only its last two digits, as
    #: the service's own log) or ``full`` (as app_queue does: for reports by caller).
    queue_log_numbers: Literal["masked", "full"] = "masked"

    #: SMS through Kannel (hotline/outbound/kannel.py): smsbox's sendsms URL, e.g.
    #: http://127.0.0.1:13013/cgi-bin/sendsms; unset: no SMS leaves (they wait in the outbox,
    #: and a caller is not offered the centre's SMS).
    sms_url: str = ""
    #: The sendsms-user's name and password in Kannel's smsbox config.
    sms_username: str = ""
    sms_password: SecretStr = SecretStr("")
    #: The sender the SMS shows (``from``; an alphanumeric name, if the operator allows one);
    #: empty: Kannel's global-sender.
    sms_sender: str = ""

    #: E-mail through SMTP (hotline/outbound/smtp.py): the server; unset: no e-mail leaves.
    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    #: The From: address, e.g. hotline@legalaid.example.
    smtp_from: str = ""
    #: ``starttls`` (port 587), ``tls`` (port 465) or ``none`` (a relay on the same machine).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    #: A PEM file of the authorities the SMTP server's certificate is checked against (unset:
    #: the system's).
    smtp_ca_file: Path | None = None

    #: The outbox's retries (hotline/outbound/deliverer.py): seconds before the first retry
    #: of a failed message (each next wait doubles, with jitter), the longest wait between
    #: two tries, and how long after it was written a message is given up (at least a day).
    outbox_retry_first: float = Field(10.0, ge=0.1, le=3600)
    outbox_retry_max: float = Field(3600.0, ge=1, le=86_400)
    outbox_give_up_after: float = Field(86_400.0, ge=60, le=30 * 86_400)
    #: Seconds one try may take (an SMS handed to Kannel, an e-mail, a webhook's answer).
    outbox_timeout: float = Field(15.0, ge=1, le=120)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _security_in_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("redis://", "rediss://", "redis+unix://")):
            raise ValueError("a Redis URL (redis://host:port/db, rediss://, redis+unix://)")
        return value

    @field_validator("sms_url")
    @classmethod
    def _sms_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("Kannel's sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms")
        return value

    @field_validator("queue_log", "smtp_ca_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @staticmethod
    def webhook_secret_name(organisation: str) -> str:
        """The variable holding an organisation's webhook secret (``whsec_<base64>``):
        HOTLINE_WEBHOOK_SECRET_UA_LEGAL_AID for ua-legal-aid."""
        return "HOTLINE_WEBHOOK_SECRET_" + organisation.upper().replace("-", "_")

    def webhook_secret(self, organisation: str) -> str:
        """An organisation's webhook secret, from the environment or the env files."""
        return environment().get(self.webhook_secret_name(organisation), "")

    @field_validator("queue_log_numbers", mode="before")
    @classmethod
    def _numbers_in_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    def agi_peer_list(self) -> list[str]:
        """``agi_peers`` as addresses (ValueError naming the bad one)."""
        peers = [p.strip() for p in self.agi_peers.split(",") if p.strip()]
        for peer in peers:
            try:
                ipaddress.ip_address(peer)
            except ValueError:
                raise ValueError(f"HOTLINE_AGI_PEERS: {peer!r} is not an IP address") from None
        return peers

    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``trusted_proxies`` as networks (ValueError naming the bad one)."""
        found = []
        for entry in (e.strip() for e in self.trusted_proxies.split(",")):
            if not entry:
                continue
            try:
                found.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"HOTLINE_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return tuple(found)

    def instance_name(self) -> str:
        return self.instance or f"{socket.gethostname()}:{self.agi_port}"

    def agi_address(self) -> str:
        """The FastAGI URL Asterisk uses for this instance (without the secret)."""
        return (self.agi_url or f"agi://{self.agi_host}:{self.agi_port}").rstrip("/")

    def public_address(self) -> str:
        """Where people open the desk (the links in the texts to the people on duty)."""
        return (self.public_url or self.api_address()).rstrip("/")

    def api_address(self) -> str:
        """The API's URL for the other instances."""
        host = socket.gethostname() if self.api_host in ("0.0.0.0", "::") else self.api_host
        return (self.api_url or f"http://{host}:{self.api_port}").rstrip("/")

    def takeover_seconds(self) -> int:
        """How long a caller's dialplan keeps trying when no instance answers: two leases and
        a little (0 without a standby: the fallback queue at once)."""
        return math.ceil(2 * self.lease_seconds) + 2 if self.ha else 0

    def spool_of_asterisk(self) -> Path:
        if self.asterisk_spool is not None:
            return self.asterisk_spool
        sandbox = self.sandbox_dir / "root/var/spool/asterisk"
        return sandbox if sandbox.is_dir() else Path("/var/spool/asterisk")

    def root_of_asterisk(self) -> Path | None:
        if self.asterisk_root is not None:
            return self.asterisk_root
        sandbox = self.sandbox_dir / "root"
        return sandbox if (sandbox / "etc/asterisk").is_dir() else None

    def vault_folder(self) -> Path:
        """Where this instance keeps sealed recordings and messages."""
        return self.recordings_dir or self.data_dir / "vault"

    def database(self) -> str:
        """The call log's database URL (SQLite in the data folder unless one is set)."""
        url = self.database_url.get_secret_value()
        return url or f"sqlite+aiosqlite:///{(self.data_dir / 'hotline.db').resolve()}"


#: Secrets seen in default configs and tutorials: refused whatever their length.
KNOWN_SECRETS = frozenset(
    {"changeme", "password", "secret", "admin", "asterisk", "amp111", "letmein", "qwerty"}
)


def weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak to guard a SIP phone, AMI or the API (None: it is not).
    The sandbox generates 24 random characters; production must do as well."""
    if len(secret) < 12:
        return f"{len(secret)} characters, at least 12 are needed"
    if any(word in secret.lower() for word in KNOWN_SECRETS):
        return "it contains a well-known default"
    if len(set(secret)) < 6:
        return "it repeats too few different characters"
    return None


class Clock:
    """The service's idea of now: the real time, or a shifted one for demos and tests."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("HOTLINE_CLOCK_START needs a time zone, e.g. 2026-11-28T20:00+02:00")
        self._offset = (start - datetime.now(UTC)) if start is not None else None

    def __call__(self) -> datetime:
        now = datetime.now(UTC)
        return now + self._offset if self._offset is not None else now
