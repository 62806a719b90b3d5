"""The outbox against real databases (SQLite and the machine's PostgreSQL): messages written
in the events' own transaction, once; in order per key and recipient; retried with backoff
and given up, loudly, after their time; never claimed by two instances at once. The doors here
are plain functions (the real ones: test_kannel, test_smtp, the integration tests)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hotline.events import CallEvent
from hotline.figures import metrics
from hotline.outbound.deliverer import Deliverer, RetryPolicy
from hotline.outbound.door import DeliveryFailed
from hotline.outbound.outbox import OutboxMessage
from hotline.store.db import Store
from hotline.store.outbox import OutboxStore
from routing.events import MenuAnswer
from tests.conftest import postgres_database

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def event(n: int, call: str = "c1") -> CallEvent:
    return CallEvent(call, n, T0, MenuAnswer("main", str(n % 10)), f"e{n}", "ua-legal-aid")


def texts(e: CallEvent) -> Iterator[OutboxMessage]:
    """One SMS per event, to one number, in order per call."""
    yield OutboxMessage(
        f"{e.id}:sms:0501234567", "ua-legal-aid", "sms", "0501234567", e.call_id, {"text": e.id}
    )


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    found = Store(database_url, [texts])
    yield found
    await found.close()


def outbox(store: Store) -> OutboxStore:
    return OutboxStore(store.engine, store.dialect)


async def test_messages_are_written_with_their_events_once(store: Store) -> None:
    await store.upgrade()
    woken: list[int] = []
    store.on_outboxed = lambda: woken.append(1)
    assert await store.write([event(1), event(2)]) == 2
    assert await store.write([event(1), event(2), event(3)]) == 1  # a replay: written once
    rows = await outbox(store).messages()
    assert [(r.id, r.event_id, r.state, r.payload) for r in rows] == [
        (f"e{n}:sms:0501234567", f"e{n}", "pending", {"text": f"e{n}"}) for n in (1, 2, 3)
    ]
    assert woken == [1, 1]


async def test_a_failing_composer_loses_its_messages_not_the_events(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await store.upgrade()

    def broken(e: CallEvent) -> list[OutboxMessage]:
        raise KeyError("a bug")

    store.composers.insert(0, broken)
    assert await store.write([event(1)]) == 1
    assert [r.id for r in await outbox(store).messages()] == ["e1:sms:0501234567"]
    assert "composer 'broken' failed on menu.answer event e1" in caplog.text


async def test_a_keys_messages_leave_one_at_a_time_in_order(store: Store) -> None:
    await store.upgrade()
    await store.write([event(1, "a"), event(2, "a"), event(3, "b")])
    box, now, lease = outbox(store), datetime.now(UTC), timedelta(seconds=60)
    first = await box.claim("me", now, lease)
    assert [c.message.id for c in first] == ["e1:sms:0501234567", "e3:sms:0501234567"]
    assert await box.claim("other", now, lease) == []  # claimed, and a's next waits for e1
    await box.failed(first[0].n, "HTTP 503", now + timedelta(seconds=5), now, give_up=False)
    assert await box.claim("me", now, lease) == []  # e1 not due yet, and e2 still behind it
    later = await box.claim("me", now + timedelta(seconds=6), lease)
    assert [(c.message.id, c.attempts) for c in later] == [("e1:sms:0501234567", 1)]
    await box.delivered(later[0].n, now)
    (second,) = await box.claim("me", now, lease)
    assert second.message.id == "e2:sms:0501234567"
    # claims that ran out (their instance died) let another instance have them
    again = await box.claim("other", now + timedelta(seconds=61), lease)
    assert [c.message.id for c in again] == ["e2:sms:0501234567", "e3:sms:0501234567"]


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 5, 10), (2, 10, 20), (3, 20, 40), (9, 1280, 2560), (10, 1800, 3600), (30, 1800, 3600)],
)
def test_the_backoff_doubles_with_jitter_up_to_an_hour(
    failures: int, low: float, high: float
) -> None:
    policy = RetryPolicy(first=10, longest=3600)
    assert policy.delay(failures, 0.0) == low and policy.delay(failures, 0.999999) < high
    assert policy.delay(failures, 0.0, asked=7200) == 3600  # a receiver's Retry-After, capped


def test_a_day_of_retries_by_default() -> None:
    policy, elapsed, tries = RetryPolicy(), 0.0, 1
    while elapsed < policy.give_up_after:
        elapsed += policy.delay(tries, 1.0)
        tries += 1
    assert policy.give_up_after == 86_400 and 25 <= tries <= 40


class Flaky:
    """A door that fails ``times`` times, then takes everything (and remembers it)."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.got: list[str] = []

    async def send(self, message: OutboxMessage) -> None:
        if self.times > 0:
            self.times -= 1
            raise DeliveryFailed("HTTP 503")
        self.got.append(message.id)


