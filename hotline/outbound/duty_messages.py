"""What is written beside a report's escalation calls (``escalation.notified``): to the person
on duty rung, an SMS and an e-mail saying what was reported, its reference and a link to it
on the desk (never the recording, never the caller's name: a phone's lock screen or a shared
mailbox may show them); to the family, on the number they left, an SMS with their reference.
In the reader's language (the person's, or the caller's), English where a text is missing."""

from __future__ import annotations

from collections.abc import Iterator

from hotline.config.deployment import Deployment
from hotline.events import CallEvent
from hotline.outbound.outbox import Composer, OutboxMessage
from routing.events import EscalationNotified
from routing.outbound import CallbackPolicy

#: The texts, by language: {org} the organisation, {line} the line's title, {ref} the
#: reference, {link} the report on the desk.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "duty": "{org}: a detention was reported ({line}), report {ref}. You are on duty and "
        "rung now: press 1 on the call to accept it. The report: {link}",
        "subject": "Detention report {ref}: you are on duty",
        "family": "{org}: your report {ref} was received. A lawyer on duty will call you. "
        "Keep the number {ref}.",
    },
    "uk": {
        "duty": "{org}: повідомлення про затримання ({line}), звернення {ref}. Ви чергуєте, "
        "вам телефонують: натисніть 1, щоб прийняти. Звернення: {link}",
        "subject": "Повідомлення про затримання {ref}: ви на чергуванні",
        "family": "{org}: ваше повідомлення {ref} отримано. Черговий адвокат вам зателефонує. "
        "Збережіть номер {ref}.",
    },
    "ru": {
        "duty": "{org}: сообщение о задержании ({line}), обращение {ref}. Вы дежурите, вам "  # noqa: RUF001
        "звонят: нажмите 1, чтобы принять. Обращение: {link}",
        "subject": "Сообщение о задержании {ref}: вы на дежурстве",  # noqa: RUF001
        "family": "{org}: ваше сообщение {ref} получено. Дежурный адвокат вам позвонит. "
        "Сохраните номер {ref}.",
    },
    "ka": {
        "duty": "{org}: შეტყობინება დაკავების შესახებ ({line}), მიმართვა {ref}. თქვენ "
        "მორიგე ხართ, გირეკავენ: დააჭირეთ 1-ს მისაღებად. მიმართვა: {link}",
        "subject": "შეტყობინება დაკავების შესახებ {ref}: თქვენ მორიგე ხართ",
        "family": "{org}: თქვენი შეტყობინება {ref} მიღებულია. მორიგე ადვოკატი დაგირეკავთ. "
        "შეინახეთ ნომერი {ref}.",
    },
}


def said(language: str, what: str, **values: str) -> str:
    return TEXTS.get(language, TEXTS["en"]).get(what, TEXTS["en"][what]).format(**values)


def duty_messages(deployment: Deployment, public_url: str) -> Composer:
    """The composer of the escalation's texts; ``public_url``: where the desk is opened."""
    trunk = deployment.trunk.callbacks
    policy = CallbackPolicy.of(trunk.rules(), 1, 1) if trunk else None

    def compose(event: CallEvent) -> Iterator[OutboxMessage]:
        fact = event.fact
        org = deployment.organisations.get(event.organisation or "")
        if not isinstance(fact, EscalationNotified) or org is None:
            return
        line = deployment.lines.get(fact.line or "")
        values = {
            "org": org.name,
            "line": (line.titles.get(fact.language) or line.name) if line else "",
            "ref": fact.ref,
            "link": f"{public_url}/desk#report-{fact.ref}",
        }
        message_id = f"{event.id}:{fact.channel}:{fact.to}"
        key = f"report:{fact.ref}"
        if fact.person == "family":
            # a number the caller typed or called from: texted only if it may be called
            if fact.channel != "sms" or policy is None or policy.refuses(fact.to) is not None:
                return
            text = said(fact.language, "family", **values)
            yield OutboxMessage(message_id, org.id, "sms", fact.to, key, {"text": text})
        elif fact.channel == "sms":
            text = said(fact.language, "duty", **values)
            yield OutboxMessage(message_id, org.id, "sms", fact.to, key, {"text": text})
        elif fact.channel == "email":
            subject = said(fact.language, "subject", **values)
            text = said(fact.language, "duty", **values)
            payload = {"subject": subject, "text": text}
            yield OutboxMessage(message_id, org.id, "email", fact.to, key, payload)

    return compose
