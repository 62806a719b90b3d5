"""An organisation's month or year, as the ministry and the donors ask for it: a PDF to read
(tables and plots, in the organisation's language and time zone) and a CSV to compute with,
both made from the same figures (:func:`hotline.figures.stats.compute` over the call log).

The CSV is long: one row per figure, ``section,key,figure,value`` (``total,,offered,412``,
``line,consultation,service_level,0.83``, ``hour,09,offered,57``, ``topic,labour,calls,40``,
``reports,,within_target,0.9``).
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hotline.figures import stats

#: The figures each line and the total show, in this order.
CALL_FIGURES = (
    "offered",
    "answered",
    "abandoned",
    "service_level",
    "average_speed_of_answer",
    "average_handle_time",
    "longest_wait",
    "transferred",
)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Legal aid hotline", "period": "Period", "timezone": "Time zone",
        "total": "All lines", "line": "Line", "offered": "Offered", "answered": "Answered",
        "abandoned": "Abandoned", "service_level": "Service level",
        "average_speed_of_answer": "Average answer time (s)",
        "average_handle_time": "Average talk time (s)", "longest_wait": "Longest wait (s)",
        "transferred": "Transferred", "callbacks": "Callbacks asked for",
        "within": "answered within {0} s", "by_day": "Calls by day", "by_month": "Calls by month",
        "by_hour": "Calls by hour of the day", "topics": "Topics", "resolutions": "Resolutions",
        "calls": "Calls", "reports": "Detention reports", "accepted": "accepted",
        "median": "median time to acceptance (s)", "within_target": "accepted within the target",
        "none": "none",
    },
    "uk": {
        "title": "Гаряча лінія правової допомоги", "period": "Період",
        "timezone": "Часовий пояс", "total": "Усі лінії", "line": "Лінія",
        "offered": "Надійшло", "answered": "Відповіли", "abandoned": "Не дочекалися",
        "service_level": "Рівень обслуговування",
        "average_speed_of_answer": "Середній час до відповіді (с)",
        "average_handle_time": "Середня тривалість розмови (с)",
        "longest_wait": "Найдовше очікування (с)", "transferred": "Переведено",
        "callbacks": "Запити на зворотний дзвінок", "within": "відповіли протягом {0} с",
        "by_day": "Дзвінки за днями", "by_month": "Дзвінки за місяцями",
        "by_hour": "Дзвінки за годинами доби", "topics": "Теми", "resolutions": "Результати",
        "calls": "Дзвінки", "reports": "Повідомлення про затримання", "accepted": "прийнято",
        "median": "медіанний час до прийняття (с)", "within_target": "прийнято в межах норми",
        "none": "немає",
    },
    "ka": {
        "title": "სამართლებრივი დახმარების ცხელი ხაზი", "period": "პერიოდი",
        "timezone": "სასაათო სარტყელი", "total": "ყველა ხაზი", "line": "ხაზი",
        "offered": "შემოსული", "answered": "ნაპასუხები", "abandoned": "მიტოვებული",
        "service_level": "მომსახურების დონე",
        "average_speed_of_answer": "პასუხის საშუალო დრო (წმ)",
        "average_handle_time": "საუბრის საშუალო ხანგრძლივობა (წმ)",
        "longest_wait": "ყველაზე ხანგრძლივი ლოდინი (წმ)", "transferred": "გადამისამართებული",
        "callbacks": "უკუზარის მოთხოვნები", "within": "ნაპასუხები {0} წამში",
        "by_day": "ზარები დღეების მიხედვით", "by_month": "ზარები თვეების მიხედვით",
        "by_hour": "ზარები დღის საათების მიხედვით", "topics": "თემები",
        "resolutions": "შედეგები", "calls": "ზარები", "reports": "დაკავების შეტყობინებები",
        "accepted": "მიღებული", "median": "მიღებამდე მედიანური დრო (წმ)",
        "within_target": "მიღებული ნორმის ფარგლებში", "none": "არა",
    },
    "ru": {
        "title": "Горячая линия правовой помощи", "period": "Период",
        "timezone": "Часовой пояс", "total": "Все линии", "line": "Линия",
        "offered": "Поступило", "answered": "Отвечено", "abandoned": "Не дождались",
        "service_level": "Уровень обслуживания",
        "average_speed_of_answer": "Среднее время до ответа (с)",
        "average_handle_time": "Средняя длительность разговора (с)",
        "longest_wait": "Самое долгое ожидание (с)", "transferred": "Переведено",
        "callbacks": "Запросы обратного звонка", "within": "отвечено в течение {0} с",
        "by_day": "Звонки по дням", "by_month": "Звонки по месяцам",
        "by_hour": "Звонки по часам суток", "topics": "Темы", "resolutions": "Результаты",
        "calls": "Звонки", "reports": "Сообщения о задержании", "accepted": "принято",
        "median": "медианное время до принятия (с)", "within_target": "принято в пределах нормы",
        "none": "нет",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Period:
    """A month (``2026-11``) or a year (``2026``) in a time zone."""

    name: str
    since: datetime
    until: datetime
    by: stats.Period

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> Period:
        """``YYYY-MM`` or ``YYYY``; ValueError naming the shape otherwise."""
        try:
            if len(text) == 7:
                first = date.fromisoformat(f"{text}-01")
                after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
                by: stats.Period = "day"
            elif len(text) == 4:
                first = date(int(text), 1, 1)
                after = date(first.year + 1, 1, 1)
                by = "month"
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"{text!r} is not a month (2026-11) or a year (2026)") from None
        start = datetime.combine(first, time(), tzinfo=zone)
        return cls(text, start, datetime.combine(after, time(), tzinfo=zone), by)


@dataclass(frozen=True)
class Report:
    """What the PDF and the CSV show."""

    organisation: str
    language: str
    period: Period
    figures: dict[str, Any]
    #: Calls by hour of the day (local), 0-23.
    hours: dict[int, dict[str, Any]]
    callbacks: int
    #: The lines' names in the report's language (by line id).
    titles: dict[str, str] = field(default_factory=dict)

    def label(self, key: str) -> str:
        return LABELS.get(self.language, LABELS["en"]).get(key) or LABELS["en"][key]


def make(
    organisation: str,
    language: str,
    period: Period,
    calls: Iterable[stats.Queued],
    reported: Iterable[stats.Reported],
    callbacks: int,
    threshold: float,
    now: datetime,
    titles: dict[str, str] | None = None,
) -> Report:
    """The report of ``calls`` (those that joined a queue in the period)."""
    calls = list(calls)
    zone = period.since.tzinfo
    assert isinstance(zone, ZoneInfo)
    figures = stats.compute(calls, period.since, period.until, threshold, period.by, zone)
    figures["reports"] = stats.reports(reported, now)
    by_hour = [stats.Figures() for _ in range(24)]
    for call in calls:
        by_hour[call.queued.astimezone(zone).hour].add(call, threshold)
    hours = {hour: f.as_json() for hour, f in enumerate(by_hour)}
    return Report(organisation, language, period, figures, hours, callbacks, titles or {})


def rows(report: Report) -> Iterator[tuple[str, str, str, Any]]:
    """The report as ``(section, key, figure, value)`` rows."""
    f = report.figures
    yield ("period", "", "from", f["from"])
    yield ("period", "", "to", f["to"])
    yield ("period", "", "timezone", f["timezone"])
    yield ("period", "", "threshold", f["threshold"])
    for name in CALL_FIGURES:
        yield ("total", "", name, f["total"][name])
    yield ("total", "", "callbacks", report.callbacks)
    for line, figures in f["lines"].items():
        for name in CALL_FIGURES:
            yield ("line", line, name, figures[name])
    for period in f["periods"]:
        for name in ("offered", "answered", "abandoned", "service_level"):
            yield (f["by"], period["start"][:10], name, period[name])
    for hour, figures in report.hours.items():
        for name in ("offered", "answered", "abandoned"):
            yield ("hour", f"{hour:02d}", name, figures[name])
    for section in ("topics", "resolutions"):
        for key, wrapped in f[section].items():
            yield (section[:-1], key, "calls", wrapped["calls"])
            yield (section[:-1], key, "average_handle_time", wrapped["average_handle_time"])
    reports = f["reports"]
    for name in ("reports", "accepted", "open", "within_target"):
        yield ("reports", "", name, reports[name])
    yield ("reports", "", "time_to_acceptance_p50", reports["time_to_acceptance"]["p50"])


def as_json(report: Report) -> dict[str, Any]:
    """The report as one JSON object: whose (the organisation's name) and which period, then
    the call log's figures (the shape of /api/stats: from, to, timezone, threshold, total,
    lines, by, periods, topics, resolutions, reports), the callbacks, the calls by hour of
    the day ("00" to "23") and the lines' names in the report's language."""
    return {
        "name": report.organisation,
        "period": report.period.name,
        "language": report.language,
        **report.figures,
        "callbacks": report.callbacks,
        "hours": {f"{hour:02d}": figures for hour, figures in report.hours.items()},
        "titles": report.titles,
    }


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "key", "figure", "value"))
    for section, key, name, value in rows(report):
        writer.writerow((section, key, name, "" if value is None else value))
    return out.getvalue()


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name in ("service_level", "within_target"):
        return f"{value * 100:.0f}%"
    return f"{value:g}" if isinstance(value, float) else str(value)


def as_pdf(report: Report) -> bytes:
    """The PDF: a page of tables (totals, lines, reports), a page of plots (by day or month,
    by hour of the day), a page of topics and resolutions."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.backends.backend_pdf import PdfPages

    f, label = report.figures, report.label
    out = io.BytesIO()
    a4 = (8.27, 11.69)
    with PdfPages(out, metadata={"Title": f"{label('title')}: {report.organisation}"}) as pdf:
        # 1. the figures
        page = pyplot.figure(figsize=a4)
        page.text(0.06, 0.95, label("title"), size=15, weight="bold")
        page.text(0.06, 0.925, report.organisation, size=12)
        page.text(0.06, 0.9, f"{label('period')}: {report.period.name}   "
                  f"{label('timezone')}: {f['timezone']}", size=10)  # fmt: skip
        lines = list(f["lines"])
        header = [
            label("line"),
            label("total"),
            *(textwrap.fill(report.titles.get(n, n), 16) for n in lines),
        ]
        cells = [
            [label(name), _shown(name, f["total"][name]), *(
                _shown(name, f["lines"][line][name]) for line in lines)]
            for name in CALL_FIGURES
        ]  # fmt: skip
        cells.append([label("callbacks"), str(report.callbacks), *[""] * len(lines)])
        table = page.add_axes((0.04, 0.45, 0.92, 0.42))
        table.axis("off")
        first = 0.34
        widths = [first, *[(1 - first) / (len(header) - 1)] * (len(header) - 1)]
        drawn = table.table(
            cellText=cells, colLabels=header, colWidths=widths, loc="upper center", cellLoc="right"
        )
        drawn.auto_set_font_size(False)
        drawn.set_fontsize(7)
        drawn.scale(1, 1.5)
        for (row, column), cell in drawn.get_celld().items():
            if column == 0 or row == 0:
                cell.set_text_props(ha="left" if column == 0 else "center")
                cell.PAD = 0.03
            if row == 0:
                cell.set_height(cell.get_height() * 2)
        page.text(0.06, 0.58, label("service_level") + ": " + label("within").format(
            f"{f['threshold']:g}"), size=9)  # fmt: skip
        reports = f["reports"]
        said = (
            f"{label('reports')}: {reports['reports']}, {label('accepted')} "
            f"{reports['accepted']}; {label('median')}: "
            f"{_shown('p50', reports['time_to_acceptance']['p50'])}; "
            f"{label('within_target')}: {_shown('within_target', reports['within_target'])}"
        )
        page.text(0.06, 0.5, textwrap.fill(said, 80), size=10)
        pdf.savefig(page)
        pyplot.close(page)
        # 2. when they called
        page, (days, hours) = pyplot.subplots(2, 1, figsize=a4)
        starts = [p["start"][: 7 if f["by"] == "month" else 10] for p in f["periods"]]
        days.bar(starts, [p["offered"] for p in f["periods"]], label=label("offered"))
        days.bar(starts, [p["answered"] for p in f["periods"]], label=label("answered"))
        days.set_title(label("by_month" if f["by"] == "month" else "by_day"))
        days.tick_params(axis="x", labelrotation=90, labelsize=7)
        days.legend()
        hour_names = [f"{h:02d}" for h in report.hours]
        hours.bar(hour_names, [h["offered"] for h in report.hours.values()])
        hours.set_title(label("by_hour"))
        page.tight_layout()
        pdf.savefig(page)
        pyplot.close(page)
        # 3. what they called about
        page, axes = pyplot.subplots(2, 1, figsize=a4)
        for ax, section in zip(axes, ("topics", "resolutions"), strict=True):
            named = sorted(f[section].items(), key=lambda kv: kv[1]["calls"])
            if named:
                ax.barh([k for k, _ in named], [w["calls"] for _, w in named])
            else:
                ax.text(0.5, 0.5, label("none"), ha="center")
            ax.set_title(f"{label(section)} ({label('calls')})")
        page.tight_layout()
        pdf.savefig(page)
        pyplot.close(page)
    return out.getvalue()


async def gather(
    store: Any, deployment: Any, organisation: str, period: Period, language: str, now: datetime
) -> Report:
    """The report of ``organisation``'s lines over ``period``, from the call log in ``store``
    (hotline.store.db.Store) as ``deployment`` (hotline.config.deployment.Deployment) says."""
    org = deployment.organisations[organisation]
    rows = await store.queued_calls(period.since, period.until)
    mine = [r for r in rows if r.line in org.lines and r.queued_at is not None]
    reported = [
        stats.from_report(n, events, deployment.notification_target(n.line))
        for n, events in await store.reports(period.since, period.until)
        if n.line in org.lines
    ]
    return make(
        org.name,
        language,
        period,
        (stats.from_row(r) for r in mine),
        reported,
        sum(1 for r in mine if r.callback_number),
        deployment.policy_of(organisation).service_level_threshold,
        now,
        {
            name: line.titles.get(language) or line.titles.get("en") or name
            for name, line in deployment.lines.items()
            if name in org.lines
        },
    )
