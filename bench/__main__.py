"""`python -m bench`: the service against a pure-Asterisk baseline, on one sandboxed Asterisk.

Run as root, holding the machine's Asterisk lock for the whole run:

    flock /tmp/asterisk.lock .venv/bin/python -m bench [--quick] [--parts ceiling,ring,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench import measure, report
from bench.arms import Arm, BaselineArm, Lab, ServiceArm

PARTS = ("ceiling", "ring", "queue", "dispatch", "poisson", "soak", "model")
RESULTS = Path(__file__).resolve().parent / "results"


def progress(line: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {line}", flush=True)


def plan(quick: bool) -> dict[str, Any]:
    """How big each measurement is: a smoke run of a few minutes, or the full one."""
    if quick:
        return {
            "rates": [5.0, 10.0, 20.0],
            "step_s": 5.0,
            "ring_calls": 5,
            "queue_callers": 40,
            "queue_rate": 20.0,
            "dispatch_callers": 24,
            "poisson_calls": 40,
            "soak_calls": 1_000,
            "model_calls": 20_000,
        }
    return {
        # on until the baseline itself fails (2 cores: about 150 calls/s)
        "rates": [
            *(5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 100.0, 120.0),
            *(140.0, 160.0, 180.0, 200.0, 220.0, 250.0),
        ],
        "step_s": 10.0,
        "ring_calls": 20,
        "queue_callers": 200,
        "queue_rate": 20.0,
        "dispatch_callers": 72,
        "poisson_calls": 480,
        "soak_calls": 20_000,
        "model_calls": 1_000_000,  # the formulas' own precision: within 2%
    }


def run_part(lab: Lab, part: str, arm: Arm, size: dict[str, Any], done: dict[str, Any]) -> Any:
    if part == "ceiling":
        return measure.ceiling(lab, arm, size["rates"], size["step_s"])
    if part == "ring":
        return measure.ring(lab, arm, size["ring_calls"])
    if part == "queue":
        return measure.queue(lab, arm, size["queue_callers"], size["queue_rate"])
    if part == "dispatch":
        return measure.dispatch(lab, arm, size["dispatch_callers"])
    if part == "poisson":
        calibration = done.get("ring", {}).get(arm.name, {}).get("p50_ms")
        if calibration is None:
            lab.progress(f"  {arm.name}: key->ring with a free operator first (the no-wait time)")
            calibration = measure.ring(lab, arm, 5)["p50_ms"]
        # 8 operators, 2 calls/s, 3 s mean talk: 0.2 calls/s and 30 s scaled down ten times
        return measure.poisson(
            lab,
            arm,
            size["poisson_calls"],
            rate=2.0,
            talk_ms=3000,
            servers=8,
            no_wait_ms=calibration or 0.0,
        )
    if part == "soak":
        return measure.soak(lab, arm, size["soak_calls"], rate=40.0, operators=24)
    raise ValueError(part)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few minutes")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated, of {', '.join(PARTS)} (the AMI figures come "
        "from the service's /metrics after whichever parts ran)",
    )
    parser.add_argument("--arms", default="baseline,service", help="baseline, service or both")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.* go")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other parts of OUT/latest.json (re-run some parts only)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the SIPp logs and scenarios (a temp folder)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the service with py-spy (the `bench` extra) into OUT/profile/",
    )
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    if os.geteuid() != 0:
        parser.error("run as root (the Asterisk sandbox is a chroot)")
    size = plan(args.quick)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "mode": "quick" if args.quick else "full",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "plan": size,
        },
        "parts": {},
    }
    previous = args.out / "latest.json"
    if args.merge and previous.exists():
        earlier = json.loads(previous.read_text())
        results["parts"] = {k: v for k, v in earlier.get("parts", {}).items() if k not in parts}
        results["meta"]["merged_from"] = earlier.get("meta", {})
        if "ami" in earlier:
            results["ami"] = earlier["ami"]
    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    lab = Lab(progress, workdir)
    service = ServiceArm(lab)
    if args.profile:
        service.profile = args.out / "profile"
    arms: list[Arm] = [
        arm for arm in (BaselineArm(lab), service) if arm.name in args.arms.split(",")
    ]
    interrupted = False
    if "model" in parts:  # the step function on a virtual clock: no Asterisk
        progress("model: the queue simulated against the queueing formulas")
        results["parts"]["model"] = {"service": measure.model(size["model_calls"], progress)}
        parts.remove("model")
    try:
        progress("starting Asterisk with the bench config and the baseline dialplan")
        lab.up()
        results["meta"]["asterisk"] = lab.sandbox.asterisk_version()
        for part in parts:
            for arm in arms:
                progress(f"{part}: {arm.name}")
                arm.start()
                try:
                    results["parts"].setdefault(part, {})[arm.name] = run_part(
                        lab, part, arm, size, results["parts"]
                    )
                finally:
                    arm.stop()
                    lab.kill_all()
                    left = lab.drain()
                    progress(
                        f"  {arm.name}: {lab.channels()} channel(s) left in Asterisk"
                        + (f" ({left} hung up by the bench)" if left else "")
                    )
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted: stopping everything")
    except Exception as exc:
        results["meta"]["error"] = f"{type(exc).__name__}: {exc}"
        progress(f"failed: {results['meta']['error']}; the table has what was measured")
    finally:
        service.stop()
        lab.kill_all()
        try:
            lab.drain(timeout=10)
        finally:
            lab.down()
    if service.scrapes:  # with --merge: the AMI figures of this run's parts
        results["ami"] = report.ami_path(service.scrapes)
    results["meta"]["duration_s"] = time.monotonic() - started
    results["meta"]["interrupted"] = interrupted
    if args.keep:
        progress(f"SIPp logs and scenarios kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    written = report.write(results, args.out)
    print()
    print(report.markdown(results))
    progress("wrote " + ", ".join(str(p) for p in written))
    return 130 if interrupted else (1 if "error" in results["meta"] else 0)


if __name__ == "__main__":
    sys.exit(main())
