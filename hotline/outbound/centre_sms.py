"""The centre's SMS (the Ukrainian line's fifth service): a caller in a legal aid centre's menu
asks for its address, hours and number by SMS, in their language.

Who may be texted is decided as the caller asks (:class:`Texting`: the number must be one
callbacks may call, and a number gets few of them an hour), so that they hear whether it will
come; the text itself is composed from the event (:func:`centre_sms`), and the outbox sends it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta

from hotline.config.deployment import Deployment
from hotline.events import CallEvent
from hotline.outbound.outbox import Composer, OutboxMessage
from routing.events import CentreTexted
from routing.outbound import CallbackPolicy

#: SMS of centres' addresses one number may be sent an hour: enough for a caller who asks
#: for two centres or lost the first text, too few to make the hotline a way to pester
#: someone whose number a caller put in their own caller id.
PER_NUMBER_PER_HOUR = 3
HOUR = timedelta(hours=1)


class Texting:
    """Whether a centre's address may be texted to a number now (pure, time passed in)."""

    def __init__(self, policy: CallbackPolicy, possible: bool, per_hour: int = PER_NUMBER_PER_HOUR):
        self.policy = policy
        #: An SMS gateway is configured (HOTLINE_SMS_URL): else nothing is promised.
        self.possible = possible
        self.per_hour = per_hour
        self._sent: dict[str, deque[datetime]] = {}

    def refuses(self, number: str, now: datetime) -> str | None:
        """Why ``number`` may not be texted now (None: it may, and it is counted)."""
        if not self.possible:
            return "no SMS gateway is configured (HOTLINE_SMS_URL)"
        if (why := self.policy.refuses(number)) is not None:
            return why
        sent = self._sent.setdefault(number, deque())
        while sent and now - sent[0] >= HOUR:
            sent.popleft()
        if len(sent) >= self.per_hour:
            return f"{self.per_hour} texts to this number in the last hour"
        sent.append(now)
        return None


def text(deployment: Deployment, centre_id: str, language: str) -> str:
    """The SMS: what the menus say of the centre in the caller's language (its name and
    hours), its address and its number."""
    centre = deployment.centres[centre_id]
    said = (
        deployment.prompt_texts.get((language, centre.prompt)) or f"{centre.name}. {centre.hours}."
    )
    return f"{said}\n{centre.address}\n{centre.shown or centre.number}"


def centre_sms(deployment: Deployment) -> Composer:
    """The composer of the centres' SMS."""

    def compose(event: CallEvent) -> Iterator[OutboxMessage]:
        fact = event.fact
        if not isinstance(fact, CentreTexted) or fact.centre not in deployment.centres:
            return
        org = deployment.organisation_of(centre=fact.centre)
        yield OutboxMessage(
            f"{event.id}:sms:{fact.number}",
            org.id if org else (event.organisation or ""),
            "sms",
            fact.number,
            f"centre-sms:{fact.number}",
            {"text": text(deployment, fact.centre, fact.language)},
        )

    return compose
