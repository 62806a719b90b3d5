"""Operators' feature codes, dialled on their softphones and answered by the service:
*11 log in, *12 log out, *13 pause (for their organisation's first pause reason), *14 resume."""

from __future__ import annotations

import logging
from collections.abc import Callable

from agents.state import Event, LogIn, LogOut, OperatorError, Pause, Resume
from hotline.asterisk.agi import AgiCallIO, AgiChannel
from hotline.asterisk.dialplan import Result
from hotline.calls.switchboard import NotActive, Switchboard
from ivr import Prompt

log = logging.getLogger(__name__)

#: Each code's event, of the operator's organisation's first pause reason, and what they hear.
CODES: dict[str, tuple[Callable[[str], Event], str]] = {
    "*11": (lambda _: LogIn(), "logged-in"),
    "*12": (lambda _: LogOut(), "logged-out"),
    "*13": (Pause, "paused"),
    "*14": (lambda _: Resume(), "resumed"),
}


class FeatureRoutes:
    """The AGI route ``feature``: arguments are the code dialled and the caller's endpoint."""

    def __init__(self, switchboard: Switchboard) -> None:
        self.switchboard = switchboard

    async def feature(self, channel: AgiChannel) -> None:
        code = channel.arg(1)
        operator = channel.arg(2)
        known = self.switchboard.deployment.operators.get(operator)
        language = known.languages[0] if known else self.switchboard.deployment.languages[0]
        answer = "not-an-operator"
        if known is not None and code in CODES:
            event_of, answer = CODES[code]
            reason = self.switchboard.deployment.policy_of(operator=operator).pause_reasons[0]
            try:
                self.switchboard.operator_event(operator, event_of(reason))
                await self.switchboard.kept()
                log.info("operator %s: %s", operator, answer)
            except OperatorError as exc:
                log.info("operator %s: %s refused: %s", operator, code, exc)
                answer = "not-an-operator"
            except NotActive as exc:  # (its lease in doubt for a moment: dial it again)
                log.warning("operator %s: %s not taken: %s", operator, code, exc)
                answer = "technical-error"
        await AgiCallIO(channel).say([Prompt(language, answer)])
        await channel.result(Result.DONE)
