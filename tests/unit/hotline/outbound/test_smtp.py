"""The e-mail door through a real SMTP server (aiosmtpd): a message in Ukrainian arrives whole,
over STARTTLS with a login; a server that is down is tried again until it is back."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from hotline.outbound.deliverer import Deliverer, RetryPolicy
from hotline.outbound.outbox import OutboxMessage
from hotline.outbound.smtp import Smtp
from hotline.store.db import Store
from hotline.store.outbox import OutboxStore
from tests.kannel import free_port
from tests.mailbox import Mailbox
from tests.unit.hotline.outbound.test_outbox import event, run

SUBJECT = "Повідомлення про затримання 482193"
TEXT = "Надійшло повідомлення про затримання.\nПосилання: https://desk.example/reports/482193\n"  # noqa: RUF001


def login(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"hotline",
        b"mail-Pass-7341",
    )
    return AuthResult(success=ok)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the door is told to trust it)."""
    cert, key = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def server(certificate: tuple[Path, Path]) -> Iterator[tuple[Controller, Mailbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=login,
        auth_required=True,
    )
    yield controller, mailbox
    if controller._thread is not None:
        controller.stop()


def message(n: int = 1) -> OutboxMessage:
    return OutboxMessage(
        f"e{n}:email:o.kovalenko@example.org",
        "ua-legal-aid",
        "email",
        "o.kovalenko@example.org",
        "report:482193",
        {"subject": SUBJECT, "text": TEXT},
    )


async def test_an_email_over_starttls_with_a_login_is_received_whole(
    server: tuple[Controller, Mailbox], certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    controller, mailbox = server
    door = Smtp(
        "127.0.0.1",
        controller.port,
        "hotline@legalaid.example",
        "hotline",
        "mail-Pass-7341",
        "starttls",
        ca_file=str(certificate[0]),
    )
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}", [lambda e: [message()]])
    await store.upgrade()
    deliverer = Deliverer(
        OutboxStore(store.engine, store.dialect), {"email": door}, lambda: True, "me",
        RetryPolicy(0.2, 0.5),
    )  # fmt: skip
    try:
        await store.write([event(1)])
        await run(deliverer, lambda: deliverer.tally.failed >= 2)  # the server is not up yet
        assert "SMTP: SMTPConnectError" in str(deliverer.tally.last_error)
        await asyncio.to_thread(controller.start)
        await run(deliverer, lambda: deliverer.tally.delivered == 1)
        ((sender, to, got),) = mailbox.got
        assert (sender, to) == ("hotline@legalaid.example", ["o.kovalenko@example.org"])
        assert (got["Subject"], got.get_content().replace("\r\n", "\n")) == (SUBJECT, TEXT)
        assert got["Message-ID"] == door.email(message())["Message-ID"]  # the same at each try
    finally:
        await store.close()
