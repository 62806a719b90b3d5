"""The checks that span sections of config/hotline.yaml, beyond what each section's model
checks of itself: what a name refers to exists and is its organisation's own, ids and keypad
codes are unique, an organisation's own values stay within the shared ones. Each yields
``(path, message)`` pairs, the path inside the file (hotline/config/loading.py names the
file)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from hotline.config.deployment import Retention
from hotline.config.fields import unknown
from hotline.config.menus import ActionModel
from hotline.config.schema import DeploymentModel, OrganisationModel
from routing import Schedule, numbers, parse_hours
from routing.outbound import CallbackPolicy

#: Who owns each id: (section, id) -> the organisation's id.
Owners = dict[tuple[str, str], str]


def audit_outlives(
    model: DeploymentModel,
    organisations: Mapping[str, OrganisationModel],
    kept: Mapping[str, Retention],
) -> Iterator[tuple[str, str]]:
    """The audit trail is kept longer than the data it names: an access is answered for
    after the recording, the report or the call's numbers it reached are gone (each
    organisation's longest retention)."""
    shared: set[str] = set()
    for org_id, org in organisations.items():
        retention = kept.get(org_id)
        if retention is None:
            continue  # (its own retention is wrong: named already)
        recordings = (
            "recordings.retention_days"
            if retention.recordings_days == model.recordings.retention_days
            else "retention.recordings_days"
        )
        days, name = max(  # (the first of equals: the call log's)
            (retention.call_log_days, "retention.call_log_days"),
            (retention.reports_days, "retention.reports_days"),
            (retention.recordings_days, recordings),
            key=lambda kind: kind[0],
        )
        audit = org.audit.days if org.audit is not None else model.audit.days
        if audit > days:
            continue
        if org.audit is not None:
            yield f"organisations.{org_id}.audit.days", f"must be longer than {name} ({days})"
        elif (found := f"must be longer than {name} ({days})") not in shared:
            shared.add(found)
            yield "audit.days", found


def escalation_rotas(org: OrganisationModel) -> Iterator[tuple[str, str]]:
    """A line's escalation rings the people of one of its organisation's rotas."""
    rotas = list(org.duty.rotas)
    for name, line in org.lines.items():
        chain = line.escalation
        if chain is None:
            continue
        if not rotas:
            yield (
                f"lines.{name}.escalation",
                "rings the people on duty: give the organisation a duty rota",
            )
        elif chain.rota is not None and chain.rota not in rotas:
            yield f"lines.{name}.escalation.rota", unknown("rota", chain.rota, rotas)


def outbound_caps(model: DeploymentModel) -> list[tuple[str, str]]:
    """An organisation may lower the hourly cap on outbound calls, never raise it."""
    shared = model.trunk.callbacks
    cap = shared.per_hour if shared is not None else 0
    return [
        (
            f"organisations.{org_id}.callbacks.per_hour",
            f"{org.callbacks.per_hour} is more than trunk.callbacks.per_hour ({cap}): "
            "an organisation may only set a lower cap",
        )
        for org_id, org in model.organisations.items()
        if org.callbacks is not None and org.callbacks.per_hour > cap
    ]


#: What a phone dials or is, by id: SIP endpoints (operators, supervisors) and transfer
#: targets (lines, centres). Each id is one of them in the whole deployment: an attended
#: transfer keyed as *2 and a line's code dials PJSIP/<the line's id>, which would ring a
#: supervisor of that name; a prefix of one endpoint's channels is no other's.
DIALLED = ("lines", "operators", "supervisors", "centres")
KIND = {"lines": "a line", "operators": "an operator", "supervisors": "a supervisor"}
KIND["centres"] = "a centre"


def dialled_ids(
    organisations: Mapping[str, OrganisationModel], named: bool
) -> Iterator[tuple[str, str]]:
    """An id is one line, operator, supervisor or centre in the deployment, whichever
    organisation each belongs to (the clash is named where the second one is)."""
    seen: dict[str, tuple[str, str]] = {}  # id -> (its section, organisation)
    for org_id, org in organisations.items():
        for section in DIALLED:
            for name in getattr(org, section):
                first = seen.setdefault(name, (section, org_id))
                if first[0] == section:
                    continue  # (the same section twice: named as the sections are merged)
                where = f"organisations.{org_id}.{section}.{name}" if named else f"{section}.{name}"
                whose = f" of organisation {first[1]!r}" if named else ""
                yield (
                    where,
                    f"also the id of {KIND[first[0]]}{whose}: lines, operators, "
                    "supervisors and centres have ids unique across the deployment (phones "
                    "dial them by id)",
                )


