"""What callers and API clients get wrong, on the real Asterisk: caller ids that are empty,
anonymous or absurdly long, random and malformed key presses (SIP INFO), a number nobody
serves, and API requests with bad or huge parameters, headers and bodies. Each has a defined
answer, and the service keeps running.

(A caller waiting long past several announcements with nobody logged in, then hanging up:
test_queues.test_waiting_callers_hear_their_position.)"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from bench.sipcall import Info, Placed, SippCall
from tests.integration.conftest import Asterisk, Service

INFORMATION = ("0800213103", "14")  # Ukrainian, information
DETENTION = ("0800213103", "12")
VIEWER = "viewer-Tq8m-3zKx-bad-input"
#: PJSIP takes a caller number from the From URI's user part into a buffer of 80 bytes
#: (AST_CHANNEL_NAME): Asterisk hands the service at most 79 characters, and the service
#: keeps them all.
LONGEST_CALLER = 79


async def placed(number: str, keys: str, **options: Any) -> Placed:
    sipp = SippCall(number, keys, **options)
    while sipp.running:
        await asyncio.sleep(0.2)
    return sipp.wait()


def assert_healthy(service: Service) -> None:
    assert service.process is not None and service.process.poll() is None
    health = service.health()
    assert health["status"] == "ok", health
    assert "Traceback" not in service.log.read_text()


def assert_no_channel_left(asterisk: Asterisk, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while asterisk.active_channels():
        assert time.monotonic() < deadline, asterisk.channels()
        time.sleep(0.5)


# -- caller ids -----------------------------------------------------------------------------
async def test_empty_anonymous_and_overlong_caller_ids(
    asterisk: Asterisk, service: Service
) -> None:
    service.settings["HOTLINE_API_TOKENS"] = f"viewer={VIEWER}"
    service.start()
    overlong = ("380" + "1234567890" * 20)[:200]
    calls = {
        # From: <sip:127.0.0.2:port>: no user part, no number
        "empty": placed(*INFORMATION, caller="", name="", hold_ms=15_000),
        # RFC 3261's anonymous From; the trunk is known by its address, not by its From
        "anonymous": placed(
            *DETENTION,
            caller="anonymous",
            name="Anonymous",
            from_host="anonymous.invalid",
            hold_ms=15_000,
        ),
        "overlong": placed(*INFORMATION, caller=overlong, hold_ms=15_000),
    }
    tasks = {kind: asyncio.create_task(coro) for kind, coro in calls.items()}

    # while they wait: the supervisor sees what Asterisk gave, a viewer sees it masked
    deadline = time.monotonic() + 40
    while True:
        queues = service.get("/api/queues")
        waiting = [w for line in queues.values() for w in line["waiting"]]
        if len(waiting) == 3:
            break
        assert time.monotonic() < deadline, queues
        await asyncio.sleep(0.3)
    full = sorted(w["caller"] for w in waiting)
    assert full == sorted(["unknown", "anonymous", overlong[:LONGEST_CALLER]])
    as_viewer = service.get_as(VIEWER, "/api/queues")
    assert as_viewer.status_code == 200, as_viewer.text
    masked = sorted(w["caller"] for line in as_viewer.json().values() for w in line["waiting"])
    # no digit, nothing to hide: "unknown" and "anonymous" read as they are
    cut = overlong[:LONGEST_CALLER]
    assert masked == sorted(["unknown", "anonymous", "*" * (len(cut) - 2) + cut[-2:]])

    done = {kind: await task for kind, task in tasks.items()}
    records = {kind: service.record(p.call_id) for kind, p in done.items()}
    for kind, record in records.items():
        assert done[kind].returncode == 0, done[kind].output
        assert record["path"] == ["language:1", "main:" + ("2" if kind == "anonymous" else "4")]
    # no number: Asterisk's word for it, in the record and for the dialplan
    assert (records["empty"]["caller"], records["empty"]["line"]) == ("unknown", "information")
    assert records["empty"]["outcome"] == "abandoned"
    # anonymous: said so; a detention caller who hangs up is called back, but there is no
    # number to call: the call ends abandoned, without a callback
    anonymous = records["anonymous"]
    assert (anonymous["caller"], anonymous["caller_name"]) == ("anonymous", "Anonymous")
    assert (anonymous["line"], anonymous["outcome"], anonymous["callback_number"]) == (
        "detention",
        "abandoned",
        None,
    )
    # 200 characters: the first 79 (Asterisk's limit), whole in the record and searchable
    long_record = records["overlong"]
    assert long_record["caller"] == overlong[:LONGEST_CALLER]
    assert long_record["outcome"] == "abandoned"
    found = service.get("/api/calls", caller=overlong[:LONGEST_CALLER])
    assert [c["id"] for c in found] == [long_record["id"]]

    # the service's own log masks them too (the last two digits, as a viewer sees them)
    log = service.log.read_text()
    assert overlong[:12] not in log
    assert f"from {'*' * (len(cut) - 2)}{cut[-2:]}:" in log
    assert_healthy(service)


# -- keys -----------------------------------------------------------------------------------
#: INFO bodies no keypad sends. Asterisk's res_pjsip_dtmf_info answers 500 to a signal it
#: cannot read (Z, empty, 99, no Signal line) and passes the rest on: 16 is a flash, 10 is
#: '*' and 12 'A' (RFC 4733's event numbers), application/dtmf carries the bare key.
ODD_INFO = (
    Info.signal("Z"),
    Info.signal(""),
    Info.signal("99"),
    Info.signal("16"),
    Info.signal("10"),
    Info.signal("12"),
    Info.signal("5", duration="-1"),
    Info("Duration=160\r\n"),
    Info("no signal here"),
    Info("7", "application/dtmf"),
)
KEY = st.one_of(
    st.sampled_from("0123456789*#ABCD"),
    st.just("w"),  # a longer gap
    st.sampled_from(ODD_INFO),
)
CALLER = st.tuples(
    st.sampled_from(["0800213103", "0322920055", "2145145"]),
    st.lists(KEY, max_size=10),
    st.sampled_from([150, 400, 900, 1600]),  # ms between two keys
)
#: How a call may end when keys are random: on a line (waited, then hung up; or a callback
#: asked for), or in the menus (the caller hung up first, or the menu said goodbye).
ENDS = {"abandoned", "hung-up", "finished", "after-hours"}


def test_random_and_malformed_keys_end_on_a_line_or_a_goodbye(
    asterisk: Asterisk, service: Service
) -> None:
    service.start()
    served: list[dict[str, Any]] = []

    @given(callers=st.lists(CALLER, min_size=3, max_size=3))
    @example(
        callers=[
            ("0800213103", [*ODD_INFO[:5], "1", *ODD_INFO[5:], "4"], 400),
            ("0800213103", ["A", "B", "C", "D", "#", "*", "1", "9", "0"], 150),
            ("0322920055", [Info.signal("16"), "2"], 900),
        ]
    )
    @settings(
        max_examples=4,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # a failing example is reported as it is
        suppress_health_check=list(HealthCheck),
    )
    def random_callers(callers: list[tuple[str, list[str | Info], int]]) -> None:
        sipps = [
            SippCall(number, keys, gap_ms=gap, hold_ms=4000, timeout_s=200)
            for number, keys, gap in callers
        ]
        for sipp, (number, keys, _) in zip(sipps, callers, strict=True):
            done = sipp.wait()
            assert done.returncode == 0, (number, keys, done.output)
            record = service.record(done.call_id, wait=30)
            ended = record["outcome"] or "callback pending"
            assert ended in ENDS or record["callback_number"], (number, keys, record)
            if ended in ("abandoned", "callback pending"):
                assert record["line"] is not None, (number, keys, record)
            served.append(record)
        assert_no_channel_left(asterisk)
        assert_healthy(service)

    random_callers()
    assert len(served) >= 15
    # whatever was sent, the menus heard only keys of a keypad (or nothing)
    heard = {step.split(":")[1] for record in served for step in record["path"]}
    assert heard <= set("0123456789*#ABCD") | {"timeout"}, heard
    # the first example: the odd signals Asterisk read (10 is '*', a 5 of a negative
    # duration is a 5, the bare 7) reached the menus, the rest did not (Z, empty, 99, a flash,
    # 12, no signal): its 5 took it to the centres' menu, where 7 and 4 are wrong keys
    assert served[0]["path"] == [
        "language:*",
        "language:1",
        "main:5",
        "centres:7",
        "centres:4",
    ], served[0]


# -- numbers --------------------------------------------------------------------------------
async def test_an_unknown_number_gets_the_apology_and_a_hangup(
    asterisk: Asterisk, service: Service
) -> None:
    service.start()
    mark = asterisk.log_mark()
    started = time.monotonic()
    done = await placed("0999999999", "", hold_ms=60_000)
    assert done.returncode == 0, done.output  # Asterisk hung up (SIPp answered its BYE)
    assert time.monotonic() - started < 40  # long before the caller would have
    record = service.record(done.call_id)
    assert (record["number"], record["outcome"], record["line"]) == (
        "0999999999",
        "unknown-number",
        None,
    )
    assert [e["kind"] for e in record["events"]] == ["call.started", "call.ended"]
    heard = asterisk.played(record["channel"], mark)
    languages = ["uk", "en", "ru", "ka"]  # every organisation's, in the config's order
    assert heard == [f"hotline/{lang}/unknown-number" for lang in languages], heard
    assert "unknown number '0999999999'" in service.log.read_text()
    assert_healthy(service)


# -- the API --------------------------------------------------------------------------------
def raw_http(service: Service, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (httpx refuses what is tested here); the status and the body."""
    with socket.create_connection(("127.0.0.1", service.api_port), timeout=10) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the whole request was sent
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def get_request(service: Service, target: str, *headers: str) -> bytes:
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: 127.0.0.1:{service.api_port}",
        f"Authorization: Bearer {service.token}",
        "Connection: close",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def named(reply: httpx.Response | tuple[int, bytes], parameter: str) -> bool:
    """A 422 whose first error is about ``parameter``."""
    status, body = (
        (reply.status_code, reply.content) if isinstance(reply, httpx.Response) else reply
    )
    if status != 422:
        return False
    error = json.loads(body)
    return bool(
        error["errors"][0]["loc"] == ["query", parameter]
        and error["detail"].startswith(f"query parameter {parameter!r}: ")
    )


