"""Reading config/hotline.yaml: the YAML, its schema (hotline/config/schema.py), the checks
across its sections (hotline/config/checks.py), then the deployment it builds
(hotline/config/deployment.py).

Every problem is reported as ``file: path.inside.it: what is wrong``; nothing here lets a
traceback reach the person who edited the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agents import Operator
from agents.rota import zone
from hotline.config import checks
from hotline.config import duty as duty_config
from hotline.config.checks import Owners
from hotline.config.deployment import Deployment, Organisation, Policy, Retention, Webhook
from hotline.config.rules import QueuesModel, RetentionModel
from hotline.config.schema import OWNED, CentreModel, DeploymentModel, OrganisationModel
from ivr import Entry, Flow, Menu
from routing import AfterHours, Line, Office, Schedule, numbers, parse_hours
from routing.lines import Overflow
from routing.outbound import CallbackPolicy
from routing.transfers import Centre


class ConfigError(Exception):
    """A config that cannot run; ``problems`` are ``(path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            "\n".join(f"{source}: {p}: {m}" if p else f"{source}: {m}" for p, m in problems)
        )


def load(path: Path) -> Deployment:
    """Read, validate and build the deployment at ``path``; raise ConfigError if it is wrong."""
    return parse(read(path), str(path))


def read(path: Path) -> Any:
    """The config at ``path`` as YAML's data, not yet checked (ConfigError: not readable,
    not UTF-8, not YAML)."""
    source = str(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys)
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [("", "is not UTF-8 text")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [(where, f"not valid YAML: {problem}")]) from None
    return raw


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: PyYAML
    keeps the last silently, and a second rota or operator of the same name would replace
    the first unseen. (Keys merged in with ``<<`` may be given again: that is what they are
    for.)"""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse(raw: Any, source: str = "<config>") -> Deployment:
    """Validate ``raw`` (the YAML's data) and build the deployment."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [("", "must be a mapping of settings (languages, numbers, ...)")])
    try:
        model = DeploymentModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_pydantic_problem(e) for e in exc.errors()]) from None
    organisations = model.as_organisations()
    flat, owners, problems = _flatten(model, organisations)
    rules, found = _own_rules(model, organisations)
    problems += found
    kept, found = _own_retention(model, organisations)
    problems += found
    problems += checks.dialled_ids(organisations, bool(model.organisations))
    problems += checks.outbound_caps(model)
    problems += checks.audit_outlives(model, organisations, kept)
    problems += checks.keypad_codes(organisations, bool(model.organisations))
    if model.organisations:  # name the organisation in every path
        across = [*checks.cross_references(flat), *checks.belonging(flat, owners, organisations)]
        problems += [(checks.within(path, owners), message) for path, message in across]
    else:
        problems += checks.cross_references(flat)
    duty: dict[str, duty_config.Duty] = {}
    callbacks = model.trunk.callbacks
    policy = CallbackPolicy.of(callbacks.rules(), 1, 1) if callbacks else None
    for org_id, org in organisations.items():
        prefix = f"organisations.{org_id}." if model.organisations else ""
        problems += [(prefix + p, m) for p, m in checks.centre_numbers(org, policy)]
        try:
            home = zone(next(iter(org.offices.values())).timezone)
        except ValueError:
            continue  # (the office's own check names it)
        found, duty[org_id] = duty_config.build(
            f"{prefix}duty", org.duty, org.languages, home.key, policy, org.region()
        )
        problems += found
        problems += [(prefix + p, m) for p, m in checks.escalation_rotas(org)]
    if problems:
        raise ConfigError(source, problems)
    try:
        return _build(flat, organisations, owners, duty, rules, kept)
    except ValueError as exc:  # a domain rule the schema cannot express
        raise ConfigError(source, [("", str(exc))]) from None


def _policy(rules: QueuesModel) -> Policy:
    """The rules a checked ``queues:`` says (the shared one, or an organisation's)."""
    return Policy(
        **rules.model_dump(exclude={"pause_reasons", "resolutions", "notification_outcomes"}),
        pause_reasons=tuple(rules.pause_reasons),
        resolutions=tuple(rules.resolutions),
        notification_outcomes=tuple(rules.notification_outcomes),
    )


