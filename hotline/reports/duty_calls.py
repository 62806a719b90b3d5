"""The call to a person on duty, as they hear it (the FastAGI routes of the dialplan's
[hotline-escalation] and [hotline-escalation-dial]): that a detention was reported, its
reference, the family's recorded message itself and the number they left, then "press 1 to
accept, 2 to pass it on, 3 to hear it again"; and how a ring that was not answered ended."""

from __future__ import annotations

import logging

from hotline.asterisk.agi import AgiCallIO, AgiChannel, CallerHungUp
from hotline.asterisk.dialplan import Result, parse_escalation_call
from hotline.reports.escalations import Escalations
from hotline.reports.notifications import NotificationStore
from hotline.vault.spool import SpoolDoor
from ivr import Prompt
from routing.events import EscalationAccepted

log = logging.getLogger(__name__)

#: Times the report is said before a person who presses nothing is let go.
TELLINGS = 3
#: Seconds given to choose after the report was said.
CHOOSE_SECONDS = 8.0
#: What the dialplan's DIALSTATUS of a ring that was not answered comes to.
DIALSTATUS = {
    "NOANSWER": "NOANSWER",
    "CANCEL": "NOANSWER",
    "BUSY": "BUSY",
    "FENCED": "FENCED",
}


class DutyCallRoutes:
    """The AGI routes of the calls to people on duty."""

    def __init__(
        self, escalations: Escalations, notifications: NotificationStore, door: SpoolDoor
    ) -> None:
        self.escalations = escalations
        self.notifications = notifications
        #: Opens the family's sealed message for Asterisk to play, for this call only.
        self.door = door

    def _attempt(self, channel: AgiChannel) -> tuple[str, int]:
        """The report and the call (the dialplan's argument)."""
        return parse_escalation_call(channel.arg(1))

    async def dialed(self, channel: AgiChannel) -> None:
        """The ring was not answered: how it ended (NOANSWER, BUSY; FENCED: the instance that
        placed it is deposed; anything else, such as CHANUNAVAIL or CONGESTION: FAILED)."""
        ref, n = self._attempt(channel)
        status = channel.arg(2)
        self.escalations.outcome(ref, n, DIALSTATUS.get(status, "FAILED"))
        await channel.result(Result.DONE)

    async def escalation(self, channel: AgiChannel) -> None:
        """The person picked up: the report, then their choice."""
        ref, n = self._attempt(channel)
        escalation = self.escalations.items.get(ref)
        attempt = escalation.attempt(n) if escalation else None
        if escalation is None or attempt is None:
            log.warning("a call to a person on duty for %r, which is no call of ours", ref)
            await channel.result(Result.DONE)
            return
        io = AgiCallIO(channel)
        language = attempt.language
        if escalation.stopped is not None or attempt.outcome is not None:
            await self._finish(channel, io, language, "escalation-taken")
            return
        key: str | None = None
        report = self.notifications.items.get(ref)
        message = (
            await self.door.open_for_call(report.recording) if report and report.recording else None
        )
        try:
            for _ in range(TELLINGS):
                key = await self._tell(channel, io, language, ref, message)
                if key in ("1", "2"):
                    break
        except CallerHungUp:
            self.escalations.outcome(ref, n, "HUNGUP")
            return
        finally:
            await self.door.played(message)  # heard: its plaintext goes at once
        if key == "1":
            facts = self.escalations.outcome(ref, n, "accepted")
            accepted = any(isinstance(f, EscalationAccepted) for f in facts)
            await self._finish(
                channel, io, language, "escalation-accepted" if accepted else "escalation-taken"
            )
        elif key == "2":
            self.escalations.outcome(ref, n, "declined")
            await self._finish(channel, io, language, "escalation-passed")
        else:  # heard it, chose nothing: they may still accept another way, for a while
            self.escalations.outcome(ref, n, "HUNGUP")
            await channel.result(Result.DONE)

    async def _tell(
        self, channel: AgiChannel, io: AgiCallIO, language: str, ref: str, message: str | None
    ) -> str | None:
        """Say the report once (a key ends it early), with the family's ``message`` (opened
        for this call) if there is one; the key pressed, if any."""
        report = self.notifications.items.get(ref)
        said: list[str] = ["escalation-report", *(f"number-{d}" for d in ref)]
        for name in said:
            if key := await channel.stream_file(io.sound(language, name), "123", io.PROMPT_TIMEOUT):
                return key
        if message is not None:
            if key := await channel.stream_file(
                io.sound(language, "escalation-message"), "123", io.PROMPT_TIMEOUT
            ):
                return key
            if key := await channel.stream_file(message, "123", io.PROMPT_TIMEOUT):
                return key
        if report is not None and report.number:
            digits = [d for d in report.number if d.isdigit()]
            for name in ["escalation-number", *(f"number-{d}" for d in digits)]:
                if key := await channel.stream_file(
                    io.sound(language, name), "123", io.PROMPT_TIMEOUT
                ):
                    return key
        return await io.ask([Prompt(language, "escalation-choice")], CHOOSE_SECONDS)

    async def _finish(self, channel: AgiChannel, io: AgiCallIO, language: str, said: str) -> None:
        try:
            await io.say([Prompt(language, said)])
        except CallerHungUp:
            return
        await channel.result(Result.DONE)