async def run(deliverer: Deliverer, until: object, seconds: float = 10) -> None:
    ready = asyncio.Event()
    ready.set()
    task = asyncio.create_task(deliverer.run(ready))
    try:
        async with asyncio.timeout(seconds):
            while not until():  # type: ignore[operator]
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failed_message_is_retried_and_its_key_keeps_its_order(store: Store) -> None:
    await store.upgrade()
    door = Flaky(times=2)
    deliverer = Deliverer(outbox(store), {"sms": door}, lambda: True, "me", RetryPolicy(0.1, 1))
    store.on_outboxed = deliverer.wake
    await store.write([event(1), event(2), event(3)])
    delivered = metrics.OUTBOX_DELIVERED.labels("ua-legal-aid", "sms")
    before = delivered._value.get()
    # (until the third is recorded delivered, not merely sent: the door returns first)
    await run(deliverer, lambda: delivered._value.get() - before == 3)
    assert door.got == [f"e{n}:sms:0501234567" for n in (1, 2, 3)]
    rows = await outbox(store).messages()
    assert [(r.state, r.attempts) for r in rows] == [("delivered", 3)] + [("delivered", 1)] * 2
    await deliverer.count()
    assert deliverer.health()["pending"] == {"sms": 0}
    assert deliverer.health()["last_error"] == "sms to ********67 (ua-legal-aid): HTTP 503"


async def test_a_message_is_given_up_after_its_time_loudly(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await store.upgrade()
    door = Flaky(times=1000)
    # tried every 0.1 s at most, given up 2 s after it was written: several tries, even on a
    # machine so loaded that the first comes a second late (seen beside the integration tests)
    policy = RetryPolicy(first=0.05, longest=0.1, give_up_after=2.0)
    deliverer = Deliverer(outbox(store), {"sms": door}, lambda: True, "me", policy)
    await store.write([event(1, "a"), event(2, "b")])
    given_up = metrics.OUTBOX_GIVEN_UP.labels("ua-legal-aid", "sms")
    before = given_up._value.get()
    with caplog.at_level(logging.ERROR):
        await run(deliverer, lambda: deliverer.tally.given_up == 2)
    rows = await outbox(store).messages()
    assert {r.state for r in rows} == {"given_up"} and all(r.attempts >= 3 for r in rows)
    assert given_up._value.get() - before == 2
    assert "outbox: GIVEN UP after" in caplog.text and "sms to ********67" in caplog.text


async def test_a_standby_sends_nothing_and_a_channel_without_a_door_waits(store: Store) -> None:
    await store.upgrade()
    door = Flaky(times=0)
    active = False
    deliverer = Deliverer(outbox(store), {"sms": door}, lambda: active, "me", RetryPolicy(0.1))
    await store.write([event(1)])
    with pytest.raises(TimeoutError):
        await run(deliverer, lambda: door.got, seconds=1.5)
    active = True
    await run(deliverer, lambda: door.got)
    email = OutboxMessage("m:email", "ua-legal-aid", "email", "a@b.example", "k", {"text": "t"})
    none = Deliverer(outbox(store), {}, lambda: True, "me", RetryPolicy(60))
    store.composers = [lambda e: [email]]
    await store.write([event(9)])
    await run(none, lambda: none.tally.failed)
    assert none.tally.last_error == (
        "email to a***@b.example (ua-legal-aid): no email door (HOTLINE_SMTP_HOST)"
    )


async def test_an_instance_taking_over_frees_the_claims_of_the_one_before(
    store: Store,
) -> None:
    """The instance before died holding a claim for a minute: the one now active sends the
    message once a send begun by the other must be over (its timeout), not a minute later."""
    await store.upgrade()
    await store.write([event(1)])
    assert await outbox(store).claim("dead", datetime.now(UTC), timedelta(seconds=60))
    door = Flaky(times=0)
    deliverer = Deliverer(outbox(store), {"sms": door}, lambda: True, "me", timeout=0.5)
    await run(deliverer, lambda: door.got, seconds=5)
    await deliverer.stop()  # (its delivery recorded)
    assert door.got == ["e1:sms:0501234567"]


async def test_two_instances_never_claim_one_message() -> None:
    """PostgreSQL: two instances claiming at the same moment (FOR UPDATE SKIP LOCKED) share
    the due messages between them, none twice, neither waiting for the other."""
    with postgres_database() as url:
        one, two = Store(url, [texts]), Store(url)
        try:
            await one.upgrade()
            await one.write([event(n, f"call-{n}") for n in range(60)])
            now, lease = datetime.now(UTC), timedelta(seconds=60)
            claims = await asyncio.gather(
                *(
                    outbox(s).claim(name, now, lease, 10)
                    for _ in range(3)
                    for name, s in (("one", one), ("two", two))
                )
            )
            taken = [c.message.id for claim in claims for c in claim]
            assert len(taken) == len(set(taken)) == 60
        finally:
            await one.close()
            await two.close()