def _own_rules(
    model: DeploymentModel, organisations: Mapping[str, OrganisationModel]
) -> tuple[dict[str, Policy], list[tuple[str, str]]]:
    """Each organisation's queue rules: the shared ``queues:`` with what it sets itself put
    in, value by value (under ``queues:``, or its targets under ``targets:``), checked as
    the shared ones are. (Whose rules apply to what: :meth:`Deployment.rules_of`.)"""
    shared = model.queues.model_dump()
    rules: dict[str, Policy] = {}
    problems: list[tuple[str, str]] = []
    for org_id, org in organisations.items():
        prefix = f"organisations.{org_id}." if model.organisations else ""
        targets = org.targets.model_dump(exclude_none=True)
        problems += [
            (f"{prefix}targets.{name}", "also set under queues: give it once, under queues")
            for name in sorted(targets.keys() & org.queues.keys())
        ]
        try:
            own = QueuesModel.model_validate(shared | targets | org.queues)
        except ValidationError as exc:
            for error in exc.errors():
                path, message = _pydantic_problem(error)
                problems.append((f"{prefix}queues.{path}", message))
            continue
        rules[org_id] = _policy(own)
    return rules, problems


def _own_retention(
    model: DeploymentModel, organisations: Mapping[str, OrganisationModel]
) -> tuple[dict[str, Retention], list[tuple[str, str]]]:
    """Each organisation's retention: the shared ``retention:`` with what it sets itself put
    in, value by value, checked as the shared one is; recordings kept
    ``recordings.retention_days`` unless it says otherwise."""
    shared = model.retention.model_dump(exclude_none=True)
    kept: dict[str, Retention] = {}
    problems: list[tuple[str, str]] = []
    for org_id, org in organisations.items():
        prefix = f"organisations.{org_id}." if model.organisations else ""
        try:
            own = RetentionModel.model_validate(shared | org.retention)
        except ValidationError as exc:
            for error in exc.errors():
                path, message = _pydantic_problem(error)
                problems.append((f"{prefix}retention.{path}", message))
            continue
        recordings = own.recordings_days or model.recordings.retention_days
        if own.reports_days > own.call_log_days:
            # the report's call keeps its number as long as the report does, else the
            # report would name what its call's record no longer holds
            problems.append(
                (
                    f"{prefix}retention.reports_days",
                    f"{own.reports_days} is more than call_log_days ({own.call_log_days}): "
                    "a report is kept at most as long as its call's record",
                )
            )
        kept[org_id] = Retention(own.call_log_days, own.call_log, own.reports_days, recordings)
    return kept, problems


def _flatten(
    model: DeploymentModel, organisations: Mapping[str, OrganisationModel]
) -> tuple[DeploymentModel, Owners, list[tuple[str, str]]]:
    """Every organisation's sections in one (ids unique across them: a clash is a problem),
    who owns each id, and the languages of them all."""
    merged: dict[str, dict[str, Any]] = {section: {} for section in OWNED}
    owners: Owners = {}
    languages: list[str] = []
    clashes: list[tuple[str, str]] = []
    for org_id, org in organisations.items():
        languages += [lang for lang in org.languages if lang not in languages]
        for section in OWNED:
            for name, item in getattr(org, section).items():
                if (section, name) in owners:
                    clashes.append(
                        (
                            f"organisations.{org_id}.{section}.{name}",
                            f"also in organisation {owners[section, name]!r}: ids are unique "
                            "across organisations",
                        )
                    )
                    continue
                owners[section, name] = org_id
                merged[section][name] = item
    return model.model_copy(update={"languages": languages, **merged}), owners, clashes


def _pydantic_problem(error: Any) -> tuple[str, str]:
    """One of pydantic's errors as ``(path, message)``, in words for the file's editor."""
    path = ".".join(str(part) for part in error["loc"])
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        message = "unknown setting"
    elif kind == "missing":
        message = "is required"
    elif kind == "string_pattern_mismatch":
        message = f"{error['input']!r} does not match {error['ctx']['pattern']}"
    return path, message.removeprefix("Value error, ")


