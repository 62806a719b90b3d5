"""FastAGI routes for a caller after the menus: waiting, ringing an operator, hanging up.

The caller waits in the dialplan (music on hold, `hotline-wait`), which calls back here to
announce their position, when a dial of an operator returns, when an operator answers and
when the caller hangs up. The switchboard decides; these routes only translate.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from hotline.asterisk.agi import AgiCallIO, AgiChannel, CallerHungUp
from hotline.asterisk.dialplan import Result, Var
from hotline.calls.recordings import Recorder
from hotline.calls.switchboard import CallbackRefused, Switchboard
from hotline.reports.notifications import MessageRoute
from ivr import Prompt

log = logging.getLogger(__name__)

#: Numbers the service can say, as prompts number-1 .. number-30.
MAX_SPOKEN = 30


def number_prompt(language: str, value: int) -> Prompt:
    return Prompt(language, f"number-{max(1, min(MAX_SPOKEN, value))}")


class WaitingRoutes:
    """The AGI routes of a caller after the menus, and of callbacks."""

    def __init__(
        self,
        switchboard: Switchboard,
        messages: MessageRoute,
        recorder: Recorder | None = None,
    ) -> None:
        self.switchboard = switchboard
        self.messages = messages
        self.recorder = recorder
        #: A notification's message opened for its callback's operator to hear, by callback.
        self._playing: dict[str, str] = {}

    async def wait(self, channel: AgiChannel) -> None:
        """Every `announce_every` seconds of waiting: say the position and the estimate."""
        call = channel.call
        board = self.switchboard
        board.redirect_lost(call)  # here, so not at an operator's phone
        if not board.waits(call) and call not in board.talks:
            # the service restarted while the caller waited: their channel remembers the place
            line = await channel.get_variable(Var.LINE)
            if line not in board.deployment.lines:
                return  # no HOTLINE_RESULT: the dialplan's fallback queue takes the caller
            language = await channel.get_variable(Var.LANGUAGE) or "en"
            entered = await channel.get_variable(Var.ENTERED)
            since = datetime.fromtimestamp(float(entered), UTC) if entered else None
            board.enqueue(call, channel.name, line, language, since)
        if board.waits(call):
            language = await channel.get_variable(Var.LANGUAGE) or "en"
            place, estimate = board.where(call)
            said = [Prompt(language, "shelter")] if board.shelter_notice(call) else []
            said += [Prompt(language, "position"), number_prompt(language, place)]
            if not math.isinf(estimate):
                minutes = max(1, math.ceil(estimate / 60))
                said += [
                    Prompt(language, "estimated-wait"),
                    number_prompt(language, minutes),
                    Prompt(language, "minutes"),
                ]
            said.append(Prompt(language, "callback-while-waiting"))
            try:
                await AgiCallIO(channel).say(said)
            except CallerHungUp:
                return  # hung up, or taken to an operator in the middle of it
        await channel.result(Result.WAIT)

    async def key(self, channel: AgiChannel) -> None:
        """A key pressed while waiting: 1 asks for a callback (the caller keeps their place),
        2 leaves a recorded message and a number to call back, 3 a callback at a time the
        caller chooses (this evening, tomorrow morning: within the line's hours)."""
        call = channel.call
        board = self.switchboard
        key = channel.arg(1)
        if key == "2" and board.waits(call):
            await self.messages.message(channel)
            return
        if key not in ("1", "3") or not board.waits(call):
            await channel.result(Result.WAIT)
            return
        language = await channel.get_variable(Var.LANGUAGE) or "en"
        io = AgiCallIO(channel)
        board.hold(call, True)
        try:
            at = await self._when(io, call, language) if key == "3" else None
            if key == "3" and at is None:
                board.hold(call, False)  # no choice made: they wait on, in their place
                await channel.result(Result.WAIT)
                return
            typed = (await io.collect(Prompt(language, "callback-number"), 8, 16)).rstrip("#")
            line = board.line_of(call)
            number = (
                board.deployment.number(typed, line=line) if typed else board.callers.get(call, "")
            )
            try:
                board.to_callback(call, number, at=at)  # on disk before the caller hears it
            except (CallbackRefused, OSError) as exc:
                if isinstance(exc, OSError):
                    log.error("callback of %s not stored: %s", call, exc)
                board.hold(call, False)  # they keep waiting, in their place
                error = "wrong-key" if isinstance(exc, CallbackRefused) else "technical-error"
                await io.say([Prompt(language, error)])
                await channel.result(Result.WAIT)
                return
        except CallerHungUp:
            board.hold(call, False)
            return
        await board.callbacks_kept()
        try:
            said = "callback-planned" if at is not None else "callback-registered"
            await io.say([Prompt(language, said)])
        except CallerHungUp:
            return  # promised and stored all the same
        await channel.result(Result.DONE)

    async def _when(self, io: AgiCallIO, call: str, language: str) -> datetime | None:
        """When the caller wants to be called back: 1 this evening (from 18:00), 2 tomorrow
        morning (from 09:00), in the line's office's time, at the first moment the line is
        open from then on (None: no choice, or the line opens at neither)."""
        board = self.switchboard
        choice = await io.ask([Prompt(language, "callback-when")], 10)
        line = board.line_of(call)
        if choice not in ("1", "2") or line is None:
            return None
        return board.planned_time(line, evening=choice == "1")

    async def callback(self, channel: AgiChannel) -> None:
        """The operator picked up a callback: tell the dialplan whom to call."""
        callback = self.switchboard.callback_answered(channel.arg(1), channel.arg(2))
        if callback is None:
            await channel.hangup()
            return
        await channel.set_variable(Var.NUMBER, self.switchboard.deployment.dial(callback.number))
        if callback.recording:
            # the operator hears the sealed message first (the dialplan's Playback): opened
            # for this callback, deleted once the family is reached or the operator's leg ends
            played = await self.messages.door.open_for_call(callback.recording)
            if played is not None:
                self._playing[channel.arg(1)] = played
                await channel.set_variable(Var.RECORDING, played)

    async def callback_reached(self, channel: AgiChannel) -> None:
        """Runs on the caller's leg of a callback as they pick up."""
        callback = channel.arg(1)
        self.switchboard.callback_reached(callback)
        await self.messages.door.played(self._playing.pop(callback, None))

    async def callback_end(self, channel: AgiChannel) -> None:
        """The operator's leg of a callback hung up."""
        callback = channel.arg(1)
        self.switchboard.callback_ended(callback, channel.arg(2))
        await self.messages.door.played(self._playing.pop(callback, None))

    async def dialed(self, channel: AgiChannel) -> None:
        """A dial of an operator returned with the caller still there."""
        call = channel.call
        operator = channel.arg(1)
        status = channel.arg(2)
        board = self.switchboard
        if status != "ANSWER" and not (board.waits(call) or call in board.talks):
            # rung by an instance gone since (a restart, a takeover): they wait on, and their
            # next announcement queues them here (their channel keeps their line)
            await channel.result(Result.WAIT)
            return
        next_step = board.ring_ended(call, operator, status)
        await channel.result(Result(next_step))

    async def answered(self, channel: AgiChannel) -> None:
        """Runs on the operator's channel as they pick up, before the two are bridged."""
        call = channel.arg(1)
        operator = channel.arg(2)
        self.switchboard.answered(call, operator, channel.call)
        if self.recorder is not None:
            await self.recorder.start(channel, call, operator)

    async def transfer(self, channel: AgiChannel) -> None:
        """A blind transfer made on the operator's phone (a REFER, or ##) brought the caller
        here: the extension the operator named, one of their organisation's (the dialplan
        knows no other)."""
        call = channel.call
        board = self.switchboard
        offered = board.talks.get(call)
        target = board.deployment.target(channel.arg(1))
        if offered is None or target is None:
            log.warning("transfer of %s, which is not talking to an operator here", call)
            return  # no HOTLINE_RESULT: the dialplan's fallback queue takes the caller
        await channel.result(Result.WAIT)  # before it is moved on
        board.transfer(call, target, offered.operator, left=True)

    async def transferred(self, channel: AgiChannel) -> None:
        """The transferred caller hears that they are being connected, then is offered."""
        call = channel.call
        language = await channel.get_variable(Var.LANGUAGE) or "en"
        try:
            waiting = self.switchboard.waiting.get(call)
            if waiting is not None:  # their new line: for a restart, and the fallback queue
                await channel.set_variable(Var.LINE, waiting.line)
            await AgiCallIO(channel).say([Prompt(language, "connecting")])
            await channel.result(Result.WAIT)
        except CallerHungUp:
            pass  # hung up (their hangup handler says so), or already taken to an operator
        finally:
            self.switchboard.transfer_ready(call)
        await channel.stay_while(lambda: call in self.switchboard.talks)  # rung at once

    async def centre_answered(self, channel: AgiChannel) -> None:
        """Runs on the centre's channel as it picks up, before it is bridged to the caller."""
        self.switchboard.centre_answered(channel.arg(1))

    async def centre_dialed(self, channel: AgiChannel) -> None:
        """The dial of a centre returned with the caller still on the line."""
        call = channel.call
        next_step = self.switchboard.centre_ended(call, channel.arg(1))
        if next_step == "unanswered":
            language = await channel.get_variable(Var.LANGUAGE) or "en"
            await AgiCallIO(channel).say([Prompt(language, "centre-unavailable")])
            next_step = "done"
        await channel.result(Result(next_step))
