"""`python -m bench.call NUMBER --keys KEYS`: a test call through the sandbox, as a caller
would place it (SIPp, bench/sipcall.py), and what the service made of it, read back from its
API. A development tool: it needs the sandbox (`hotline up`) and SIPp (`bash .ci/setup`).

Exit codes as `hotline`'s: 1, a failure while running (the service away, no record of the
call); 2, a usage error (what was wrong is printed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from bench.sipcall import SippCall
from hotline.cli.common import USAGE, api_error, fail, read_settings, say
from hotline.config.settings import Settings
from hotline.running.sandbox import Sandbox

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def service_is_up(settings: Settings) -> None:
    """Exit, saying what to start, unless the service answers and is connected to Asterisk."""
    import httpx

    url = f"http://{settings.api_host}:{settings.api_port}/health"
    headers = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    try:  # (with the token: without one /health says only ok or degraded)
        health = httpx.get(url, headers=headers, timeout=3).json()
    except (httpx.HTTPError, ValueError) as exc:
        fail(f"the service does not answer at {url} ({exc}); start it with `hotline up`")
    if not health.get("ami", {}).get("connected"):
        fail(f"the service is up but not connected to Asterisk: {health}; `hotline sandbox up`?")


def fetch_call(
    settings: Settings,
    sip_call_id: str,
    until: Callable[[], bool],
    grace: float = 10.0,
    ready: Callable[[dict[str, Any]], bool] = lambda call: bool(call["outcome"] or call["line"]),
) -> dict[str, Any] | None:
    """The service's record of a call, by SIP Call-ID, once ``ready`` (by default: routed or
    ended); gives up ``grace`` seconds after ``until()`` turns true."""
    import httpx

    url = f"http://{settings.api_host}:{settings.api_port}"
    headers = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    deadline = float("inf")
    while True:
        if deadline == float("inf") and until():
            deadline = time.monotonic() + grace
        try:
            found = httpx.get(
                f"{url}/api/v1/calls",
                params={"sip_call_id": sip_call_id},
                headers=headers,
                timeout=5,
            )
            found.raise_for_status()
            calls = found.json()
            if calls and ready(calls[0]):
                detail = httpx.get(
                    f"{url}/api/v1/calls/{calls[0]['id']}", headers=headers, timeout=5
                )
                detail.raise_for_status()
                result: dict[str, Any] = detail.json()
                return result
        except httpx.HTTPError as exc:
            if time.monotonic() > deadline:
                fail(f"cannot read the call from the service at {url}: {api_error(exc)}")
        if time.monotonic() > deadline:
            return None
        time.sleep(0.3)


def describe(record: dict[str, Any]) -> list[str]:
    """The lines printed for a call's record: its route, who answered, how it ended."""
    lines = [
        f"call {record['id']} to {record['number']}",
        f"  language:  {record['language']}",
        f"  menu path: {' '.join(record['path']) or '-'}",
    ]
    if record["closed_lines"]:
        lines.append(f"  closed:    {', '.join(record['closed_lines'])} (after hours)")
    for leg in record.get("transfers", []):
        source = f"{leg['operator']} ({leg['line']})" if leg.get("operator") else "the menus"
        went = leg.get("outcome") or "under way"
        if leg.get("answered_by"):
            went += f" by {leg['answered_by']}"
        lines.append(f"  transfer:  {source} -> {leg['target']} {leg['to']}, {leg['mode']}: {went}")
    lines.append(f"  line:      {record['line'] or '-'}")
    if record.get("callback_number"):
        lines.append(f"  callback:  {record['callback_number']}")
    if record.get("operator"):
        lines.append(
            f"  operator:  {record['operator']} (waited {record['wait']} s, "
            f"talked {record['talk']} s)"
        )
    elif record.get("wait") is not None:
        lines.append(f"  waited:    {record['wait']} s")
    outcome = record["outcome"] or "callback pending (the caller keeps their place)"
    lines.append(f"  outcome:   {outcome}")
    return lines


@app.command()
def call(
    number: Annotated[str, typer.Argument(help="the hotline number to dial, e.g. 0800213103")],
    keys: Annotated[str, typer.Option(help="keys to press in order; 'w' waits one gap more")] = "",
    caller: Annotated[str, typer.Option(help="the caller's number")] = "380501234567",
    gap: Annotated[float, typer.Option(help="seconds between keys")] = 2.5,
    hold: Annotated[
        float | None,
        typer.Option(
            help="stay this many seconds after the last key (default: hang up as soon "
            "as the service has routed the call)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the service's record")] = False,
) -> None:
    """Place a real SIP call through the sandbox (SIPp), press KEYS, print what happened."""
    if any(k not in "0123456789*#w" for k in keys):
        fail(f"--keys {keys!r}: use 0-9, *, # and w (wait)", USAGE)
    settings = read_settings()
    service_is_up(settings)
    say(f"calling {number} from {caller}, keys {keys or '(none)'}...")
    placed = SippCall(
        number,
        keys,
        caller=caller,
        gap_ms=int(gap * 1000),
        hold_ms=int((hold if hold is not None else 240) * 1000),
    )
    record = fetch_call(settings, placed.call_id, until=lambda: not placed.running)
    if record is not None and hold is None and placed.running:
        # the service is done with the call (it waits in its line's queue): hang it up
        channel = record["events"][0]["data"].get("channel", "")
        Sandbox(settings).cli(f"channel request hangup {channel}")
    done = placed.wait()
    final = fetch_call(
        settings,
        placed.call_id,
        until=lambda: True,
        ready=lambda call: bool(call["outcome"] or call["callback_number"]),
    )
    record = final or record
    if record is None:
        fail(
            f"the service has no record of call {placed.call_id} (is `hotline serve` "
            f"running?); SIPp said:\n{done.output}"
        )
    if as_json:
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    for line in describe(record):
        typer.echo(line)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
