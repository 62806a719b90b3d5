"""Prometheus metrics at /metrics: the live state (read from the switchboard at each scrape),
counts and histograms of calls (fed by the event stream), and Asterisk round trips."""

from __future__ import annotations

import asyncio
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hotline import __version__
from hotline.events import CallEvent
from routing.events import (
    CallEnded,
    CallTransferred,
    EscalationAccepted,
    EscalationRinging,
    NotificationHandled,
    NotificationStored,
)

if TYPE_CHECKING:
    from hotline.calls.switchboard import Switchboard

# (a counter's or histogram's creation time as a series of its own, ``_created``: noise to
# every query and rule, and Prometheus 3 reads the start from the samples themselves)
disable_created_metrics()  # type: ignore[no-untyped-call]

#: The service's own registry (not the process-wide default one).
REGISTRY = CollectorRegistry()
#: The process's CPU, memory, open files and start time (``process_*``).
ProcessCollector(registry=REGISTRY)
Info("hotline_build", "The service's version and the Python it runs on", registry=REGISTRY).info(
    {"version": __version__, "python": platform.python_version()}
)

_ROUND_TRIP = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

AGI_SECONDS = Histogram(
    "hotline_agi_command_seconds",
    "From sending an AGI command to its reply (playback commands last as long as the sound)",
    ["command"],
    buckets=(*_ROUND_TRIP, 30, 60, 120),
    registry=REGISTRY,
)
AMI_SECONDS = Histogram(
    "hotline_ami_action_seconds",
    "From sending an AMI action to its response",
    ["action"],
    buckets=_ROUND_TRIP,
    registry=REGISTRY,
)
CALLS = Counter(
    "hotline_calls",
    "Calls ended, by organisation, line and outcome",
    ["organisation", "line", "outcome"],
    registry=REGISTRY,
)
WAIT = Histogram(
    "hotline_wait_seconds",
    "Time in the queue of calls that ended, by organisation, line and outcome (answered, ...)",
    ["organisation", "line", "outcome"],
    buckets=(1, 5, 10, 20, 30, 45, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
TALK = Histogram(
    "hotline_talk_seconds",
    "Talk time of answered calls (not their wrap-up), by organisation and line",
    ["organisation", "line"],
    buckets=(15, 30, 60, 120, 300, 420, 600, 900, 1800, 2700, 3600),
    registry=REGISTRY,
)
TRANSFERS = Counter(
    "hotline_transfers",
    "Transfers, by organisation, the line they were made from, target (line, operator, "
    "centre) and mode (blind, attended, menu)",
    ["organisation", "line", "target", "mode"],
    registry=REGISTRY,
)
ACCEPTANCE = Histogram(
    "hotline_report_acceptance_seconds",
    "From a detention report to a person on duty accepting it, by organisation and line",
    ["organisation", "line"],
    buckets=(60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400),
    registry=REGISTRY,
)
ACCEPTED = Counter(
    "hotline_reports_accepted",
    "Detention reports accepted by a person on duty, by organisation, line and whether within "
    "the line's notification_target",
    ["organisation", "line", "within_target"],
    registry=REGISTRY,
)
REPORT_CALLS = Histogram(
    "hotline_report_calls",
    "Calls to people on duty a detention report took until one accepted it",
    ["organisation", "line"],
    buckets=(1, 2, 3, 4, 5, 6, 8, 10, 15, 20),
    registry=REGISTRY,
)
EVENTS = Counter("hotline_events", "Domain events published, by kind", ["kind"], registry=REGISTRY)
#: Reports followed for their acceptance figures (the oldest forgotten past it).
FOLLOWED = 10_000

_FAST = (0.0001, 0.00025, *_ROUND_TRIP)
AMI_EVENTS = Counter(
    "hotline_ami_events", "AMI events received, by event name", ["event"], registry=REGISTRY
)
AMI_EVENT_SECONDS = Histogram(
    "hotline_ami_event_seconds", "Time to handle one AMI event", buckets=_FAST, registry=REGISTRY
)
AMI_EVENT_LAG = Histogram(
    "hotline_ami_event_lag_seconds",
    "From Asterisk's Timestamp on an AMI event (timestampevents=yes) to its handling",
    buckets=_FAST,
    registry=REGISTRY,
)
CALL_LOG_WRITE = Histogram(
    "hotline_call_log_write_seconds",
    "One batch of the call log written to the database",
    buckets=_FAST,
    registry=REGISTRY,
)
LOOP_LAG = Histogram(
    "hotline_event_loop_lag_seconds",
    "How late the event loop ran a timer (a blocked loop delays every call)",
    buckets=_FAST,
    registry=REGISTRY,
)


#: Series that say how the service itself is (up, linked, active, its version; and the
#: process's ``process_*``), no organisation's figure: every reader of /metrics sees them.
#: The rest is an organisation's (labelled with it) or the whole deployment's (counts and
#: timings over every organisation's calls).
STATE = frozenset({"hotline_active", "hotline_ami_up", "hotline_database_up", "hotline_build"})


class View(Collector):
    """The service's registry as one reader may see it: the service's state to anyone; an
    organisation's series to its own tokens; everything to a token of every organisation
    (``organisation`` None and ``everything``)."""

    def __init__(self, organisation: str | None, everything: bool = False) -> None:
        self.organisation = organisation
        self.everything = everything

    def shows(self, family: str, labels: Mapping[str, str]) -> bool:
        if family in STATE or family.startswith("process_") or self.everything:
            return True
        # (a series of no organisation, such as a call to an unknown number's, is not theirs)
        return self.organisation is not None and labels.get("organisation") == self.organisation

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            # (a family left without samples is still described: a rule may name it)
            shown = Metric(family.name, family.documentation, family.type, family.unit)
            shown.samples = [s for s in family.samples if self.shows(family.name, s.labels)]
            yield shown


async def watch_loop(interval: float = 0.1) -> None:
    """Forever: sleep ``interval`` and observe how much later than asked the loop woke us."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(interval)
        LOOP_LAG.observe(max(0.0, time.perf_counter() - asked - interval))


def observer(
    owners: Mapping[str, str], targets: Mapping[str, float] | None = None
) -> Callable[[CallEvent], None]:
    """Subscriber of the event stream; ``owners``: each line's organisation; ``targets``:
    each line's notification_target (seconds)."""
    reports: dict[str, tuple[datetime, str, int]] = {}  # ref -> stored, line, calls so far

    def report(event: CallEvent) -> None:
        match event.fact:
            case NotificationStored(ref=ref, line=line):
                reports[ref] = (event.at, line, 0)
                while len(reports) > FOLLOWED:
                    del reports[next(iter(reports))]
            case EscalationRinging(ref=ref) if ref in reports:
                stored, line, calls = reports[ref]
                reports[ref] = (stored, line, calls + 1)
            case EscalationAccepted(ref=ref) if ref in reports:
                stored, line, calls = reports.pop(ref)
                took = (event.at - stored).total_seconds()
                org = owners.get(line, "")
                ACCEPTANCE.labels(org, line).observe(took)
                REPORT_CALLS.labels(org, line).observe(calls)
                within = took <= (targets or {}).get(line, 900)
                ACCEPTED.labels(org, line, str(within).lower()).inc()
            case NotificationHandled(ref=ref):
                reports.pop(ref, None)

    def observe(event: CallEvent) -> None:
        EVENTS.labels(event.kind).inc()
        fact = event.fact
        if isinstance(
            fact, NotificationStored | EscalationRinging | EscalationAccepted | NotificationHandled
        ):
            report(event)
        if isinstance(fact, CallTransferred):
            line = fact.line or "none"
            TRANSFERS.labels(owners.get(line, ""), line, fact.target, fact.mode).inc()
        if not isinstance(fact, CallEnded):
            return
        line = fact.line or "none"
        org = owners.get(line, "")
        CALLS.labels(org, line, fact.outcome).inc()
        if fact.wait is not None:
            WAIT.labels(org, line, fact.outcome).observe(fact.wait)
        if fact.talk is not None:
            TALK.labels(org, line).observe(fact.talk)

    return observe


class LiveState(Collector):
    """Gauges read from the running parts at each scrape (never stale, nothing to keep)."""

    def __init__(
        self,
        board: Switchboard,
        links: Callable[[], dict[str, float]],
        owners: Mapping[str, str],
        notifications: Callable[[], Iterable[tuple[str, bool]]],
    ) -> None:
        self.board = board
        self.links = links
        self.owners = owners
        self.notifications = notifications

    def collect(self) -> Iterator[Metric]:
        board = self.board
        by_line = ["organisation", "line"]
        waiting = GaugeMetricFamily(
            "hotline_callers_waiting", "Callers waiting now, by line", labels=by_line
        )
        longest = GaugeMetricFamily(
            "hotline_longest_wait_seconds", "Longest current wait, by line", labels=by_line
        )
        operators = GaugeMetricFamily(
            "hotline_operators",
            "Operators who serve a line, by line and state",
            labels=[*by_line, "state"],
        )
        for name, line in board.lines_now().items():
            org = self.owners.get(name, "")
            waiting.add_metric([org, name], len(line.waiting))
            longest.add_metric([org, name], line.longest)
            for state, ids in line.operators.items():
                operators.add_metric([org, name, state.value], len(ids))
        yield waiting
        yield longest
        yield operators
        opened = GaugeMetricFamily(
            "hotline_notifications_open",
            "Detention notifications not handled yet, by line",
            labels=by_line,
        )
        overdue = GaugeMetricFamily(
            "hotline_notifications_overdue",
            "Open notifications older than their organisation's notification_target, by line",
            labels=by_line,
        )
        counts: dict[str, list[int]] = {}  # line: [open, overdue]
        for on_line, late in self.notifications():
            tally = counts.setdefault(on_line, [0, 0])
            tally[0] += 1
            tally[1] += late
        for name, (open_count, late_count) in sorted(counts.items()):
            org = self.owners.get(name, "")
            opened.add_metric([org, name], open_count)
            overdue.add_metric([org, name], late_count)
        yield opened
        yield overdue
        for name, value in self.links().items():
            yield GaugeMetricFamily(f"hotline_{name}", name.replace("_", " "), value=value)


def watch(
    board: Switchboard,
    links: Callable[[], dict[str, float]],
    owners: Mapping[str, str],
    notifications: Callable[[], Iterable[tuple[str, bool]]],
) -> LiveState:
    """Register the live gauges of this service (replacing an earlier service's)."""
    for collector in list(REGISTRY._collector_to_names):
        if isinstance(collector, LiveState):
            REGISTRY.unregister(collector)
    live = LiveState(board, links, owners, notifications)
    REGISTRY.register(live)
    return live


# -- the outbox (hotline/outbound) ------------------------------------------------------------
OUTBOX_DELIVERED = Counter(
    "hotline_outbox_delivered",
    "Messages delivered (SMS handed to Kannel, e-mail to the SMTP server, webhooks answered "
    "2xx), by organisation and channel",
    ["organisation", "channel"],
    registry=REGISTRY,
)
OUTBOX_FAILURES = Counter(
    "hotline_outbox_failures",
    "Tries that failed (each tried again later, or given up), by organisation and channel",
    ["organisation", "channel"],
    registry=REGISTRY,
)
OUTBOX_GIVEN_UP = Counter(
    "hotline_outbox_given_up",
    "Messages given up after failing for HOTLINE_OUTBOX_GIVE_UP_AFTER, by organisation and "
    "channel: never delivered",
    ["organisation", "channel"],
    registry=REGISTRY,
)


class OutboxGauges(Collector):
    """What the outbox holds now, read at each scrape from the deliverer's last count."""

    def __init__(self, read: Callable[[], Iterable[tuple[str, str, int, float]]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        labels = ["organisation", "channel"]
        pending = GaugeMetricFamily(
            "hotline_outbox_pending",
            "Messages not delivered yet (active instance), by organisation and channel",
            labels=labels,
        )
        oldest = GaugeMetricFamily(
            "hotline_outbox_oldest_pending_seconds",
            "Age of the oldest message not delivered yet, by organisation and channel",
            labels=labels,
        )
        for organisation, channel, count, age in self.read():
            pending.add_metric([organisation, channel], count)
            oldest.add_metric([organisation, channel], age)
        yield pending
        yield oldest


def outbox_series(organisations: Iterable[str], channels: Iterable[str]) -> None:
    """Each organisation's outbox counters exported from the start, at 0 (an alert's
    increase() sees nothing of a series before its first sample)."""
    for org in organisations:
        for channel in channels:
            for counter in (OUTBOX_DELIVERED, OUTBOX_FAILURES, OUTBOX_GIVEN_UP):
                counter.labels(org, channel)


def watch_outbox(read: Callable[[], Iterable[tuple[str, str, int, float]]]) -> None:
    """Register the outbox's gauges (replacing an earlier service's)."""
    for collector in list(REGISTRY._collector_to_names):
        if isinstance(collector, OutboxGauges):
            REGISTRY.unregister(collector)
    REGISTRY.register(OutboxGauges(read))
