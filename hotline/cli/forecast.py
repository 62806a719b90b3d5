"""How many operators each line needed in a past week (`forecast`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hotline.cli.common import (
    USAGE,
    ConfigOption,
    JsonOption,
    complete_lines,
    complete_organisations,
    fail,
    one_of,
    read_deployment,
    read_settings,
    say,
    with_store,
)


def forecast_command(
    week: Annotated[
        str | None,
        typer.Option(help="a day of the week to look at, YYYY-MM-DD (default: the last full week)"),
    ] = None,
    line: Annotated[
        str | None, typer.Option(help="one line only", autocompletion=complete_lines)
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option(
            help="its lines only, in its time zone and against its targets",
            autocompletion=complete_organisations,
        ),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """How many operators each line needed, hour by hour in a past week, to answer the
    config's share of calls in time (Erlang C on the call log), beside how many were on duty.
    Each line is held to its organisation's targets; with --line or --organisation, the hours
    are that organisation's time zone's."""
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from hotline.figures import forecast

    settings = read_settings()
    deployment = read_deployment(settings, config)
    if line is not None and line not in deployment.lines:
        one_of("--line", line, deployment.lines)
    if organisation is not None and organisation not in deployment.organisations:
        one_of("--organisation", organisation, deployment.organisations)
    chosen = (
        deployment.organisations[organisation]
        if organisation
        else deployment.organisation_of(line=line)
        if line
        else None
    )
    zone = ZoneInfo(deployment.rules_of(organisation, line=line).timezone)
    lines = [line] if line else sorted(chosen.lines) if chosen else list(deployment.lines)
    goals = {  # each line held to its organisation's targets
        name: forecast.Goal(
            rules.service_level_threshold, rules.service_level_target, rules.default_handle_time
        )
        for name in lines
        for rules in [deployment.policy_of(line=name)]
    }
    if week is None:
        since, until = forecast.last_week(datetime.now(UTC), zone)
    else:
        try:
            day = date.fromisoformat(week)
        except ValueError:
            fail(f"--week {week!r}: a date, YYYY-MM-DD", USAGE)
        since, until = forecast.week_of(day, zone)

    async def read(store: Any) -> Any:
        return await store.queued_calls(since, until), await store.operator_changes(since, until)

    rows, changes = with_store(read)
    hours = forecast.forecast(
        (forecast.Queued(r.line, r.queued_at, r.talk) for r in rows if r.line and r.queued_at),
        (forecast.Change(c.operator, c.at, c.state) for c in changes),
        deployment.operators,
        goals,
        since,
        until,
        zone,
    )
    if as_json:
        typer.echo(json.dumps(forecast.rows(hours), indent=1))
        return
    say(f"the week of {since:%Y-%m-%d} ({zone.key}), from the call log")
    typer.echo(forecast.table(hours, goals))