def codes_of(org: OrganisationModel) -> Iterator[tuple[str, str, str]]:
    """(section, id, keypad code) of what an organisation's keypads name: what its operators
    can transfer to, and its offices (a supervisor's *72: the shelter)."""
    for section in ("lines", "operators", "centres", "offices"):
        for name, item in getattr(org, section).items():
            if item.code is not None:
                yield section, name, item.code


def keypad_codes(
    organisations: Mapping[str, OrganisationModel], named: bool
) -> Iterator[tuple[str, str]]:
    """Each keypad code names one target within its organisation."""
    for org_id, org in organisations.items():
        seen: dict[str, str] = {}
        for section, name, code in codes_of(org):
            path = f"{section}.{name}.code"
            if code in seen:
                where = f"organisations.{org_id}.{path}" if named else path
                yield where, f"keypad code {code!r} is also {seen[code]}'s"
            seen.setdefault(code, name)


def within(path: str, owners: Owners) -> str:
    """``lines.x...`` as ``organisations.<owner>.lines.x...``."""
    section, _, rest = path.partition(".")
    owner = owners.get((section, rest.split(".", 1)[0]))
    return f"organisations.{owner}.{path}" if owner else path


def belonging(
    m: DeploymentModel, owners: Owners, organisations: Mapping[str, OrganisationModel]
) -> Iterator[tuple[str, str]]:
    """What an organisation's numbers, menus, lines and operators name is its own, and they
    speak its languages."""

    def own(path: str, whose: str, section: str, name: str | None) -> Iterator[tuple[str, str]]:
        owner = owners.get((section, name or ""))
        if owner is not None and owner != whose:
            kind = section.removesuffix("s")
            yield path, f"{kind} {name!r} belongs to organisation {owner!r}"

    def speaks(path: str, whose: str, language: str | None) -> Iterator[tuple[str, str]]:
        languages = organisations[whose].languages
        if language is not None and language in m.languages and language not in languages:
            yield path, f"language {language!r} is not one of {whose}'s ({', '.join(languages)})"

    def action(path: str, whose: str, a: ActionModel) -> Iterator[tuple[str, str]]:
        yield from own(f"{path}.menu", whose, "menus", a.menu)
        yield from own(f"{path}.line", whose, "lines", a.line)
        yield from own(f"{path}.centre", whose, "centres", a.centre)
        yield from own(f"{path}.sms", whose, "centres", a.sms)
        yield from speaks(f"{path}.language", whose, a.language)

    for number, n in m.numbers.items():
        whose, base = owners["numbers", number], f"numbers.{number}"
        yield from speaks(f"{base}.language", whose, n.language)
        yield from action(f"{base}.start", whose, n.start)
        yield from own(f"{base}.fallback_line", whose, "lines", n.fallback_line)
    for name, menu in m.menus.items():
        whose, base = owners["menus", name], f"menus.{name}"
        for key, option in menu.options.items():
            yield from action(f"{base}.options.{key}", whose, option)
        for what, a in (("no_input", menu.no_input), ("wrong_key", menu.wrong_key)):
            if a is not None:
                yield from action(f"{base}.{what}", whose, a)
        for lang in menu.speak_in:
            yield from speaks(f"{base}.speak_in", whose, lang)
    for name, line in m.lines.items():
        whose, base = owners["lines", name], f"lines.{name}"
        for i, office in enumerate(line.offices):
            yield from own(f"{base}.offices.{i}", whose, "offices", office)
        for i, office in enumerate(line.overflow.offices if line.overflow else ()):
            yield from own(f"{base}.overflow.offices.{i}", whose, "offices", office)
        yield from own(f"{base}.after_hours.line", whose, "lines", line.after_hours.line)
    for name, centre in m.centres.items():
        whose = owners["centres", name]
        for lang in organisations[whose].languages:
            if lang not in centre.says:
                yield f"centres.{name}.says", f"says nothing in {lang!r} (one of {whose}'s)"
        for lang in centre.says:
            yield from speaks(f"centres.{name}.says.{lang}", whose, lang)
    for name, op in m.operators.items():
        whose, base = owners["operators", name], f"operators.{name}"
        yield from own(f"{base}.office", whose, "offices", op.office)
        for i, line_name in enumerate(op.lines):
            yield from own(f"{base}.lines.{i}", whose, "lines", line_name)
        for i, lang in enumerate(op.languages):
            yield from speaks(f"{base}.languages.{i}", whose, lang)


