"""An organisation's month or year as a PDF, a CSV or JSON (`report`)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.common import (
    USAGE,
    ConfigOption,
    JsonOption,
    complete_organisations,
    fail,
    one_of,
    read_deployment,
    read_settings,
    say,
    with_store,
)
from hotline.cli.meter import meter


class Language(StrEnum):
    """The languages a report is written in (the labels of hotline/figures/report.py)."""

    EN = "en"
    UK = "uk"
    KA = "ka"
    RU = "ru"


def report_command(
    period: Annotated[str, typer.Argument(help="a month (2026-11) or a year (2026)")],
    organisation: Annotated[
        str,
        typer.Option(
            "--organisation",
            "-g",
            help="whose lines (an organisation's id)",
            autocompletion=complete_organisations,
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="the file to write: .pdf or .csv")
    ] = None,
    language: Annotated[
        Language | None,
        typer.Option(help="the report's language (default: the organisation's first)"),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The figures of an organisation's month or year, from the call log, in its time zone:
    calls offered, answered, abandoned, service level, answer and talk times, longest wait,
    transfers and callbacks, in all and per line; by day (a month) or month (a year) and by
    hour of the day; wrap-up topics and resolutions; detention reports and how fast they were
    accepted. As a PDF with plots (.pdf) or as CSV rows `section,key,figure,value` (.csv), and
    with --json as one JSON object on standard output."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from hotline.figures import report

    settings = read_settings()
    deployment = read_deployment(settings, config)
    org = deployment.organisations.get(organisation)
    if org is None:
        one_of("--organisation", organisation, deployment.organisations)
    if output is None and not as_json:
        fail("give --output FILE (.pdf or .csv), or --json (or both)", USAGE)
    kind = output.suffix.lower() if output else None
    if output is not None and kind not in (".pdf", ".csv"):
        fail(f"--output {output}: a .pdf or a .csv file", USAGE)
    chosen_language = language.value if language else org.languages[0]
    if chosen_language not in report.LABELS:  # (the organisation's first, by default)
        one_of("--language", chosen_language, report.LABELS)
    try:
        chosen = report.Period.parse(period, ZoneInfo(org.timezone))
    except ValueError as exc:
        fail(f"PERIOD: {exc}", USAGE)
    with meter("report", plain=as_json) as shown:
        shown.say(f"reading {org.id}'s calls of {chosen.name} ({org.timezone}) from the call log")
        if shown.steps:
            shown.steps(0, 2 if output else 1, "reading the call log")
        made = with_store(
            lambda store: report.gather(
                store, deployment, org.id, chosen, chosen_language, datetime.now(UTC)
            )
        )
        if output is not None:
            shown.say(f"writing {output}")
            if shown.steps:
                shown.steps(1, 2, f"drawing {output.name}")
            try:
                if kind == ".pdf":
                    output.write_bytes(report.as_pdf(made))
                else:
                    output.write_text(report.as_csv(made), encoding="utf-8")
            except OSError as exc:
                fail(f"--output {output}: {exc.strerror or exc}")
    total = made.figures["total"]
    say(
        f"{total['offered']} calls offered, {total['answered']} answered"
        + (f": {output}" if output else "")
    )
    if as_json:
        figures = {"organisation": org.id} | report.as_json(made)
        typer.echo(json.dumps(figures, indent=1, ensure_ascii=False))
