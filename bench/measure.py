"""The measurements, each run the same way on either arm. Every one returns plain data
(JSON-ready); the report compares the arms. One section per part, (1) to (8), hence over
400 lines."""

from __future__ import annotations

import math
import random
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.arms import Arm, BaselineArm, Lab, ServiceArm, usage
from bench.sipp import LoadResult, Message, caller_xml, read_messages, run_load, start_caller
from routing import estimate, simulate

# After the 200 OK, before the first key. Answer() waits up to 500 ms for the caller's first
# media frame (a real phone sends RTP at once, SIPp none); a key that ends that wait is
# emulated, and a second key arriving during the emulation was seen lost (1 in 200).
FIRST_MS = 700
GAP_MS = 300  # between keys: the next menu has started
KEYS = "14"  # Ukrainian, then the information line


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (linear interpolation); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _usage_of(lab: Lab, arm: Arm) -> dict[str, Any]:
    pid = arm.pid()
    return {
        "asterisk": usage(lab.asterisk_pid()),
        "service": usage(pid) if pid else None,
    }


def _per_call(before: dict[str, Any], after: dict[str, Any], calls: int, what: str) -> Any:
    out: dict[str, float | None] = {}
    for proc in ("asterisk", "service"):
        b, a = before[proc], after[proc]
        if b is None or a is None or not calls:
            out[proc] = None
        else:
            value = (getattr(a, what) - getattr(b, what)) / calls
            out[proc] = round(value, 3)
    return out


