"""The bench's report: the service's AMI-path figures from /metrics, the comparison table
against the targets, latest.json, latest.md and a plot. (Over 400 lines: every part has its
rows and its targets.)"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from routing import estimate

Scrape = dict[str, list[tuple[str, dict[str, str], float]]]


# -- (5) the AMI path, from the service's /metrics ------------------------------------------
def _counter(scrapes: list[Scrape], family: str) -> float:
    return sum(
        value
        for scrape in scrapes
        for name, _, value in scrape.get(family, [])
        if name.endswith("_total")
    )


def same_rate_cpu(
    baseline: list[dict[str, Any]], service: list[dict[str, Any]]
) -> tuple[float, float, float] | None:
    """Asterisk's CPU per call alone and with the service at the highest call rate both arms
    passed without a failed call (rate, baseline ms, service ms); None: no such rate."""

    def clean(steps: list[dict[str, Any]]) -> dict[float, float]:
        return {
            s["rate"]: s["cpu_ms_per_call"]["asterisk"]
            for s in steps
            if not s["failed"] and (s.get("cpu_ms_per_call") or {}).get("asterisk") is not None
        }

    alone, shared = clean(baseline), clean(service)
    both = sorted(alone.keys() & shared.keys())
    if not both:
        return None
    rate = both[-1]
    return rate, alone[rate], shared[rate]


def histogram_quantile(scrapes: list[Scrape], family: str, q: float) -> float | None:
    """The q-quantile of a histogram summed over several scrapes (linear within a bucket,
    as Prometheus's histogram_quantile does); None when it observed nothing."""
    buckets: dict[float, float] = {}
    for scrape in scrapes:
        for name, labels, value in scrape.get(family, []):
            if name.endswith("_bucket"):
                le = float(labels["le"])
                buckets[le] = buckets.get(le, 0.0) + value
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            share = (rank - below) / (count - below) if count > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, count
    return lower


def ami_path(scrapes: list[Scrape]) -> dict[str, Any]:
    """Events per call and the p99s of the service's own latencies."""
    calls = _counter(scrapes, "hotline_calls")
    events = _counter(scrapes, "hotline_ami_events")
    agi = sum(
        value
        for scrape in scrapes
        for name, _, value in scrape.get("hotline_agi_command_seconds", [])
        if name.endswith("_count")
    )

    def p99_ms(family: str) -> float | None:
        value = histogram_quantile(scrapes, family, 0.99)
        return None if value is None else value * 1000

    return {
        "calls": calls,
        "ami_events": events,
        "ami_events_per_call": events / calls if calls else None,
        # FastAGI commands (each a round trip to Asterisk) for each call, all its sessions
        "agi_commands_per_call": agi / calls if calls else None,
        "ami_event_handling_p99_ms": p99_ms("hotline_ami_event_seconds"),
        "ami_event_lag_p99_ms": p99_ms("hotline_ami_event_lag_seconds"),
        "call_log_write_p99_ms": p99_ms("hotline_call_log_write_seconds"),
        "event_loop_lag_p99_ms": p99_ms("hotline_event_loop_lag_seconds"),
        "ami_action_p99_ms": p99_ms("hotline_ami_action_seconds"),
    }


def batch_means_ci95(values: list[float], batches: int = 8) -> float | None:
    """Half-width of a 95% confidence interval of the mean of correlated samples (waits in
    arrival order), by batch means: ``batches`` consecutive batches, Student's t (7 d.f.)."""
    size = len(values) // batches
    if batches != 8 or size < 2:
        return None
    means = [statistics.fmean(values[i * size : (i + 1) * size]) for i in range(batches)]
    return 2.365 * statistics.stdev(means) / math.sqrt(batches)


# -- the table --------------------------------------------------------------------------------
def _num(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def _ratio(service: Any, baseline: Any) -> str:
    if not isinstance(service, int | float) or not isinstance(baseline, int | float):
        return "-"
    return f"{service / baseline:.2f}x" if baseline else "-"


Row = tuple[str, str, str, str, str, str]


def _get(results: dict[str, Any], part: str, arm: str, *path: str) -> Any:
    node: Any = results.get("parts", {}).get(part, {}).get(arm)
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def rows(results: dict[str, Any]) -> list[Row]:
    """The comparison table: measure, baseline, service, ratio, target, verdict."""
    out: list[Row] = []

    def g(part: str, arm: str, *path: str) -> Any:
        return _get(results, part, arm, *path)

    def both(
        label: str,
        part: str,
        path: tuple[str, ...],
        digits: int,
        unit: str,
        target: str = "",
        check: Callable[[Any, Any], bool | None] | None = None,
    ) -> None:
        base, serv = g(part, "baseline", *path), g(part, "service", *path)
        if base is None and serv is None:
            return
        ok = check(serv, base) if check and serv is not None and base is not None else None
        out.append(
            (
                label,
                _num(base, digits, unit),
                _num(serv, digits, unit),
                _ratio(serv, base),
                target,
                _verdict(ok),
            )
        )

    ceilings = [g("ceiling", arm, "ceiling") for arm in ("baseline", "service")]
    if any(c is not None for c in ceilings):
        shown = [
            "-"
            if c is None
            else (f"{c:g}" if g("ceiling", arm, "limit_reached") else f">= {c:g} (no failure)")
            for c, arm in zip(ceilings, ("baseline", "service"), strict=True)
        ]
        b, v = ceilings
        out.append(
            (
                "(1) ceiling, calls/s with 0 failed",
                shown[0],
                shown[1],
                _ratio(v, b),
                ">= 1.0x",
                _verdict(v >= b if b is not None and v is not None else None),
            )
        )
    both("(1) INVITE->200 p99 at the ceiling", "ceiling", ("rtt_p99_ms",), 1, " ms")
    base_ceiling = ceilings[0]
    at_base = [
        s
        for s in g("ceiling", "service", "steps") or []
        if base_ceiling is not None and s["rate"] == base_ceiling
    ]
    base_p99 = g("ceiling", "baseline", "rtt_p99_ms")
    if at_base and base_p99 is not None and at_base[0]["rtt_p99_ms"] is not None:
        serv_p99 = at_base[0]["rtt_p99_ms"]
        out.append(
            (
                f"(1) INVITE->200 p99 at the baseline's ceiling ({base_ceiling:g}/s)",
                _num(base_p99, 1, " ms"),
                _num(serv_p99, 1, " ms"),
                _ratio(serv_p99, base_p99),
                "<= 2x",
                _verdict(serv_p99 <= 2 * base_p99 and not at_base[0]["failed"]),
            )
        )
    both("(1) Asterisk CPU per call", "ceiling", ("cpu_ms_per_call", "asterisk"), 2, " ms")
    same = same_rate_cpu(
        g("ceiling", "baseline", "steps") or [], g("ceiling", "service", "steps") or []
    )
    if same is not None:
        rate, base_cpu, with_service = same
        out.append(
            (
                f"(1) Asterisk CPU per call at {rate:g}/s (the highest rate both pass)",
                _num(base_cpu, 2, " ms"),
                _num(with_service, 2, " ms"),
                _ratio(with_service, base_cpu),
                "<= 1.1x",
                _verdict(with_service <= 1.1 * base_cpu),
            )
        )
    serv_cpu = g("ceiling", "service", "cpu_ms_per_call", "service")
    ast_cpu = g("ceiling", "service", "cpu_ms_per_call", "asterisk")
    if serv_cpu is not None:
        out.append(
            (
                "(1) service CPU per call (vs Asterisk's in its arm)",
                "-",
                _num(serv_cpu, 2, " ms"),
                _ratio(serv_cpu, ast_cpu),
                "<= 0.2x Asterisk",
                _verdict(serv_cpu <= 0.2 * ast_cpu if ast_cpu else None),
            )
        )
    both("(2) key press -> ring p50", "ring", ("p50_ms",), 1, " ms")
    both(
        "(2) key press -> ring p99",
        "ring",
        ("p99_ms",),
        1,
        " ms",
        "<= +2 ms",
        lambda s, b: s <= b + 2,
    )
    both(
        "(3) callers held in queue (of target)",
        "queue",
        ("queued",),
        0,
        "",
    )
    both(
        "(3) failed calls with the queue full",
        "queue",
        ("failed",),
        0,
        "",
        "0 failed",
        lambda s, b: s == 0 and g("queue", "service", "queued") >= g("queue", "service", "callers"),
    )
    both("(3) INVITE->200 p50, first tenth", "queue", ("rtt_first_tenth_p50_ms",), 2, " ms")
    both("(3) INVITE->200 p50, last tenth", "queue", ("rtt_last_tenth_p50_ms",), 2, " ms")
    both("(3) Asterisk RSS per waiting caller", "queue", ("rss_kb_per_call", "asterisk"), 1, " kB")
    both("(3) service RSS per waiting caller", "queue", ("rss_kb_per_call", "service"), 1, " kB")
    both("(4) dispatch (free -> ring) p50", "dispatch", ("p50_ms",), 1, " ms")
    both(
        "(4) dispatch (free -> ring) p99",
        "dispatch",
        ("p99_ms",),
        1,
        " ms",
        "service <= 50 ms",
        lambda s, b: s <= 50,
    )
    ami = results.get("ami")
    if ami and ami.get("calls"):
        for label, key, digits in (
            ("(5) AMI events per call", "ami_events_per_call", 2),
            ("(5) AMI event handling p99", "ami_event_handling_p99_ms", 3),
            ("(5) AMI event lag (Asterisk stamp -> handled) p99", "ami_event_lag_p99_ms", 2),
            ("(5) call-log batch write p99", "call_log_write_p99_ms", 2),
            ("(5) event-loop lag p99", "event_loop_lag_p99_ms", 2),
            ("(5) AMI action round trip p99", "ami_action_p99_ms", 2),
            ("(5) FastAGI round trips per call", "agi_commands_per_call", 1),
        ):
            unit = "" if key.endswith("_per_call") else " ms"
            out.append((label, "-", _num(ami.get(key), digits, unit), "-", "", "-"))
    base6, serv6 = _get(results, "poisson", "baseline"), _get(results, "poisson", "service")
    if base6 or serv6:
        some = serv6 or base6
        assert some is not None
        theory = some["erlang_c"]
        within = some["sl_within_s"]
        for label, key, digits, unit in (
            ("P(wait)", "p_wait", 3, ""),
            ("average wait", "avg_wait_s", 3, " s"),
            (f"service level (answered within {within:g} s)", "service_level", 3, ""),
        ):
            b = base6["measured"][key] if base6 else None
            v = serv6["measured"][key] if serv6 else None
            shown = [_num(b, digits, unit), _num(v, digits, unit)]
            if key == "avg_wait_s":
                for n, node in enumerate((base6, serv6)):
                    ci = batch_means_ci95(node["waits_s"]) if node else None
                    if ci is not None:
                        shown[n] += f" (95% CI +-{ci:.3f})"
            ok = None
            if key == "avg_wait_s" and serv6:
                err = serv6.get("avg_wait_error")
                ok = abs(err) <= 0.10 if err is not None else None
            out.append(
                (
                    f"(6) {label}, Poisson arrivals",
                    shown[0],
                    shown[1],
                    _ratio(v, b),
                    f"Erlang C {_num(theory[key], digits, unit)}"
                    + (" (service within 10%)" if key == "avg_wait_s" else ""),
                    _verdict(ok),
                )
            )
        idle = [
            f"{n['idle_while_waiting']['violations']} of {n['idle_while_waiting']['samples']}"
            if n
            else "-"
            for n in (base6, serv6)
        ]
        out.append(
            (
                "(6) samples with an operator idle while a caller waits",
                idle[0],
                idle[1],
                "-",
                "0",
                _verdict(serv6["idle_while_waiting"]["violations"] == 0 if serv6 else None),
            )
        )
    out += _model_rows(_get(results, "model", "service"))
    soak = _get(results, "soak", "service")
    if soak:
        rss = soak["rss_kb"]
        out.append(
            (
                f"(8) soak: {soak['calls']:,} calls through menu, queue and operators",
                "-",
                f"{soak['answered']:,} answered, {soak['failed']} failed",
                "-",
                "0 failed",
                _verdict(soak["failed"] == 0),
            )
        )
        out.append(
            (
                "(8) soak: service RSS after warm-up -> at the end",
                "-",
                f"{rss[0] / 1024:.1f} -> {rss[-1] / 1024:.1f} MB",
                f"{soak['growth']:+.1%}" if soak["growth"] is not None else "-",
                "<= +5%",
                _verdict(soak["growth"] <= 0.05 if soak["growth"] is not None else None),
            )
        )
    return out


def _model_rows(model: dict[str, Any] | None) -> list[Row]:
    """(7) the queue's step function, simulated, against the formulas (within 2%)."""
    if not model:
        return []
    out: list[Row] = []
    one = model["one_line"]
    for label, key, unit in (
        ("P(wait)", "p_wait", ""),
        ("average wait", "mean", " s"),
        ("answered within 20 s", "within", ""),
    ):
        simulated, theory = one["simulated"][key], one["erlang_c"][key]
        error = simulated / theory - 1
        out.append(
            (
                f"(7) simulated queue, one line: {label} ({model['calls']} calls)",
                "-",
                _num(simulated, 3, unit),
                f"{error:+.1%}",
                f"Erlang C {_num(theory, 3, unit)} (within 2%)",
                _verdict(abs(error) <= 0.02),
            )
        )
    classes = model["priorities"]
    for line, theory in classes["formula"].items():
        simulated = classes["simulated"][line]
        error = simulated / theory - 1
        out.append(
            (
                f"(7) simulated queue, priorities: {line}'s average wait",
                "-",
                _num(simulated, 1, " s"),
                f"{error:+.1%}",
                f"M/M/c priority {_num(theory, 1, ' s')} (within 2%)",
                _verdict(abs(error) <= 0.02),
            )
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    head = (
        "| measure | baseline (Asterisk alone) | service | service/baseline | target | |\n"
        "|---|---|---|---|---|---|\n"
    )
    body = "".join("| " + " | ".join(row) + " |\n" for row in rows(results))
    meta = results.get("meta", {})
    notes = (
        f"\n{meta.get('mode', '')} run of {meta.get('started', '')}, "
        f"{meta.get('duration_s', 0):.0f} s; {meta.get('asterisk', '')}; "
        f"{meta.get('cpus', '?')} CPUs, SIPp pinned to core 1.\n"
    )
    return head + body + notes


# -- files ------------------------------------------------------------------------------------
def write(results: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "latest.json"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    md_path = folder / "latest.md"
    md_path.write_text("# Benchmark: latest run\n\n" + markdown(results))
    written = [json_path, md_path]
    png = folder / "latest.png"
    if plot(results, png):
        written.append(png)
    return written


def plot(results: dict[str, Any], path: Path) -> bool:
    """Four panels: the ramp, key->ring, dispatch, waits against Erlang C. False when
    matplotlib (the optional `bench` extra) is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    colours = {"baseline": "tab:gray", "service": "tab:blue"}
    ax = axes[0][0]
    for arm, colour in colours.items():
        steps = _get(results, "ceiling", arm, "steps") or []
        ok = [s for s in steps if s["rtt_p99_ms"] is not None]
        ax.plot(
            [s["rate"] for s in ok], [s["rtt_p99_ms"] for s in ok], "o-", color=colour, label=arm
        )
        for s in steps:
            if s["failed"]:
                ax.axvline(s["rate"], color=colour, linestyle=":", alpha=0.7)
    ax.set(
        title="(1) INVITE->200 p99 by call rate (dotted: failures)", xlabel="calls/s", ylabel="ms"
    )
    ax.set_yscale("log")
    ax.legend()
    for ax, part, title in (
        (axes[0][1], "ring", "(2) key press -> operator's phone rings (CDF)"),
        (axes[1][0], "dispatch", "(4) operator free -> next ring (CDF)"),
    ):
        for arm, colour in colours.items():
            samples = sorted(_get(results, part, arm, "samples_ms") or [])
            if samples:
                ax.plot(
                    samples,
                    [(i + 1) / len(samples) for i in range(len(samples))],
                    color=colour,
                    label=arm,
                )
        ax.set(title=title, xlabel="ms", ylabel="share")
        ax.legend()
    ax = axes[1][1]
    for arm, colour in colours.items():
        node = _get(results, "poisson", arm)
        if not node or not node["waits_s"]:
            continue
        waits = sorted(node["waits_s"])
        ax.plot(
            waits,
            [(i + 1) / len(waits) for i in range(len(waits))],
            color=colour,
            label=f"{arm} measured",
        )
        if arm == "service":
            top = max(waits[-1], 1.0)
            xs = [top * i / 100 for i in range(101)]
            ax.plot(
                xs,
                [
                    estimate.service_level(
                        node["servers"], node["rate_per_s"], node["mean_service_s"], x
                    )
                    for x in xs
                ],
                color="tab:red",
                linestyle="--",
                label="Erlang C",
            )
    ax.set(
        title="(6) share of callers answered within t (Poisson arrivals)",
        xlabel="t (s)",
        ylabel="share",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