def chunks(size: int) -> Iterator[bytes]:
    for _ in range(size // 65536):
        yield b"x" * 65536


def test_bad_and_huge_api_requests_get_a_clear_4xx(service: Service) -> None:
    service.start()
    auth = {"Authorization": f"Bearer {service.token}"}

    def get(path: str, **params: Any) -> httpx.Response:
        return httpx.get(service.url(path), params=params, headers=auth, timeout=10)

    # bad values: a 422 naming the parameter
    assert named(get("/api/calls", limit=10**12), "limit")
    assert named(get("/api/calls", offset=-1), "offset")
    assert named(get("/api/calls", **{"from": "garbage"}), "from")
    assert named(get("/api/calls", outcome="exploded"), "outcome")
    assert named(get("/api/stats", tz="Mars/Olympus_Mons"), "tz")
    # a parameter no route has (a misspelt filter would otherwise list every call)
    reply = get("/api/calls", calller="380501234567")
    assert named(reply, "calller") and "caller" in reply.text, reply.text
    assert named(get("/api/queues", verbose="1"), "verbose")
    # long values: still the 422 naming them, without the value echoed back whole
    reply = get("/api/calls", caller="1" * 5000)
    assert named(reply, "caller") and len(reply.content) < 2000, reply.text[:300]
    reply = get("/api/calls", line="x" * 6000)
    assert named(reply, "line") and len(reply.content) < 2000, reply.text[:300]
    # a request target over 8 KiB: 414. Over 16 KiB h11 may get there first, when the head
    # arrives in pieces, with its 400: either way a clear refusal, and nothing runs
    assert get("/api/calls", caller="1" * 10_000).status_code == 414
    for target in ("/api/calls?caller=" + "1" * 100_000, "/api/calls?line=" + "x" * 65_536):
        assert raw_http(service, get_request(service, target))[0] in (400, 414)
    # headers over 12 KiB: 431 (in one header or many; over 16 KiB, h11's 400 may come first)
    assert raw_http(service, get_request(service, "/api/calls", "X-Big: " + "a" * 14_000))[0] == 431
    many = [f"X-Header-{n}: {'b' * 100}" for n in range(130)]
    assert raw_http(service, get_request(service, "/api/calls", *many))[0] == 431
    huge = raw_http(service, get_request(service, "/api/calls", "X-Big: " + "a" * 2**20))
    assert huge[0] in (400, 431)
    # a body nobody reads: 10 MB to an action route, declared or chunked: 413, nothing done
    big = httpx.post(
        service.url("/api/agents/op1/login"), headers=auth, content=b"x" * 10**7, timeout=30
    )
    assert big.status_code == 413, big.text
    chunked = httpx.post(
        service.url("/api/agents/op1/login"), headers=auth, content=chunks(10**7), timeout=30
    )
    assert chunked.status_code == 413, chunked.text
    assert service.agent("op1")["state"] == "logged_out"
    huge_login = httpx.post(service.url("/api/session"), json={"token": "t" * 10**6}, timeout=30)
    assert huge_login.status_code == 413
    # a malformed request: 400 from the HTTP layer
    bad = get_request(service, "/api/calls", "Content-Length: lots")
    assert raw_http(service, bad)[0] == 400

    # and the service goes on
    assert get("/api/calls").status_code == 200
    assert service.post("/api/agents/op1/login").status_code == 200
    assert_healthy(service)
