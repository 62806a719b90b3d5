"""The service's queue_log (HOTLINE_QUEUE_LOG) on the real sandbox, beside app_queue's own.

The same calls go to the service (0800213103, keys 1 1: the consultation line, op3) and to
the bench's baseline installed in the same Asterisk (0800213199, keys 1 4: app_queue, op4 as a
dynamic member): an operator logs in, answers a caller and hangs up after talking, pauses
(training), a caller gives up waiting, the operator resumes and logs out. The service's file
says so line by line; Asterisk's queue_log says the same in app_queue's words, and for every
event both write, each line has as many fields, of the same kinds (an epoch, numbers where
app_queue writes numbers, a channel's uniqueid where it writes one). And the figures the
service reports (`/api/stats`, the monthly report) count what its queue_log says.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.arms import BASELINE_NUMBER, BASELINE_QUEUE, install_baseline
from bench.sipcall import SoftPhone
from hotline.privacy import mask
from tests.integration.conftest import WORKING_HOURS, Asterisk, Service, call

CONSULTATION = ("0800213103", "11")
CALLER = "380501234567"
UNIQUEID = re.compile(r"\d+\.\d+")


def fields_of(path: Path, since: int = 0) -> list[list[str]]:
    with path.open("rb") as text:
        text.seek(since)
        return [line.split("|") for line in text.read().decode().splitlines()]


def kind(value: str) -> str:
    """What app_queue writes in a field: a number, a channel's uniqueid, nothing, or text."""
    if not value:
        return "empty"
    if value.isdigit():
        return "number"
    return "uniqueid" if UNIQUEID.fullmatch(value) else "text"


def shape(fields: list[str]) -> list[str]:
    """A line's kinds of fields (the caller's number aside: masked in the service's)."""
    kinds = [kind(f) for f in fields]
    if fields[4] == "ENTERQUEUE":
        kinds[6] = "caller"
    return kinds


def times_add_up(lines: list[list[str]]) -> None:
    """Each call's hold, talk and wait are the differences of its lines' epochs, as app_queue
    counts them (``time(NULL) - qe->start``)."""
    at = {(f[1], f[4]): int(f[0]) for f in lines}
    for f in lines:
        call, event = f[1], f[4]
        if event == "CONNECT":
            assert int(f[5]) == at[call, "CONNECT"] - at[call, "ENTERQUEUE"], f
        elif event.startswith("COMPLETE"):
            assert int(f[5]) == at[call, "CONNECT"] - at[call, "ENTERQUEUE"], f
            assert int(f[6]) == at[call, event] - at[call, "CONNECT"], f
        elif event == "ABANDON":
            assert int(f[7]) == at[call, "ABANDON"] - at[call, "ENTERQUEUE"], f


