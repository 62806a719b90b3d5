"""An office taken to shelter from a supervisor's phone: ``*72`` and the office's keypad code
(``offices.<id>.code``) takes it to shelter until it is ended; the same again ends it. What a
shelter does is the queue's (routing/shelter.py); the wallboard and the API do the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hotline.asterisk.agi import AgiCallIO, AgiChannel, CallerHungUp
from hotline.asterisk.dialplan import Result
from hotline.calls.switchboard import NotActive, Switchboard
from hotline.config.deployment import Deployment
from ivr import Prompt

log = logging.getLogger(__name__)


class ShelterRoute:
    """The FastAGI route ``shelter``: a supervisor's phone, ``*72<office code>``."""

    def __init__(self, deployment: Callable[[], Deployment], switchboard: Switchboard) -> None:
        #: The deployment now (a reload changes it).
        self.deployment = deployment
        self.switchboard = switchboard

    async def shelter(self, channel: AgiChannel) -> None:
        code, supervisor = channel.arg(1), channel.arg(2)
        deployment = self.deployment()
        org = deployment.organisation_of(supervisor=supervisor)
        office = org.codes.get(code) if org is not None else None
        language = org.languages[0] if org is not None else deployment.languages[0]
        io = AgiCallIO(channel)
        board = self.switchboard
        try:
            if org is None or office not in org.offices:
                log.warning("shelter: %s dialled *72%s: no office of theirs", supervisor, code)
                await io.say([Prompt(language, "wrong-key")])
                return
            try:
                if board.end_shelter(office, supervisor):
                    said = "shelter-ended"
                else:
                    board.shelter(office, supervisor)
                    said = "shelter-begun"
            except NotActive:
                await io.say([Prompt(language, "technical-error")])
                return
            await board.kept()
            log.info("shelter: %s by %s from their phone (%s)", office, supervisor, said)
            await io.say([Prompt(language, said)])
        except CallerHungUp:
            pass
        finally:
            await channel.result(Result.DONE)