# -- (1) the call-rate ceiling ----------------------------------------------------------------
def ceiling(lab: Lab, arm: Arm, rates: list[float], step_s: float) -> dict[str, Any]:
    """Ramp the call rate; each step is ``step_s`` of calls that go through the menu to the
    queue (nobody logged in), stay 1.5 s and hang up. Stops at the first step with a failure."""
    scenario = caller_xml(
        lab.workdir, arm.number, KEYS, first_ms=FIRST_MS, gap_ms=GAP_MS, hold_ms=1500
    )
    steps = []
    for rate in rates:
        calls = max(1, round(rate * step_s))
        before = _usage_of(lab, arm)
        result: LoadResult = run_load(
            lab.workdir,
            scenario,
            rate=rate,
            calls=calls,
            timeout_s=int(step_s) + 60,
            processes=lab.processes,
        )
        # the CPU of a call includes what it leaves behind: its channels' end in Asterisk and
        # the call log's writes, which the service does behind the call (its spool)
        left = lab.drain()
        if isinstance(arm, ServiceArm):
            arm.wait_call_log()
        after = _usage_of(lab, arm)
        step = {
            "rate": rate,
            "calls": calls,
            "failed": result.failed + left,
            "rtt_p50_ms": quantile(result.rtts_ms, 0.5),
            "rtt_p99_ms": quantile(result.rtts_ms, 0.99),
            "cpu_ms_per_call": _per_call(before, after, calls, "cpu_ms"),
        }
        steps.append(step)
        lab.progress(
            f"  {arm.name} ceiling: {rate:g}/s x {calls}: {step['failed']} failed, "
            f"INVITE->200 p99 {_ms(step['rtt_p99_ms'])}, CPU/call "
            f"asterisk {step['cpu_ms_per_call']['asterisk']} ms, "
            f"service {step['cpu_ms_per_call']['service']} ms"
        )
        if step["failed"]:
            break
        time.sleep(1)
    clean = [s for s in steps if not s["failed"]]
    best = clean[-1] if clean else None
    return {
        "steps": steps,
        "ceiling": best["rate"] if best else 0,
        "rtt_p99_ms": best["rtt_p99_ms"] if best else None,
        "cpu_ms_per_call": best["cpu_ms_per_call"] if best else None,
        "limit_reached": len(clean) < len(steps),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


# -- (2) key press -> the operator's phone rings ---------------------------------------------
def _last_info(messages: list[Message]) -> float | None:
    infos = [m.at for m in messages if m.sent and m.request == "INFO"]
    return infos[-1] if infos else None


def ring(lab: Lab, arm: Arm, calls: int) -> dict[str, Any]:
    """One caller at a time, two free operators: from the caller's last key (SIP INFO sent)
    to an operator's INVITE received. The path includes the 'please hold' prompt (3.3 s),
    played in both arms."""
    phones = lab.start_phones(2, ring_ms=0, talk_ms=300)
    arm.login([p.user for p in phones])
    folder = lab.workdir / f"ring-{arm.name}"
    folder.mkdir(exist_ok=True)
    scenario = caller_xml(folder, arm.number, KEYS, first_ms=FIRST_MS, gap_ms=GAP_MS, hold_ms=15000)
    failed = 0
    try:
        for n in range(calls):
            process = start_caller(folder, scenario, f"ring-{n}", timeout_s=30)
            lab.processes.append(process)
            failed += process.wait(60) != 0
            lab.processes.remove(process)
            time.sleep(0.2)
    finally:
        arm.logout([p.user for p in phones])
        invites = [m.at for p in phones for m in p.log() if not m.sent and m.request == "INVITE"]
        lab.stop_phones()
    invites.sort()
    samples = []
    for n in range(calls):
        pressed = _last_info(read_messages([folder / f"ring-{n}.messages.log"]))
        rung = next((t for t in invites if pressed is not None and t > pressed), None)
        if pressed is not None and rung is not None:
            samples.append((rung - pressed) * 1000)
    lab.drain()
    out: dict[str, Any] = {
        "calls": calls,
        "failed": failed,
        "samples_ms": [round(s, 3) for s in samples],
        "p50_ms": quantile(samples, 0.5),
        "p99_ms": quantile(samples, 0.99),
    }
    lab.progress(
        f"  {arm.name} key->ring: p50 {_ms(out['p50_ms'])} p99 {_ms(out['p99_ms'])} "
        f"({len(samples)} calls, {failed} failed)"
    )
    return out


# -- (3) callers held in the queue ------------------------------------------------------------
class _Background:
    """A SIPp load run in a thread while the bench watches."""

    def __init__(self, run: Callable[[], LoadResult]) -> None:
        self.result: LoadResult | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.result = run()
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def join(self) -> LoadResult:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def _waiting(arm: Arm) -> int:
    assert isinstance(arm, BaselineArm | ServiceArm)
    return arm.waiting()


def _wait_queued(arm: Arm, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = _waiting(arm)
        if seen >= count:
            break
        time.sleep(0.5)
    return seen


def queue(lab: Lab, arm: Arm, callers: int, rate: float) -> dict[str, Any]:
    """``callers`` callers go through the menu and wait (nobody logged in): failures,
    INVITE->200 of the first and the last tenth, memory per waiting caller."""
    ramp = callers / rate
    scenario = caller_xml(
        lab.workdir,
        arm.number,
        KEYS,
        first_ms=FIRST_MS,
        gap_ms=GAP_MS,
        hold_ms=int((ramp + 25) * 1000),
    )
    before = _usage_of(lab, arm)
    load = _Background(
        lambda: run_load(
            lab.workdir,
            scenario,
            rate=rate,
            calls=callers,
            timeout_s=int(ramp) + 120,
            processes=lab.processes,
        )
    )
    queued = _wait_queued(arm, callers, ramp + 20)
    full = _usage_of(lab, arm)
    channels = lab.channels()
    result = load.join()
    left = lab.drain()
    rtts = result.rtts_ms
    tenth = max(1, len(rtts) // 10)
    first, last = quantile(rtts[:tenth], 0.5), quantile(rtts[-tenth:], 0.5)
    memory = _per_call(before, full, callers, "rss_kb")
    out = {
        "callers": callers,
        "queued": queued,
        "channels": channels,
        "failed": result.failed + left,
        "rtt_first_tenth_p50_ms": first,
        "rtt_last_tenth_p50_ms": last,
        "rtt_p99_ms": quantile(rtts, 0.99),
        "rss_kb_per_call": memory,
    }
    lab.progress(
        f"  {arm.name} queue: {queued}/{callers} waiting at once, {out['failed']} failed, "
        f"INVITE->200 p50 first tenth {_ms(first)}, last tenth {_ms(last)}; "
        f"RSS/caller asterisk {memory['asterisk']} kB, service {memory['service']} kB"
    )
    return out


# -- (4) dispatch: an operator is free -> their phone rings ----------------------------------
def dispatch(lab: Lab, arm: Arm, callers: int) -> dict[str, Any]:
    """A queue full of callers, eight operators who talk 1 s and hang up: from an operator's
    BYE sent to the next INVITE that reaches them."""
    phones = lab.start_phones(8, ring_ms=0, talk_ms=1000)
    scenario = caller_xml(
        lab.workdir, arm.number, KEYS, first_ms=FIRST_MS, gap_ms=GAP_MS, hold_ms=180_000
    )
    rate = 20.0
    load = _Background(
        lambda: run_load(
            lab.workdir, scenario, rate=rate, calls=callers, timeout_s=240, processes=lab.processes
        )
    )
    try:
        queued = _wait_queued(arm, callers, callers / rate + 20)
        arm.login([p.user for p in phones])
        result = load.join()
    finally:
        arm.logout([p.user for p in phones])
        logs = {p.user: p.log() for p in phones}
        lab.stop_phones()
    samples = []
    for messages in logs.values():
        byes = [m.at for m in messages if m.sent and m.request == "BYE"]
        invites = [m.at for m in messages if not m.sent and m.request == "INVITE"]
        for bye in byes:
            following = next((t for t in invites if t > bye), None)
            if following is not None:
                samples.append((following - bye) * 1000)
    left = lab.drain()
    out: dict[str, Any] = {
        "callers": callers,
        "queued": queued,
        "failed": result.failed + left,
        "samples": len(samples),
        "samples_ms": [round(x, 3) for x in samples],
        "p50_ms": quantile(samples, 0.5),
        "p99_ms": quantile(samples, 0.99),
        "max_ms": max(samples, default=None),
    }
    lab.progress(
        f"  {arm.name} dispatch: p50 {_ms(out['p50_ms'])} p99 {_ms(out['p99_ms'])} "
        f"({len(samples)} hand-offs, {out['failed']} failed calls)"
    )
    return out


# -- (6) queueing against Erlang C -----------------------------------------------------------
def _idle_while_waiting(lab: Lab, arm: Arm) -> bool | None:
    """Whether some operator is idle while a caller they serve waits (None: unknown)."""
    try:
        if isinstance(arm, ServiceArm):
            lines = arm.get("/api/queues").values()
            return any(line["waiting"] and line["free"] for line in lines)
        # the CLI colours a member's state: strip the escapes before reading it
        text = re.sub(r"\x1b\[[0-9;]*m", "", lab.cli("queue show bench-information"))
        match = re.search(r"has (\d+) calls", text)
        idle = any("Not in use" in row and "paused" not in row for row in text.splitlines())
        return bool(match and int(match.group(1)) and idle)
    except Exception:
        return None


def poisson(
    lab: Lab,
    arm: Arm,
    calls: int,
    *,
    rate: float,
    talk_ms: int,
    servers: int,
    no_wait_ms: float,
    seed: int = 7,
) -> dict[str, Any]:
    """Poisson arrivals (one SIPp per caller, started at exponential gaps), ``servers``
    operators with exponential talk times: wait against Erlang C.

    A caller's wait is (operator's INVITE received - caller's last key sent - ``no_wait_ms``),
    where ``no_wait_ms`` is the same path measured with a free operator (key->ring p50)."""
    phones = lab.start_phones(servers, ring_ms=0, talk_ms=talk_ms, exponential=True)
    arm.login([p.user for p in phones])
    folder = lab.workdir / f"poisson-{arm.name}"
    folder.mkdir(exist_ok=True)
    # each caller has a number of its own, which Asterisk passes on in the operator's INVITE:
    # that pairs a caller's key press with the ring it led to
    scenario = caller_xml(
        folder,
        arm.number,
        KEYS,
        first_ms=FIRST_MS,
        gap_ms=GAP_MS,
        hold_ms=300_000,
        caller="[caller]",
    )
    chance = random.Random(seed)
    running: list[subprocess.Popen[bytes]] = []
    failed = 0
    samples = violations = 0
    sample_every = 0.1 if isinstance(arm, ServiceArm) else 0.5
    try:
        next_at = time.monotonic()
        next_sample = time.monotonic()
        started = 0
        while started < calls or running:
            now = time.monotonic()
            if started < calls and now >= next_at:
                process = start_caller(
                    folder, scenario, f"c{started}", timeout_s=320, caller=_number(started)
                )
                running.append(process)
                lab.processes.append(process)
                started += 1
                next_at += chance.expovariate(rate)
                if started % max(1, calls // 10) == 0:
                    lab.progress(f"  {arm.name} poisson: {started}/{calls} callers")
            for process in [p for p in running if p.poll() is not None]:
                failed += process.returncode != 0
                running.remove(process)
                lab.processes.remove(process)
            if now >= next_sample:
                idle = _idle_while_waiting(lab, arm)
                if idle is not None:
                    samples += 1
                    violations += idle
                next_sample = now + sample_every
            pause = min(next_at if started < calls else now + 0.05, next_sample) - time.monotonic()
            time.sleep(max(0.0, min(pause, 0.05)))
    finally:
        arm.logout([p.user for p in phones])
        logs = [m for p in phones for m in p.log()]
        lab.stop_phones()
    pressed_at = {
        _number(n): t
        for n in range(calls)
        if (t := _last_info(read_messages([folder / f"c{n}.messages.log"]))) is not None
    }
    rung_at: dict[str, float] = {}
    for m in sorted(logs, key=lambda m: m.at):
        if not m.sent and m.request == "INVITE":
            rung_at.setdefault(m.from_user, m.at)
    keys = sorted(pressed_at.values())
    waits = [
        max(0.0, (rung_at[number] - pressed) - no_wait_ms / 1000)
        for number, pressed in pressed_at.items()
        if number in rung_at
    ]
    by_call: dict[str, dict[str, float]] = {}
    for m in logs:
        entry = by_call.setdefault(m.call_id, {})
        if not m.sent and m.request == "INVITE":
            entry["invite"] = m.at
        elif m.sent and m.request == "BYE":
            entry["bye"] = m.at
    services = [e["bye"] - e["invite"] for e in by_call.values() if "bye" in e and "invite" in e]
    left = lab.drain()
    measured_rate = (len(keys) - 1) / (keys[-1] - keys[0]) if len(keys) > 1 else rate
    service = statistics.fmean(services) if services else talk_ms / 1000
    within = 20.0 * (talk_ms / 1000) / 30.0  # SL20 of a 30 s talk, time-scaled
    threshold = 0.05  # a wait under 50 ms is timing noise of a caller who did not wait
    theory = {
        "p_wait": estimate.erlang_c(servers, measured_rate * service),
        "avg_wait_s": estimate.mean_wait(servers, measured_rate, service),
        "service_level": estimate.service_level(servers, measured_rate, service, within),
    }
    measured = {
        "p_wait": sum(w > threshold for w in waits) / len(waits) if waits else None,
        "avg_wait_s": statistics.fmean(waits) if waits else None,
        "service_level": sum(w <= within for w in waits) / len(waits) if waits else None,
    }
    out = {
        "calls": calls,
        "failed": failed + left,
        "matched": len(waits),
        "servers": servers,
        "rate_per_s": measured_rate,
        "mean_service_s": service,
        "mean_talk_s": talk_ms / 1000,
        "sl_within_s": within,
        "no_wait_ms": no_wait_ms,
        "measured": measured,
        "erlang_c": theory,
        "avg_wait_error": (
            measured["avg_wait_s"] / theory["avg_wait_s"] - 1
            if measured["avg_wait_s"] is not None and 0 < theory["avg_wait_s"] < math.inf
            else None
        ),
        "idle_while_waiting": {"samples": samples, "violations": violations},
        "waits_s": [round(w, 4) for w in waits],
    }
    lab.progress(
        f"  {arm.name} poisson: {len(waits)} calls at {measured_rate:.2f}/s, service "
        f"{service:.2f} s: P(wait) {_fmt(measured['p_wait'])} vs {_fmt(theory['p_wait'])}, "
        f"avg wait {_fmt(measured['avg_wait_s'])} s vs {_fmt(theory['avg_wait_s'])} s, "
        f"SL{within:g}s {_fmt(measured['service_level'])} vs {_fmt(theory['service_level'])}; "
        f"idle-while-waiting {violations}/{samples} samples"
    )
    return out


# -- (7) a soak: many calls through menu, queue and operators ---------------------------------
def soak(lab: Lab, arm: Arm, calls: int, *, rate: float, operators: int) -> dict[str, Any] | None:
    """``calls`` callers at ``rate`` through the menu to the queue, answered by ``operators``
    softphones (no ring, 0.2 s of talk). The service's resident memory after the first tenth
    (the warm-up) and after each further tenth: what it keeps of calls that ended."""
    pid = arm.pid()
    if pid is None:
        return None  # the service's memory: nothing to measure in the baseline
    phones = lab.start_phones(operators, ring_ms=0, talk_ms=200)
    arm.login([p.user for p in phones])
    folder = lab.workdir / f"soak-{arm.name}"
    folder.mkdir(exist_ok=True)
    scenario = caller_xml(
        folder, arm.number, KEYS, first_ms=FIRST_MS, gap_ms=GAP_MS, hold_ms=20_000
    )
    chunk = max(1, calls // 10)
    rss_kb: list[int] = []
    failed = done = 0
    started = time.monotonic()
    try:
        while done < calls:
            size = min(chunk, calls - done)
            result = run_load(
                folder,
                scenario,
                rate=rate,
                calls=size,
                timeout_s=int(size / rate) + 120,
                processes=lab.processes,
            )
            failed += result.failed + lab.drain()
            if isinstance(arm, ServiceArm):
                arm.wait_call_log()
            done += size
            rss_kb.append(usage(pid).rss_kb)
            lab.progress(
                f"  {arm.name} soak: {done}/{calls} calls, {failed} failed, "
                f"service RSS {rss_kb[-1] / 1024:.1f} MB"
            )
    finally:
        arm.logout([p.user for p in phones])
        answered = sum(
            1
            for p in phones
            for m in p.log()
            if m.sent and m.first_line.startswith("SIP/2.0 200") and m.cseq.endswith("INVITE")
        )
        lab.stop_phones()
    warm = rss_kb[0]
    return {
        "calls": calls,
        "failed": failed,
        "answered": answered,
        "seconds": round(time.monotonic() - started, 1),
        "rss_kb": rss_kb,
        "growth": round((rss_kb[-1] - warm) / warm, 4) if warm else None,
    }


def _number(n: int) -> str:
    """The caller number of the n-th Poisson caller."""
    return f"38050{n:07d}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# -- (7) the queue's model: the step function simulated against the queueing formulas --------
def model(calls: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """One line against Erlang C, three priorities against the M/M/c priority formulas, each
    with ``calls`` simulated callers (the service's own step function on a virtual clock)."""
    line = simulate.Traffic("consultation", rate=0.75 * 4 / 180, talk=180)
    progress(f"  one line, 4 operators, 75% busy: {calls} callers")
    started = time.monotonic()
    waits = simulate.simulate([line], 4, calls, seed=1)["consultation"]
    one = {
        "simulated": {
            "p_wait": waits.p_wait(),
            "mean": waits.mean(),
            "within": waits.within(20),
        },
        "erlang_c": dict(simulate.erlang(line, 4, 20)),
        "seconds": time.monotonic() - started,
    }
    lines = [
        simulate.Traffic("detention", 0.15 * 4 / 180, 180, priority=100),
        simulate.Traffic("consultation", 0.30 * 4 / 180, 180, priority=10),
        simulate.Traffic("information", 0.15 * 4 / 180, 180, priority=5),
    ]
    progress(f"  three priorities, 4 operators, 60% busy: {calls} callers")
    started = time.monotonic()
    classes = simulate.simulate(lines, 4, calls, seed=1)
    return {
        "calls": calls,
        "one_line": one,
        "priorities": {
            "simulated": {name: w.mean() for name, w in classes.items()},
            "formula": simulate.priority_waits(lines, 4),
            "seconds": time.monotonic() - started,
        },
    }