def cross_references(m: DeploymentModel) -> Iterator[tuple[str, str]]:
    """What the numbers, menus, lines, offices, operators and centres name exists, and each
    one is usable: a time zone and hours that parse, a centre the trunk may call, an id that
    is no other kind's (in the sections of every organisation together)."""

    def action(path: str, a: ActionModel) -> Iterator[tuple[str, str]]:
        if a.menu is not None and a.menu not in m.menus:
            yield f"{path}.menu", unknown("menu", a.menu, m.menus)
        if a.line is not None and a.line not in m.lines:
            yield f"{path}.line", unknown("line", a.line, m.lines)
        if a.centre is not None and a.centre not in m.centres:
            yield f"{path}.centre", unknown("centre", a.centre, m.centres)
        if a.sms is not None and a.sms not in m.centres:
            yield f"{path}.sms", unknown("centre", a.sms, m.centres)
        if a.language is not None and a.language not in m.languages:
            yield f"{path}.language", unknown("language", a.language, m.languages)

    for number, n in m.numbers.items():
        base = f"numbers.{number}"
        if n.language not in m.languages:
            yield f"{base}.language", unknown("language", n.language, m.languages)
        if n.start.repeat:
            yield f"{base}.start", "'repeat' needs a menu to repeat; a number starts one"
        if n.start.sms is not None:
            yield f"{base}.start", "'sms' needs a menu to come back to; a number starts one"
        yield from action(f"{base}.start", n.start)
        if n.fallback_line not in m.lines:
            yield f"{base}.fallback_line", unknown("line", n.fallback_line, m.lines)
    for name, menu in m.menus.items():
        base = f"menus.{name}"
        for key, option in menu.options.items():
            yield from action(f"{base}.options.{key}", option)
        yield from action(f"{base}.no_input", menu.no_input)
        if menu.wrong_key is not None:
            yield from action(f"{base}.wrong_key", menu.wrong_key)
        for lang in menu.speak_in:
            if lang not in m.languages:
                yield f"{base}.speak_in", unknown("language", lang, m.languages)
        for what, a in (("no_input", menu.no_input), ("wrong_key", menu.wrong_key)):
            if a is not None and a.repeat:
                yield f"{base}.{what}", "'repeat' here would ask the caller forever"
            if a is not None and a.sms is not None:
                yield f"{base}.{what}", "'sms' here would text the caller again and again"
    for name, line in m.lines.items():
        for i, staffed_by in enumerate(line.offices):
            if staffed_by not in m.offices:
                yield f"lines.{name}.offices.{i}", unknown("office", staffed_by, m.offices)
        if line.overflow is not None:
            for i, wider in enumerate(line.overflow.offices):
                if wider not in m.offices:
                    yield f"lines.{name}.overflow.offices.{i}", unknown("office", wider, m.offices)
        redirect = line.after_hours.line
        if redirect is not None and redirect not in m.lines:
            yield f"lines.{name}.after_hours.line", unknown("line", redirect, m.lines)
    for name, office in m.offices.items():
        try:
            Schedule(office.timezone, ())
        except ValueError as exc:
            yield f"offices.{name}.timezone", str(exc)
        try:
            parse_hours(office.hours)
        except ValueError as exc:
            yield f"offices.{name}.hours", str(exc)
    for name, op in m.operators.items():
        base = f"operators.{name}"
        if op.office not in m.offices:
            yield f"{base}.office", unknown("office", op.office, m.offices)
        for i, line_name in enumerate(op.lines):
            if line_name not in m.lines:
                yield f"{base}.lines.{i}", unknown("line", line_name, m.lines)
        for i, lang in enumerate(op.languages):
            if lang not in m.languages:
                yield f"{base}.languages.{i}", unknown("language", lang, m.languages)
    named = set(m.lines) & set(m.operators) | (set(m.lines) | set(m.operators)) & set(m.centres)
    if named:
        yield "centres", f"transfers name lines, operators and centres alike: {sorted(named)}"
    overlap = set(m.operators) & set(m.numbers)
    if overlap:
        yield "operators", f"an operator id is also a hotline number: {sorted(overlap)}"
    both = set(m.supervisors) & (set(m.operators) | set(m.numbers))
    if both:
        yield "supervisors", f"a supervisor id is also an operator or a number: {sorted(both)}"


def centre_numbers(
    org: OrganisationModel, callbacks: CallbackPolicy | None
) -> Iterator[tuple[str, str]]:
    """Every centre of ``org`` has a number read in its country's plan that the trunk may
    dial (a centre is connected to through it)."""
    region = org.region()
    for name, centre in org.centres.items():
        if not numbers.normalised(centre.number, region):
            yield f"centres.{name}.number", numbers.unreadable(centre.number, region)
            continue
        number = numbers.normalise(centre.number, region)
        why = callbacks.refuses(number) if callbacks else "the trunk allows no callbacks"
        if why is not None:
            yield f"centres.{name}.number", f"cannot be called through the trunk: {why}"
