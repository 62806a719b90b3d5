"""The doors a deployment opens, from its settings: an SMS gateway, a mail server, the webhook
signing keys of the organisations that send webhooks. A door not configured is not opened: its
messages wait in the outbox, said in /health, until it is (or they are given up)."""

from __future__ import annotations

from hotline.config.deployment import Deployment
from hotline.config.settings import Settings
from hotline.outbound.door import Door
from hotline.outbound.kannel import Kannel
from hotline.outbound.signing import secret_key
from hotline.outbound.smtp import Smtp
from hotline.outbound.webhook import Webhooks


class DoorError(ValueError):
    """A door's settings are wrong; the message names the variable (never its value)."""


def open_doors(settings: Settings, deployment: Deployment) -> dict[str, Door]:
    doors: dict[str, Door] = {}
    if settings.sms_url:
        doors["sms"] = Kannel(
            settings.sms_url,
            settings.sms_username,
            settings.sms_password.get_secret_value(),
            settings.sms_sender,
            dial=deployment.trunk.dial,
        )
    if settings.smtp_host:
        if "@" not in settings.smtp_from:
            raise DoorError("HOTLINE_SMTP_FROM: the From: address e-mails are sent with")
        doors["email"] = Smtp(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            settings.smtp_username,
            settings.smtp_password.get_secret_value(),
            settings.smtp_security,
            settings.outbox_timeout,
            str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        )
    keys: dict[str, bytes] = {}
    for org in deployment.organisations.values():
        if not org.webhooks:
            continue
        name = settings.webhook_secret_name(org.id)
        secret = settings.webhook_secret(org.id)
        if not secret:
            raise DoorError(
                f"{name} is not set: organisation {org.id} sends webhooks, signed with it "
                "(`hotline env` makes one: whsec_ and 32 random bytes in base64)"
            )
        try:
            keys[org.id] = secret_key(secret)
        except ValueError as exc:
            raise DoorError(f"{name}: {exc}") from None
    if keys:
        doors["webhook"] = Webhooks(keys)
    return doors
