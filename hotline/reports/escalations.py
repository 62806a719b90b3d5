"""Runs each detention report's escalation (:mod:`routing.escalation`) on its line's chain:
the facts it decides are synced to ``escalations.jsonl`` *before* anything is done about them
(a person rung, a timer set), then published as events on the report's call; so a restart
rebuilds every escalation from the file and nobody is rung twice for the same step. With a
standby, the instance taking over rebuilds them from the shared database's events and from
Asterisk, which holds the number of the last call each report made (a deposed instance's late
call is refused by the dialplan's fencing, as every action is).

It starts on a report stored (``notification.stored``, whoever took it) and stops when a
person accepts it or the report is closed (``notification.handled``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agents.rota import DutyRole, Person
from hotline.events import CallEvent, EventBus
from hotline.store.journal import Journal
from routing import escalation as esc
from routing import events as ev

log = logging.getLogger(__name__)

#: Seconds after a call's ring time before its channel is looked for (it may have ended
#: unseen: the service was stopped meanwhile); then again every so often while it lasts.
WATCH_AFTER = 30.0


class Unsent(Exception):
    """The call could not be placed (Asterisk away): it was not made."""


class DutyCalls(Protocol):
    """What the escalation asks of Asterisk (hotline/asterisk/ami.py's AmiEffects)."""

    async def escalate(self, ringing: ev.EscalationRinging, seconds: float) -> str | None:
        """Ring the person through the trunk for the report (the call's id:
        ``escalation-<ref>-<attempt>``; Asterisk keeps the call first, so that another
        instance learns of it): None once answered (the call's dialogue reports the rest),
        else how it ended (FAILED: not made; FENCED: this instance is deposed). Raises
        :class:`Unsent` when it was not sent, any other error when it may have been."""
        ...

    async def last_call(self, ref: str) -> ev.EscalationRinging | None:
        """The last call Asterisk knows the report made."""
        ...

    async def forget_calls(self, ref: str) -> None:
        """The report's escalation is over: Asterisk need keep its last call no longer."""
        ...

    async def calls_up(self) -> set[tuple[str, int]]:
        """The escalation calls Asterisk has now: each one's report and attempt."""
        ...


class OnDuty(Protocol):
    def on_duty(
        self, organisation: str, rota: str | None, at: datetime, role: DutyRole
    ) -> list[Person]: ...


@dataclass
class Report:
    """What the escalation needs of a report besides its facts."""

    call: str
    organisation: str


class Escalations:
    """Every report's escalation, run. Subscribed to the event stream."""

    def __init__(
        self,
        chains: Mapping[str, esc.Chain],
        organisation_of: Callable[[str], str | None],
        duty: OnDuty,
        calls: DutyCalls,
        bus: EventBus,
        clock: Callable[[], datetime],
        data_dir: Path,
        capped: Callable[[str, str], datetime | None] = lambda _org, _number: None,
        dialling: Callable[[str, str], None] = lambda _org, _number: None,
    ) -> None:
        self.chains = chains
        self.organisation_of = organisation_of
        self.duty = duty
        self.calls = calls
        self.bus = bus
        self.clock = clock
        #: When ``organisation`` may call ``number`` (None: now): the callback caps; and
        #: a call it makes, counted in them.
        self.capped = capped
        self.dialling = dialling
        #: Whether this instance acts (the leadership's ``active``).
        self.may_act: Callable[[], bool] = lambda: True
        #: The open reports (each as stored, with its call): every one has an escalation.
        self.open_reports: Callable[[], Iterable[tuple[ev.NotificationStored, str]]] = tuple
        #: Each report's escalation, and where its events go.
        self.items: dict[str, esc.Escalation] = {}
        self.reports: dict[str, Report] = {}
        self.journal = Journal(data_dir / "escalations.jsonl")
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: The calls whose channel is being watched, (ref, attempt).
        self._watched: set[tuple[str, int]] = set()

    # -- the event stream ------------------------------------------------------------------
    def __call__(self, event: CallEvent) -> None:
        match event.fact:
            case ev.NotificationStored() as stored:
                self.begin(stored, event.call_id)
            case ev.NotificationHandled(ref=ref, by=by):
                self.feed(ref, esc.Closed(ref, by))

    def begin(self, stored: ev.NotificationStored, call: str) -> None:
        """A report was stored: its escalation starts, on its line's chain (if it has one)."""
        organisation = self.organisation_of(stored.line)
        if stored.line not in self.chains or organisation is None:
            return
        self.reports[stored.ref] = Report(call, organisation)
        begin = esc.Begin(stored.ref, stored.line, stored.language, stored.number or None)
        self.feed(stored.ref, begin)

    # -- one step ----------------------------------------------------------------------------
    def feed(self, ref: str, signal: esc.Signal) -> list[ev.Fact]:
        """Decide, keep, tell, act. Nothing is done unless its facts are on disk first."""
        if not self.may_act():
            return []
        current = self.items.get(ref)
        line = current.line if current else getattr(signal, "line", None)
        report = self.reports.get(ref)
        chain = self.chains.get(line or "")
        if chain is None or report is None:
            return []
        now = self.clock()
        org = report.organisation

        def on_duty() -> esc.OnDuty:
            return {role: self.duty.on_duty(org, chain.rota, now, role) for role in DutyRole}

        facts = esc.decide(
            current, signal, now, chain, on_duty, lambda number: self.capped(org, number)
        )
        if not facts:
            return []
        try:
            for fact in facts:
                self.journal.append(
                    {"call": report.call, "org": org, "at": now.isoformat(), "kind": fact.kind}
                    | {"data": ev.to_data(fact)}
                )
        except OSError as exc:  # nothing is done that is not kept: tried again in a while
            log.error("escalation of %s not kept (%s): tried again in %g s", ref, exc, chain.retry)
            self._later(ref, chain.retry)
            return []
        for fact in facts:
            current = esc.evolve(current, fact, now)
            self.bus.publish(CallEvent(report.call, 0, now, fact))
        assert current is not None
        self.items[ref] = current
        self._act(ref, facts, chain)
        return facts

    def _act(self, ref: str, facts: Sequence[ev.Fact], chain: esc.Chain) -> None:
        for fact in facts:
            match fact:
                case ev.EscalationRinging() as ringing:
                    self._cancel(ref)
                    self._spawn(self._ring(ringing, chain.ring_timeout))
                case ev.EscalationWaiting(until=until):
                    wait = (datetime.fromisoformat(until) - self.clock()).total_seconds()
                    self._later(ref, wait)
                case ev.EscalationStopped():
                    self._cancel(ref)
                    self._spawn(self._forget(ref))

    async def _ring(self, ringing: ev.EscalationRinging, seconds: float) -> None:
        ref, n = ringing.ref, ringing.attempt
        await self.journal.settled()  # (the facts that decided it on disk first: a thread)
        log.info("report %s: ringing %s (call %d)", ref, ringing.person, n)
        self._watch(ref, n, seconds + WATCH_AFTER)
        if (report := self.reports.get(ref)) is not None:
            try:
                self.dialling(report.organisation, ringing.number)
            except Exception as exc:  # (counted or not, the call is made: it was decided)
                log.warning("report %s: call %d not counted in the caps: %s", ref, n, exc)
        try:
            ended = await self.calls.escalate(ringing, seconds)
        except Unsent as exc:
            log.warning("report %s: call %d to %s not made: %s", ref, n, ringing.person, exc)
            ended = "FAILED"
        except Exception as exc:  # sent, perhaps: its channel tells (the watch)
            log.warning("report %s: call %d to %s: %s; watching", ref, n, ringing.person, exc)
            return
        if ended is not None:
            self.outcome(ref, n, ended)

    async def _forget(self, ref: str) -> None:
        try:
            await self.calls.forget_calls(ref)
        except Exception as exc:  # (a leftover costs nothing: the escalation is over)
            log.info("report %s: Asterisk keeps its last call still (%s)", ref, exc)

    def outcome(self, ref: str, attempt: int, outcome: str) -> list[ev.Fact]:
        """How a call to a person went (their key, or how it ended): what came of it."""
        return self.feed(ref, esc.Outcome(ref, attempt, outcome))

    # -- timers and watches --------------------------------------------------------------------
    def _later(self, ref: str, seconds: float) -> None:
        self._cancel(ref)
        loop = asyncio.get_running_loop()
        self._timers[ref] = loop.call_later(max(0.0, seconds), self._due, ref)

    def _due(self, ref: str) -> None:
        self._timers.pop(ref, None)
        self.feed(ref, esc.Due(ref))

    def _cancel(self, ref: str) -> None:
        handle = self._timers.pop(ref, None)
        if handle is not None:
            handle.cancel()

    def _watch(self, ref: str, attempt: int, after: float) -> None:
        """In ``after`` seconds, and then every so often while it lasts, see whether call
        ``attempt`` still lasts; gone without a word from it (the service stopped meanwhile,
        a report lost on the way): UNKNOWN. One watch per call."""
        if (ref, attempt) in self._watched:
            return
        self._watched.add((ref, attempt))

        async def look() -> None:
            delay = after
            try:
                while True:
                    await asyncio.sleep(delay)
                    delay = WATCH_AFTER
                    current = self.items.get(ref)
                    call = current.attempt(attempt) if current else None
                    if call is None or call.outcome is not None or not self.may_act():
                        return
                    try:
                        up = await self.calls.calls_up()
                    except Exception as exc:
                        log.info("report %s: cannot look for call %d (%s)", ref, attempt, exc)
                        continue
                    if (ref, attempt) not in up:
                        self.outcome(ref, attempt, "UNKNOWN")
                        return
            finally:
                self._watched.discard((ref, attempt))

        self._spawn(look())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def forget(self, refs: Iterable[str] = ()) -> None:
        """Keep in the file only the escalations still under way, but those of ``refs`` (an
        erasure, a retention round): a stopped one's records (the family's number among them)
        go now rather than at the next start. On the event loop, as every append is."""
        gone = set(refs)
        for ref in gone:
            self.items.pop(ref, None)
        under_way = {ref for ref, e in self.items.items() if e.stopped is None}
        kept = [
            r for r in self.journal.records() if str(r.get("data", {}).get("ref", "")) in under_way
        ]
        try:
            self.journal.rewrite(kept)
        except OSError as exc:
            log.warning("escalations.jsonl not compacted: %s", exc)

    # -- after a restart, or on taking over ------------------------------------------------
    def restore(self) -> int:
        """The escalations under way when the service last stopped, from the file (the file
        compacted to them). Call :meth:`resume` once Asterisk is reachable."""
        kept: dict[str, list[dict[str, Any]]] = {}
        for record in self.journal.records():
            ref = str(record.get("data", {}).get("ref", ""))
            kept.setdefault(ref, []).append(record)
        open_records: list[dict[str, Any]] = []
        for ref, records in kept.items():
            escalation = self._rebuilt(ref, records)
            if escalation is None or escalation.stopped is not None:
                continue
            self.items[ref] = escalation
            open_records += records
        try:
            self.journal.rewrite(open_records)
        except OSError as exc:
            log.warning("escalations.jsonl not compacted: %s", exc)
        return len(self.items)

    def adopt(self, records: Iterable[dict[str, Any]]) -> int:
        """On taking over (a standby): escalations as the shared database tells them (records
        as the journal keeps them), each one unknown here or further on there. Kept in the
        file as if made here."""
        by_ref: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_ref.setdefault(str(record["data"].get("ref", "")), []).append(record)
        adopted = 0
        for ref, found in by_ref.items():
            escalation = self._rebuilt(ref, found)
            known = self.items.get(ref)
            if escalation is None or (known is not None and known.attempts >= escalation.attempts):
                continue
            try:
                for record in found:
                    self.journal.append(record)
            except OSError as exc:
                log.error("escalation of %s not kept on taking over: %s", ref, exc)
            self.items[ref] = escalation
            adopted += 1
        return adopted

    def _rebuilt(self, ref: str, records: Sequence[dict[str, Any]]) -> esc.Escalation | None:
        facts: list[tuple[ev.Fact, datetime]] = []
        for record in records:
            try:
                fact = ev.from_data(record["kind"], record["data"])
                facts.append((fact, datetime.fromisoformat(record["at"])))
            except (KeyError, TypeError, ValueError) as exc:
                log.error("escalations.jsonl: unreadable record of %s skipped: %s", ref, exc)
                continue
            if "call" in record and "org" in record:
                self.reports[ref] = Report(str(record["call"]), str(record["org"]))
        return esc.replay(facts)

    async def resume(self) -> None:
        """Go on with every open escalation: a call Asterisk says was made after those known
        here counts as made (its outcome unknown until its channel says); a call under way is
        watched (its dialogue reports to this instance); a wait is timed again; the rest
        goes on now. Then an open report without one gets its escalation."""
        for ref, escalation in list(self.items.items()):
            if escalation.stopped is not None or ref not in self.reports:
                continue
            last = await self._last_call(ref)
            if last is not None and last.attempt > len(escalation.attempts):
                # made by an instance gone since, its facts not here: counted, and watched
                escalation = self._made_elsewhere(ref, escalation, last)
            if (ringing := escalation.ringing) is not None:
                self._watch(ref, ringing.n, 1.0)
            elif escalation.until is not None:
                self._later(ref, (escalation.until - self.clock()).total_seconds())
            else:
                self.feed(ref, esc.Due(ref))
        await self.ensure(self.open_reports())

    async def ensure(self, reports: Iterable[tuple[ev.NotificationStored, str]]) -> None:
        """Each open report has its escalation: one this instance never heard of (stored just
        before a crash, or by an instance gone since whose facts are not in the database yet)
        starts now, unless Asterisk keeps a call made for it already: then it goes on from
        that call."""
        for stored, call in reports:
            ref = stored.ref
            org = self.organisation_of(stored.line)
            chain = self.chains.get(stored.line)
            if ref in self.items or chain is None or org is None or not self.may_act():
                continue
            last = await self._last_call(ref)
            if last is None:
                log.info("report %s: its escalation starts (it had none here)", ref)
                self.begin(stored, call)
                continue
            self.reports[ref] = Report(call, org)
            started = ev.EscalationStarted(
                ref, stored.line, chain.rota, stored.language, stored.number or None
            )
            self._keep_only(ref, started)
            self.items[ref] = esc.evolve(None, started, self.clock())
            made = self._made_elsewhere(ref, self.items[ref], last)
            self._watch(ref, made.attempts[-1].n, 1.0)

    async def _last_call(self, ref: str) -> ev.EscalationRinging | None:
        try:
            return await self.calls.last_call(ref)
        except Exception as exc:
            log.warning("report %s: Asterisk's last call unknown (%s)", ref, exc)
            return None

    def _keep_only(self, ref: str, fact: ev.Fact) -> None:
        """Keep a fact learnt from elsewhere in the file (not told again: its own event is
        the other instance's to tell)."""
        now, report = self.clock(), self.reports[ref]
        record = {"call": report.call, "org": report.organisation, "at": now.isoformat()}
        try:
            self.journal.append(record | {"kind": fact.kind, "data": ev.to_data(fact)})
        except OSError as exc:
            log.error("escalation of %s not kept: %s", ref, exc)

    def _made_elsewhere(
        self, ref: str, escalation: esc.Escalation, made: ev.EscalationRinging
    ) -> esc.Escalation:
        """A call Asterisk says the report made, which this instance never heard of (another
        instance made it, its facts still on their way): kept, then watched like one of its
        own."""
        log.warning("report %s: call %d to %s was made elsewhere", ref, made.attempt, made.person)
        self._keep_only(ref, made)
        updated = esc.evolve(escalation, made, self.clock())
        self.items[ref] = updated
        return updated

    def stand_down(self) -> None:
        """Another instance acts now: timers off (its escalations are its own)."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.items.clear()

    # -- what the desk and the wallboard show ----------------------------------------------------
    def view(self, ref: str) -> dict[str, Any] | None:
        """A report's escalation as people read it (None: it has none)."""
        e = self.items.get(ref)
        if e is None:
            return None
        ringing = e.ringing
        return {
            "state": e.stopped or ("ringing" if ringing else e.waiting_for or "starting"),
            "round": e.round,
            "ringing": ringing.person if ringing else None,
            "until": e.until.isoformat() if e.until else None,
            "calls": [
                {
                    "attempt": a.n,
                    "step": a.step,
                    "round": a.round,
                    "person": a.person,
                    "role": a.role,
                    "at": a.at.isoformat(),
                    "outcome": a.outcome,
                }
                for a in e.attempts
            ],
            "accepted": (
                {"person": e.accepted[0], "by": e.accepted[1], "at": e.accepted[2].isoformat()}
                if e.accepted
                else None
            ),
        }