async def through_the_service(service: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    service.login("op3")
    answered = service.record((await call(*CONSULTATION, hold_ms=60_000)).call_id)
    assert service.post("/api/agents/op3/pause", reason="training").status_code == 200
    abandoned = service.record((await call(*CONSULTATION, hold_ms=6000)).call_id)
    assert service.post("/api/agents/op3/resume").status_code == 200
    assert service.post("/api/agents/op3/logout").status_code == 200
    return answered, abandoned


async def through_app_queue(asterisk: Asterisk) -> None:
    def cli(command: str) -> None:
        done = asterisk.sandbox.cli(command)
        assert done.returncode == 0, done

    def waiting() -> int:
        shown = asterisk.sandbox.cli(f"queue show {BASELINE_QUEUE}").stdout
        found = re.search(r"has (\d+) calls", shown)
        return int(found.group(1)) if found else 0

    cli(f"queue add member PJSIP/op4 to {BASELINE_QUEUE} penalty 0 as op4")
    placed = await call(BASELINE_NUMBER, "14", hold_ms=60_000)
    assert placed.returncode == 0, placed.output
    cli(f"queue pause member PJSIP/op4 queue {BASELINE_QUEUE} reason training")
    await call(BASELINE_NUMBER, "14", hold_ms=6000)
    deadline = time.monotonic() + 10
    while waiting():  # (app_queue logs the abandon as the caller's channel goes)
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    cli(f"queue unpause member PJSIP/op4 queue {BASELINE_QUEUE}")
    cli(f"queue remove member PJSIP/op4 from {BASELINE_QUEUE}")


async def test_the_queue_log_reads_as_app_queues(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone], tmp_path: Path
) -> None:
    install_baseline(asterisk.sandbox)
    theirs = asterisk.sandbox.root / "var/log/asterisk/queue_log"
    mark = theirs.stat().st_size if theirs.exists() else 0
    ours = tmp_path / "log/queue_log"
    service.settings["HOTLINE_QUEUE_LOG"] = str(ours)
    service.start()
    phone("op3", talk_ms=3000)  # the service's lawyer
    phone("op4", talk_ms=3000)  # app_queue's member (never logged in to the service)
    (answered, abandoned), _ = await asyncio.gather(
        through_the_service(service), through_app_queue(asterisk)
    )
    assert (answered["outcome"], abandoned["outcome"]) == ("answered", "abandoned")
    a, b = answered["id"], abandoned["id"]

    # the service's file: what happened, in app_queue's words
    lines = fields_of(ours)
    assert ours.stat().st_mode & 0o777 == 0o600
    start = int(datetime.fromisoformat(WORKING_HOURS).timestamp())  # the service's clock
    assert all(start <= int(f[0]) < start + 600 for f in lines), lines
    assert [f[1:5] for f in lines if f[2] in ("NONE", "consultation")] == [
        ["NONE", "NONE", "NONE", "QUEUESTART"],
        ["NONE", "consultation", "op3", "ADDMEMBER"],
        [a, "consultation", "NONE", "ENTERQUEUE"],
        [a, "consultation", "op3", "CONNECT"],
        [a, "consultation", "op3", "COMPLETEAGENT"],
        ["NONE", "consultation", "op3", "PAUSE"],
        [b, "consultation", "NONE", "ENTERQUEUE"],
        [b, "consultation", "NONE", "ABANDON"],
        ["NONE", "consultation", "op3", "UNPAUSE"],
        ["NONE", "consultation", "op3", "REMOVEMEMBER"],
    ]
    assert {f[2] for f in lines} == {"NONE", "consultation", "detention"}  # op3's two lines
    ours_by = {(f[1], f[4]): f[5:] for f in lines if f[2] != "detention"}
    assert ours_by[a, "ENTERQUEUE"] == ["", mask("+" + CALLER), "1"]  # (E.164, as logged)
    hold, peer, ring = ours_by[a, "CONNECT"]
    assert abs(int(hold) - answered["wait"]) <= 1 and UNIQUEID.fullmatch(peer) and peer != a
    assert int(ring) <= 2
    assert ours_by[a, "COMPLETEAGENT"][0] == hold and 2 <= int(ours_by[a, "COMPLETEAGENT"][1]) <= 6
    position, first, wait = ours_by[b, "ABANDON"]
    assert (position, first) == ("1", "1") and abs(int(wait) - abandoned["wait"]) <= 1
    assert (ours_by["NONE", "PAUSE"], ours_by["NONE", "UNPAUSE"]) == (["training"], [""])

    # app_queue's, from the same Asterisk: its own start, then the baseline queue's lines
    found = [f for f in fields_of(theirs) if f[4] == "QUEUESTART"][:1]
    found += [f for f in fields_of(theirs, mark) if f[2] == BASELINE_QUEUE]
    app_queue = {f[4]: f for f in found}
    print("app_queue:", *("|".join(f) for f in found), sep="\n  ")
    print("service:", *("|".join(f) for f in lines), sep="\n  ")
    both = {f[4] for f in lines} & set(app_queue)
    assert both == {
        "QUEUESTART",
        "ADDMEMBER",
        "ENTERQUEUE",
        "CONNECT",
        "COMPLETEAGENT",
        "PAUSE",
        "ABANDON",
        "UNPAUSE",
        "REMOVEMEMBER",
    }, found
    times_add_up(lines)
    times_add_up(found)
    for f in lines:
        if f[4] in both:
            assert shape(f) == shape(app_queue[f[4]]), (f, app_queue[f[4]])
    assert app_queue["ENTERQUEUE"][6] == CALLER  # app_queue's number whole, ours masked
    assert 2 <= int(app_queue["COMPLETEAGENT"][6]) <= 6  # the same talk
    assert (app_queue["PAUSE"][5], app_queue["UNPAUSE"][5]) == ("training", "")


