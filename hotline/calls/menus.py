"""The life of a call in the service: one coroutine per FastAGI session.

It runs the menus (ivr), asks routing where the caller goes now, publishes every step on the
event stream, and tells the dialplan what to do next through channel variables. The dialplan
trusts the call as handled only when HOTLINE_RESULT is set (see dialplans/extensions.conf).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hotline.asterisk.agi import AgiCallIO, AgiChannel, CallerHungUp
from hotline.asterisk.dialplan import Result, Var
from hotline.asterisk.dialplan import ring as ring_extension
from hotline.calls.announcements import Announcement
from hotline.calls.switchboard import CallbackRefused, Switchboard
from hotline.config.deployment import Deployment
from hotline.events import CallEvent, EventBus
from hotline.outbound.centre_sms import Texting
from hotline.privacy import mask
from ivr import Connect, Finish, Prompt, Text, run_menus
from routing import decide
from routing.events import (
    CallAfterHours,
    CallAnnounced,
    CallEnded,
    CallRouted,
    CallStarted,
    CentreTexted,
    Fact,
    MenuAnswer,
)

log = logging.getLogger(__name__)

#: Seconds a line's recorded announcement may play (it is two minutes at most).
ANNOUNCEMENT_TIMEOUT = 130


class CallService:
    """Serves each call Asterisk hands over FastAGI."""

    def __init__(
        self,
        deployment: Deployment,
        bus: EventBus,
        clock: Callable[[], datetime],
        switchboard: Switchboard,
        texting: Texting | None = None,
        desk: Callable[[str], bool] = lambda _: False,
        announcement: Callable[[str], Announcement | None] = lambda _: None,
    ) -> None:
        self.deployment = deployment
        #: What Asterisk plays to a line's callers before they wait (None: nothing).
        self.announcement = announcement
        self.bus = bus
        self.clock = clock
        self.switchboard = switchboard
        #: Who may be texted a centre's address (None: nobody: no SMS gateway).
        self.texting = texting
        #: Whether an operator's desk phone is rung too (its session holds credentials).
        self.desk = desk

    async def handle(self, channel: AgiChannel) -> None:
        """The FastAGI route ``call``: from the first menu to the line (or the goodbye)."""
        call = _Call(channel.call, self.bus, self.clock)
        number = channel.extension
        entry = self.deployment.flow.entries.get(number)
        call.emit(
            CallStarted(
                # (one caller, whatever form the carrier sent their number in)
                self.deployment.caller(channel.caller, number),
                number,
                caller_name=channel.caller_name,
                channel=channel.name,
                sip_call_id=channel.arg(1),
                linkedid=channel.arg(2),
                language=entry.language if entry else None,
            )
        )
        io = AgiCallIO(channel)
        try:
            if entry is None:
                log.warning("call %s to unknown number %r: apology and hangup", call.id, number)
                await self._goodbye(channel, io, "unknown-number", self.deployment.languages)
                call.emit(CallEnded("unknown-number"))
                return
            await self._serve(call, channel, io, entry)
        except CallerHungUp:
            if not self.switchboard.was_guarded(call.id):  # else already handed over
                call.emit(CallEnded("hung-up"))
        except Exception as exc:
            # A fault of ours must not cost the caller their call: leave HOTLINE_RESULT unset
            # so the dialplan's fallback queue takes them to a person.
            log.exception("call %s: failed; handing it to the fallback queue", call.id)
            call.emit(CallEnded("failed", error=type(exc).__name__))
            try:
                await io.say(
                    [Prompt(call.language or self.deployment.languages[0], "technical-error")]
                )
            except Exception:
                pass

    async def _serve(self, call: _Call, channel: AgiChannel, io: AgiCallIO, entry: Any) -> None:
        call.language = entry.language

        def on_answer(menu: str, key: str | None, language: str) -> None:
            call.language = language
            call.emit(MenuAnswer(menu, key or "timeout", language))

        async def on_text(step: Text) -> list[Prompt]:
            return [Prompt(step.language, self._text(call, step))]

        step = await run_menus(self.deployment.flow, entry, io, on_answer, on_text)
        if isinstance(step, Finish):
            await io.say(step.prompts)
            await channel.result(Result.DONE)
            call.emit(CallEnded("finished", path=tuple(step.path)))
            await channel.hangup()
            return
        if isinstance(step, Connect):
            centre = self.deployment.centres[step.centre]
            await channel.set_variable(Var.LANGUAGE, step.language)
            await io.say(step.prompts)
            # the dialplan says it connects, dials through the carrier, and reports the end
            await channel.set_variable(Var.CENTRE, self.deployment.dial(centre.number))
            await channel.result(Result.CENTRE)
            self.switchboard.to_centre(call.id, channel.name, centre.target())
            return
        call.asked_line = step.line
        decision = decide(self.deployment.lines, self.deployment.offices, step.line, self.clock())
        said = list(step.prompts)
        if decision.closed:
            said += [Prompt(step.language, name) for name in decision.prompts]
            call.emit(CallAfterHours(step.line, tuple(decision.closed), decision.line))
        if decision.line is None:
            await io.say(said)
            called_back = decision.callback and await self._offer_callback(
                call, io, step.line, step.language
            )
            await channel.result(Result.DONE)
            if not called_back:  # a callback is the call's next chapter, not its end
                call.emit(CallEnded("after-hours", asked=step.line))
            await channel.hangup()
            return
        line = self.deployment.lines[decision.line]
        notice = [Prompt(step.language, line.recording_prompt)] if line.recording_prompt else []
        # kept on the channel so that a restarted service can rebuild its queues from
        # Asterisk, and the fallback knows the line; set before the prompt, in one round trip,
        # so that only one stands between its end and the queue. How often the caller hears
        # their place is their line's organisation's rule ([hotline-wait] reads it).
        announce_every = self.deployment.policy_of(line=line.name).announce_every
        await channel.set_variables(
            {
                Var.LINE: line.name,
                Var.LANGUAGE: step.language,
                Var.ANNOUNCE_EVERY: str(announce_every),
            }
        )
        if self.switchboard.shelter_notice(call.id, line.name):  # why the wait may be longer
            notice.append(Prompt(step.language, "shelter"))
        await io.say(said)
        if (recorded := self.announcement(line.name)) is not None:  # a supervisor's words
            await channel.stream_file(recorded.path, "", ANNOUNCEMENT_TIMEOUT)
            call.emit(CallAnnounced(line.name, recorded.by, recorded.at.isoformat()))
        await io.say([Prompt(step.language, "please-hold"), *notice])
        entered = self.clock()
        call.emit(
            CallRouted(
                step.line, line.name, step.language, tuple(decision.closed), tuple(step.path)
            )
        )
        stamp = f"{entered.timestamp():.3f}"

        def routed(how: str = "") -> None:  # (logged once the caller is on their way)
            path = " ".join(step.path) or "-"
            log.info(
                "call %s from %s: %s -> line %s%s", call.id, mask(call.caller), path, line.name, how
            )

        if not self.switchboard.may_act():
            # an instance that stood down meanwhile (a stop beside a standby): the caller
            # goes on to the active one's waiting route
            await channel.set_variables({Var.ENTERED: stamp, Var.RESULT: Result.REQUEUE})
            routed(", queued by the active instance")
            return
        board = self.switchboard
        ring = board.enqueue(
            call.id, channel.name, line.name, step.language, entered, call.caller, in_session=True
        )
        if ring is None:  # HOTLINE_RESULT last: the dialplan trusts it
            await channel.set_variables({Var.ENTERED: stamp, Var.RESULT: Result.WAIT})
            routed()
            await channel.stay_while(lambda: call.id in board.talks)  # rung by AMI meanwhile
            return
        # an operator is free: the session ends on their ring, the one round trip between
        # "please hold" and their phone
        try:
            await channel.set_variables(
                {
                    Var.ENTERED: stamp,
                    Var.CONNECT: ring_extension(
                        ring.operator, ring.ring_timeout, self.desk(ring.operator)
                    ),
                    Var.RESULT: Result.RING,
                }
            )
        except CallerHungUp:
            raise  # (their hangup event ends the ring)
        except BaseException:
            board.not_rung(ring)  # (and the dialplan's fallback queue takes them)
            raise
        routed(f", ringing {ring.operator}")

    def _text(self, call: _Call, step: Text) -> str:
        """The caller asked for a centre's address by SMS: to the number they call from, if
        it may be texted (one callbacks may call, not texted too often); the prompt that says
        whether it is sent. The outbox sends it (written with the event, so never lost)."""
        number = call.caller
        refused = (
            self.texting.refuses(number, self.clock())
            if self.texting is not None
            else "no SMS gateway is configured"
        )
        if refused is not None:
            log.info(
                "call %s: no SMS of centre %s to %s: %s",
                call.id,
                step.centre,
                mask(number),
                refused,
            )
            return "sms-not-possible"
        call.emit(CentreTexted(step.centre, number, step.language))
        log.info("call %s: centre %s's address texted to %s", call.id, step.centre, mask(number))
        return "sms-sent"

    async def _offer_callback(self, call: _Call, io: AgiCallIO, line: str, language: str) -> bool:
        """Offer a callback when the line opens; True once a number is taken down (the
        switchboard then offers it to the line's operators as they come)."""
        if await io.ask([Prompt(language, "callback-offer")], 6) != "1":
            return False
        for _ in range(2):
            typed = (await io.collect(Prompt(language, "callback-number"), 8, 16)).rstrip("#")
            number = self.deployment.number(typed, line=line) if typed else call.caller
            try:  # stored before the caller hears the promise
                self.switchboard.add_callback(
                    call.id, line, language, number, "after-hours", call.caller
                )
            except CallbackRefused:
                await io.say([Prompt(language, "wrong-key")])
                continue
            except OSError as exc:
                log.error("callback of %s not stored: %s", call.id, exc)
                await io.say([Prompt(language, "technical-error")])
                return False
            await self.switchboard.callbacks_kept()
            try:
                await io.say([Prompt(language, "callback-registered")])
            except CallerHungUp:
                pass  # promised and stored all the same
            return True
        return False

    async def _goodbye(
        self, channel: AgiChannel, io: AgiCallIO, prompt: str, languages: tuple[str, ...]
    ) -> None:
        await io.say([Prompt(lang, prompt) for lang in languages])
        await channel.result(Result.DONE)
        await channel.hangup()

    async def reject(self, channel: AgiChannel | None, why: str) -> None:
        """A FastAGI session that is not a call we can serve: apologise if we can, hang up."""
        if channel is None:
            return
        call = _Call(channel.call or f"rejected-{time.time_ns()}", self.bus, self.clock)
        caller = self.deployment.caller(channel.caller, channel.extension)
        call.emit(CallStarted(caller, channel.extension))
        call.emit(CallEnded("rejected", reason=why))
        try:
            await self._goodbye(channel, AgiCallIO(channel), "sorry", self.deployment.languages[:1])
        except Exception as exc:  # the peer may not even be Asterisk
            log.info("rejected FastAGI session %s: %s", call.id, exc)


class _Call:
    """Numbers a call's events in order and remembers what the log line needs."""

    def __init__(self, call_id: str, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self.id = call_id
        self.bus = bus
        self.clock = clock
        self.caller = ""
        self.language: str | None = None
        self.asked_line: str | None = None

    def emit(self, fact: Fact) -> None:
        if isinstance(fact, CallStarted):
            self.caller = fact.caller
        self.bus.publish(CallEvent(self.id, 0, self.clock(), fact))
