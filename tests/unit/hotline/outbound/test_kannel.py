"""The SMS door through a real Kannel (bearerbox, smsbox) to its fakesmsc, the operator's SMS
centre: Cyrillic and Georgian arrive whole (UCS-2, in parts); a gateway that is down is tried
again until it is back; a wrong password is a failure, never a promise."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.outbound.deliverer import Deliverer, RetryPolicy
from hotline.outbound.door import DeliveryFailed
from hotline.outbound.kannel import Kannel as KannelDoor
from hotline.outbound.outbox import OutboxMessage
from hotline.store.db import Store
from hotline.store.outbox import OutboxStore
from tests.kannel import PASSWORD, SENDER, USERNAME, Kannel, Sms
from tests.unit.hotline.outbound.test_outbox import event, run

UKRAINIAN = (
    "Київський місцевий центр з надання безоплатної правової допомоги. Працює з понеділка по "
    "п'ятницю, з дев'ятої до вісімнадцятої.\nвул. Хрещатик, 1\n0440000103"  # noqa: RUF001
)
GEORGIAN = "თბილისის იურიდიული დახმარების ბიურო.\n0322000201"


@pytest.fixture
def kannel(tmp_path: Path) -> Iterator[Kannel]:
    gateway = Kannel(tmp_path).start()
    yield gateway
    gateway.stop()


def sms(n: int, text: str, to: str = "380501234567") -> OutboxMessage:
    return OutboxMessage(f"m{n}", "ua-legal-aid", "sms", to, f"k{n}", {"text": text})


async def received(kannel: Kannel, count: int, seconds: float = 15) -> list[Sms]:
    async with asyncio.timeout(seconds):
        while len(found := kannel.messages()) < count:
            await asyncio.sleep(0.2)
    return found


async def test_unicode_texts_reach_the_sms_centre_whole(kannel: Kannel) -> None:
    door = KannelDoor(kannel.url, USERNAME, PASSWORD, SENDER)
    try:
        for n, text in enumerate((UKRAINIAN, GEORGIAN, "Your report 4821 was received.")):
            await door.send(sms(n, text))
        assert await received(kannel, 3) == [
            Sms(SENDER, "380501234567", UKRAINIAN),  # 3 parts of 67 characters
            Sms(SENDER, "380501234567", GEORGIAN),
            Sms(SENDER, "380501234567", "Your report 4821 was received."),
        ]
        wrong = KannelDoor(kannel.url, USERNAME, "not-the-password", SENDER)
        with pytest.raises(DeliveryFailed, match="answered 403 Authorization failed"):
            await wrong.send(sms(9, "x"))
        await wrong.close()
    finally:
        await door.close()


async def test_a_number_kept_in_e164_reaches_the_gateway_in_the_carriers_form(
    kannel: Kannel,
) -> None:
    """The outbox keeps numbers as the log does (+380501234567); Kannel is given them as
    trunk.dial says: international (380501234567, as before numbers were normalised) or
    E.164."""
    international = KannelDoor(kannel.url, USERNAME, PASSWORD, SENDER)
    e164 = KannelDoor(kannel.url, USERNAME, PASSWORD, SENDER, dial="e164")
    try:
        await international.send(sms(1, "a", to="+380501234567"))
        await e164.send(sms(2, "b", to="+380501234567"))
        found = await received(kannel, 2)
        assert [(m.to, m.text) for m in found] == [("380501234567", "a"), ("+380501234567", "b")]
    finally:
        await international.close()
        await e164.close()


async def test_a_gateway_down_is_tried_again_until_it_is_back(
    kannel: Kannel, tmp_path: Path
) -> None:
    kannel.stop_smsbox()
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}", [lambda e: [sms(1, GEORGIAN)]])
    await store.upgrade()
    door = KannelDoor(kannel.url, USERNAME, PASSWORD, SENDER)
    box = OutboxStore(store.engine, store.dialect)
    deliverer = Deliverer(box, {"sms": door}, lambda: True, "me", RetryPolicy(0.2, 0.5))
    try:
        await store.write([event(1)])
        await run(deliverer, lambda: deliverer.tally.failed >= 2)
        assert "Kannel's smsbox unreachable (ConnectError)" in str(deliverer.tally.last_error)
        kannel.start_smsbox()
        await run(deliverer, lambda: deliverer.tally.delivered == 1)
        assert await received(kannel, 1) == [Sms(SENDER, "380501234567", GEORGIAN)]
        ((row),) = await box.messages()
        assert (row.state, row.attempts >= 3) == ("delivered", True)
    finally:
        await door.close()
        await store.close()