def _build(
    m: DeploymentModel,
    organisations: Mapping[str, OrganisationModel],
    owners: Owners,
    duty: Mapping[str, duty_config.Duty],
    rules: Mapping[str, Policy],
    kept: Mapping[str, Retention],
) -> Deployment:
    menus = {
        name: Menu(
            name=name,
            prompt=menu.prompt,
            options={key: a.build() for key, a in menu.options.items()},
            no_input=menu.no_input.build(),
            wrong_key=(menu.wrong_key or menu.no_input).build(),
            timeout=menu.timeout,
            retries=menu.retries,
            wrong_key_prompt=menu.wrong_key_prompt,
            speak_in=tuple(menu.speak_in),
        )
        for name, menu in m.menus.items()
    }
    entries = {
        number: Entry(number, n.language, n.start.build(), n.fallback_line, n.greeting)
        for number, n in m.numbers.items()
    }
    lines = {
        name: Line(
            name=name,
            offices=tuple(line.offices),
            priority=line.priority,
            titles=dict(line.titles),
            after_hours=AfterHours(**line.after_hours.model_dump()),
            overflow=(
                Overflow(line.overflow.after, tuple(line.overflow.offices))
                if line.overflow
                else None
            ),
            callback_abandoned=line.callback_abandoned,
            take_message_after=line.take_message_after,
            recorded=line.recording.enabled,
            recording_prompt=line.recording.prompt if line.recording.enabled else None,
            open_on_holidays=line.open_on_holidays,
            topics=tuple(line.topics),
            exceptions=tuple(e.exception() for e in line.exceptions),
        )
        for name, line in m.lines.items()
    }
    offices = {
        name: Office(
            name,
            Schedule(
                o.timezone,
                parse_hours(o.hours),
                frozenset(o.holidays),
                o.public_holidays(),
                tuple(e.exception() for e in o.exceptions),
            ),
        )
        for name, o in m.offices.items()
    }
    operators = {
        op_id: Operator(op_id, op.name, op.office, tuple(op.lines), tuple(op.languages))
        for op_id, op in m.operators.items()
    }

    def centre(name: str, c: CentreModel) -> Centre:
        region = organisations[owners["centres", name]].region()
        number = numbers.normalise(c.number, region)
        return Centre(name, c.name, c.region, c.address, c.hours, number, shown=c.number)

    centres = {name: centre(name, c) for name, c in m.centres.items()}
    return Deployment(
        languages=tuple(m.languages),
        flow=Flow(menus, entries, tuple(m.languages)),
        lines=lines,
        offices=offices,
        operators=operators,
        trunk=m.trunk,
        sip=m.sip,
        phones=m.phones,
        security=m.security,
        policy=_policy(m.queues),
        retention_days=m.recordings.retention_days,
        audit_days=m.audit.days,
        supervisors={name: s.name for name, s in m.supervisors.items()},
        organisations={
            org_id: _organisation(org_id, org, owners, rules[org_id], duty[org_id], kept[org_id])
            for org_id, org in organisations.items()
        },
        centres=centres,
        prompt_texts={
            (lang, centres[name].prompt): text
            for name, c in m.centres.items()
            for lang, text in c.says.items()
        },
        escalations={
            name: line.escalation.build()
            for name, line in m.lines.items()
            if line.escalation is not None
        },
    )


def _organisation(
    org_id: str,
    org: OrganisationModel,
    owners: Owners,
    policy: Policy,
    duty: duty_config.Duty,
    retention: Retention,
) -> Organisation:
    def own(section: str) -> frozenset[str]:
        return frozenset(
            name for (kind, name), owner in owners.items() if (kind, owner) == (section, org_id)
        )

    return Organisation(
        org_id,
        org.name,
        tuple(org.languages),
        next(iter(org.offices.values())).timezone,
        numbers=own("numbers"),
        country=org.region(),
        lines=own("lines"),
        offices=own("offices"),
        operators=own("operators"),
        supervisors=own("supervisors"),
        centres=own("centres"),
        codes={code: name for _, name, code in checks.codes_of(org)},
        policy=policy,
        duty=duty,
        webhooks=tuple(
            Webhook(hook.url, frozenset(hook.events), frozenset(hook.personal))
            for hook in org.webhooks
        ),
        callbacks_per_hour=org.callbacks.per_hour if org.callbacks else None,
        retention=retention,
        audit_days=org.audit.days if org.audit else None,
    )
