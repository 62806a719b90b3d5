"""An organisation's month or year as a PDF or a CSV (`report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.common import (
    USAGE,
    ConfigOption,
    fail,
    read_deployment,
    read_settings,
    say,
    with_store,
)


def report_command(
    period: Annotated[str, typer.Argument(help="a month (2026-11) or a year (2026)")],
    organisation: Annotated[
        str, typer.Option("--organisation", "-g", help="whose lines (an organisation's id)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="the file to write: .pdf or .csv")],
    language: Annotated[
        str | None,
        typer.Option(help="the report's language (default: the organisation's first)"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """The figures of an organisation's month or year, from the call log, in its time zone:
    calls offered, answered, abandoned, service level, answer and talk times, longest wait,
    transfers and callbacks, in all and per line; by day (a month) or month (a year) and by
    hour of the day; wrap-up topics and resolutions; detention reports and how fast they were
    accepted. As a PDF with plots (.pdf) or as CSV rows `section,key,figure,value` (.csv)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from hotline.figures import report

    settings = read_settings()
    deployment = read_deployment(settings, config)
    org = deployment.organisations.get(organisation)
    if org is None:
        fail(
            f"--organisation {organisation!r}: one of {', '.join(deployment.organisations)}",
            USAGE,
        )
    kind = output.suffix.lower()
    if kind not in (".pdf", ".csv"):
        fail(f"--output {output}: a .pdf or a .csv file", USAGE)
    language = language or org.languages[0]
    if language not in report.LABELS:
        fail(f"--language {language!r}: one of {', '.join(report.LABELS)}", USAGE)
    try:
        chosen = report.Period.parse(period, ZoneInfo(org.timezone))
    except ValueError as exc:
        fail(f"PERIOD: {exc}", USAGE)
    say(f"reading {org.id}'s calls of {chosen.name} ({org.timezone}) from the call log")
    made = with_store(
        lambda store: report.gather(store, deployment, org.id, chosen, language, datetime.now(UTC))
    )
    say(f"writing {output}")
    try:
        if kind == ".pdf":
            output.write_bytes(report.as_pdf(made))
        else:
            output.write_text(report.as_csv(made), encoding="utf-8")
    except OSError as exc:
        fail(f"--output {output}: {exc.strerror or exc}")
    total = made.figures["total"]
    say(f"{total['offered']} calls offered, {total['answered']} answered: {output}")