INFORMATION = ("0800213103", "14")


async def test_the_figures_and_the_monthly_report_agree_with_the_queue_log(
    service: Service, phone: Callable[..., SoftPhone], tmp_path: Path
) -> None:
    """The same calls counted three ways: what QueueMetrics would read from the queue_log,
    `/api/stats`, and the organisation's monthly report (CSV) say the same per line: calls
    offered, answered and abandoned, the average answer time and the average talk."""
    ours = tmp_path / "log/queue_log"
    service.settings["HOTLINE_QUEUE_LOG"] = str(ours)
    service.start()
    phone("op3", talk_ms=3000)  # consultations
    phone("op1", talk_ms=5000)  # information
    service.login("op3", "op1")
    for _ in range(2):
        await call(*CONSULTATION, hold_ms=60_000)
        await call(*INFORMATION, hold_ms=60_000)
    assert service.post("/api/agents/op3/pause", reason="training").status_code == 200
    await call(*CONSULTATION, hold_ms=6000)  # nobody to answer: given up
    await asyncio.sleep(2)  # (the last call's end reaches the call log)

    # what a queue_log reader counts, per queue
    counted: dict[str, dict[str, Any]] = {}
    for f in fields_of(ours):
        if f[2] not in ("consultation", "information"):
            continue
        line = counted.setdefault(f[2], {"offered": 0, "answered": 0, "abandoned": 0,
                                         "holds": [], "talks": []})  # fmt: skip
        if f[4] == "ENTERQUEUE":
            line["offered"] += 1
        elif f[4] == "CONNECT":
            line["answered"] += 1
            line["holds"].append(int(f[5]))
        elif f[4] == "ABANDON":
            line["abandoned"] += 1
        elif f[4].startswith("COMPLETE"):
            line["talks"].append(int(f[6]))
    assert {k: (v["offered"], v["answered"], v["abandoned"]) for k, v in counted.items()} == {
        "consultation": (3, 2, 1),
        "information": (2, 2, 0),
    }

    figures = service.get("/api/stats")["lines"]
    report_csv = service.get_as(
        service.token, "/api/v1/report", period="2026-11", format="csv",
        organisation="ua-legal-aid",
    )  # fmt: skip
    assert report_csv.status_code == 200, report_csv.text
    reported = {
        (row["key"], row["figure"]): row["value"]
        for row in csv.DictReader(io.StringIO(report_csv.text))
        if row["section"] == "line"
    }
    for line, seen in counted.items():
        for name in ("offered", "answered", "abandoned"):
            assert figures[line][name] == seen[name], (line, name, figures[line])
            assert int(reported[line, name]) == seen[name], (line, name, reported)
        hold = sum(seen["holds"]) / len(seen["holds"])
        talk = sum(seen["talks"]) / len(seen["talks"])
        # (the queue_log's seconds are whole: each within one second)
        assert abs(figures[line]["average_speed_of_answer"] - hold) <= 1, (line, figures)
        assert abs(figures[line]["average_handle_time"] - talk) <= 1, (line, figures)
        assert abs(float(reported[line, "average_speed_of_answer"]) - hold) <= 1, reported
        assert abs(float(reported[line, "average_handle_time"]) - talk) <= 1, reported
