"""Which numbers the hotline may call, how often, and how often one caller may ask to be called
back. Pure: no I/O, time passed in.

A callback (or an escalation's call to the person on duty) is a call the hotline pays for, to a
number a caller typed or sent. Whoever could make the hotline dial any number could run up
premium-rate or international bills (toll fraud), so only numbers of the countries and types
(mobile, fixed line, ...) the deployment allows are dialled, every number read as its plan
says (routing/numbers.py), so no way of writing one slips past; at most so many calls an
hour go to one number, and so many for each organisation (its own calls: another
organisation's busy hour, or a flood of requests on its line, never uses up this one's); and
one calling number may ask for so many callbacks an hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from routing import numbers

HOUR = timedelta(hours=1)
#: Where a refusal's rule is written.
RULES = "trunk.callbacks.allowed"
#: Callback requests one calling number may make to one organisation in an hour: a family
#: that calls again, and again, is served; a caller typing number after number is not.
PER_CALLER = 5


@dataclass(frozen=True)
class Dial:
    """An outbound call made (a callback, an escalation's call): when, to whom, whose."""

    at: datetime
    number: str
    organisation: str


@dataclass(frozen=True)
class Request:
    """A callback asked for: when, by which calling number, of which organisation."""

    at: datetime
    caller: str
    organisation: str


@dataclass(frozen=True)
class Allowed:
    """Numbers callbacks may dial: those of ``country`` (ISO 3166 alpha-2) of these types."""

    country: str
    kinds: frozenset[str] = frozenset({"mobile", "fixed_line"})

    def __post_init__(self) -> None:
        # (the config says so with its own words first; this guards the pure rule's callers)
        wrong = self.kinds - set(numbers.KINDS)
        if wrong:
            raise ValueError(f"callbacks may not dial {', '.join(sorted(wrong))} numbers")

    @classmethod
    def of(cls, country: str, kinds: Iterable[str] = ("mobile", "fixed_line")) -> Allowed:
        return cls(country, frozenset(kinds))


@dataclass(frozen=True)
class CallbackPolicy:
    """The numbers callbacks may dial (countries and types) and the caps."""

    allowed: tuple[Allowed, ...]
    per_number_per_hour: int
    #: Each organisation's calls an hour (``own_per_hour``: those that set a lower cap).
    per_hour: int
    per_caller_per_hour: int = PER_CALLER
    own_per_hour: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        allowed: Iterable[Allowed],
        per_number: int,
        per_hour: int,
        per_caller: int = PER_CALLER,
        own_per_hour: Mapping[str, int] | None = None,
    ) -> CallbackPolicy:
        return cls(
            tuple(allowed),
            per_number,
            per_hour,
            per_caller,
            dict(own_per_hour or {}),
        )

    def refuses(self, number: str) -> str | None:
        """Why ``number`` (normalised: routing/numbers.py) may never be called back (None: it
        may). A number read in no plan (a short code, a national form with no country to read
        it in, a typing mistake) is refused: what cannot be typed cannot be checked."""
        country = numbers.country(number)
        if country is None:
            return f"not a valid telephone number ({RULES})"
        rules = [rule for rule in self.allowed if rule.country == country]
        if not rules:
            return f"a number of {country}: no callback goes there ({RULES})"
        kinds = numbers.kinds(number)
        if not any(kind in rule.kinds for rule in rules for kind in kinds):
            kind = " or ".join(kinds) or "unknown"
            return f"a {kind} number of {country}: not a type callbacks dial ({RULES})"
        return None

    def hourly(self, organisation: str) -> int:
        """How many calls ``organisation`` may make in an hour."""
        return min(self.per_hour, self.own_per_hour.get(organisation, self.per_hour))


def recent(made: Sequence[Dial], now: datetime) -> tuple[Dial, ...]:
    """The calls of the last hour (what :func:`capped` looks at), oldest first."""
    return tuple(d for d in made if now - d.at < HOUR)


def capped(
    policy: CallbackPolicy,
    dialled: Sequence[Dial],
    number: str,
    organisation: str,
    now: datetime,
) -> tuple[str, datetime | None] | None:
    """Why ``organisation`` may not call ``number`` now, and from when it may (None: never);
    None when it may now. ``dialled``: the calls made in the last hour, every organisation's,
    oldest first. The one rule for every outbound call: callbacks and escalations alike."""
    refused = policy.refuses(number)
    if refused is not None:
        return refused, None
    last_hour = recent(dialled, now)
    theirs = [d.at for d in last_hour if d.organisation == organisation]
    cap = policy.hourly(organisation)
    if len(theirs) >= cap:
        where = (
            f"organisations.{organisation}.callbacks.per_hour"
            if cap < policy.per_hour
            else "trunk.callbacks.per_hour"
        )
        # (from when one call less than the cap is left in the hour)
        return f"{cap} calls of this organisation in the last hour ({where})", (
            theirs[len(theirs) - cap] + HOUR
        )
    to_number = [d.at for d in last_hour if d.number == number]
    if len(to_number) >= policy.per_number_per_hour:
        return (
            f"{policy.per_number_per_hour} callbacks to this number in the last hour "
            "(trunk.callbacks.per_number_per_hour)",
            to_number[len(to_number) - policy.per_number_per_hour] + HOUR,
        )
    return None


def withheld(caller: str) -> bool:
    """A calling number that tells callers apart from none (withheld, anonymous, empty)."""
    return not any(c.isdigit() for c in caller)


def too_many_requests(
    policy: CallbackPolicy,
    requests: Sequence[Request],
    caller: str,
    organisation: str,
    now: datetime,
) -> str | None:
    """Why ``caller`` may not ask ``organisation`` for another callback now (None: they may).
    A withheld number is never refused here (it would refuse every family calling without
    one): the organisation's hourly cap still bounds what their requests cost."""
    if withheld(caller):
        return None
    asked = sum(
        1
        for r in requests
        if now - r.at < HOUR and r.caller == caller and r.organisation == organisation
    )
    if asked >= policy.per_caller_per_hour:
        return (
            f"{asked} callback requests from this number in the last hour "
            "(trunk.callbacks.per_caller_per_hour)"
        )
    return None
