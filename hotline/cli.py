"""The `hotline` command: every subcommand in one place, each a few lines that call into the
service (which is why it is over 400 lines)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from hotline import __version__
from hotline.calls import prompts
from hotline.config import ConfigError, Deployment, load
from hotline.config.settings import Clock, Settings, environment
from hotline.roles import Role
from hotline.running import logs

app = typer.Typer(
    help=(
        "IVR and call routing for free legal aid hotlines.\n\n"
        "Settings come from HOTLINE_* environment variables and a .env file in the working "
        "folder (README: Settings). Exit codes: 0 done, 1 a failure while running, 2 a usage "
        "or config error (what was wrong is printed)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(
    help="The local Asterisk sandbox (Debian's Asterisk 22 in a chroot).", no_args_is_help=True
)
asterisk_app = typer.Typer(
    help="Asterisk config generated from the hotline config.", no_args_is_help=True
)
db_app = typer.Typer(help="The call log's database (HOTLINE_DATABASE_URL).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens kept in the database (hashed).", no_args_is_help=True)
vault_app = typer.Typer(
    help="Recordings and messages, encrypted at rest (HOTLINE_RECORDINGS_KEY).",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(asterisk_app, name="asterisk")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(vault_app, name="vault")

#: A listing's machine-readable form.
JsonOption = Annotated[bool, typer.Option("--json", help="print it as JSON")]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="hotline YAML (default: $HOTLINE_CONFIG or config/hotline.yaml)"
    ),
]


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"hotline {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """(The options before any command.)"""


def _fail(message: str, code: int = 1) -> None:
    """Say what went wrong and exit: 1, a failure while running (the default); 2, a usage or
    config error (:data:`USAGE`)."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


#: The exit code of a usage or config error (a bad option, config or setting).
USAGE = 2


def _dev_tools() -> None:
    """The sandbox and the test calls live in bench/ (development tools, not the service):
    there in a checkout set up by .ci/setup, absent from the service's image."""
    if importlib.util.find_spec("bench") is None:
        _fail(
            "the sandbox and test calls are development tools (bench/): run them from a "
            "checkout set up by `bash .ci/setup`",
            USAGE,
        )


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:  # each bad HOTLINE_ variable, by its name
        lines = []
        for error in exc.errors():
            name = "_".join(map(str, error["loc"]))
            secret = any(word in name for word in ("secret", "token", "password", "url"))
            given = "(not shown)" if secret else repr(error.get("input"))
            lines.append(f"  HOTLINE_{name.upper()}={given}: {error['msg']}")
        _fail("bad setting in the environment (or .env):\n" + "\n".join(lines), USAGE)
        raise  # unreachable
    except Exception as exc:
        _fail(f"bad setting in the environment: {exc}", USAGE)
        raise  # unreachable


def _deployment(settings: Settings, config: Path | None) -> Deployment:
    try:
        return load(config or settings.config)
    except ConfigError as exc:
        _fail(f"invalid config:\n{exc}", USAGE)
        raise


def _say(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def check(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate a config (and that every prompt exists in every language) without starting;
    then name, as warnings (exit 0), every gap in the duty rotas in the next 14 days."""
    settings = _settings()
    deployment = _deployment(settings, config)
    names = deployment.prompt_names() | prompts.SERVICE_PROMPTS
    missing = prompts.missing(
        settings.prompts_dir, deployment.languages, names, deployment.prompt_texts
    )
    if missing:
        _fail(
            f"{config or settings.config}: prompts missing in {settings.prompts_dir}: "
            + ", ".join(missing),
            USAGE,
        )
    counts = {
        "organisations": len(deployment.organisations),
        "numbers": len(deployment.flow.entries),
        "menus": len(deployment.flow.menus),
        "lines": len(deployment.lines),
        "offices": len(deployment.offices),
        "operators": len(deployment.operators),
        "prompts": len(names),
        "languages": len(deployment.languages),
    }
    warnings = _duty_warnings(settings, deployment)
    if as_json:
        found = {"config": str(config or settings.config), "ok": True, **counts}
        typer.echo(json.dumps(found | {"warnings": warnings}, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"{config or settings.config}: OK - {counts['organisations']} organisation(s), "
        f"{counts['numbers']} numbers, {counts['menus']} menus, {counts['lines']} lines, "
        f"{counts['offices']} offices, {counts['operators']} operators, "
        f"{counts['prompts']} prompts x {counts['languages']} languages"
    )
    for warning in warnings:
        typer.secho(f"{config or settings.config}: warning: {warning}", err=True, fg="yellow")


def _duty_warnings(settings: Settings, deployment: Deployment) -> list[str]:
    """Every gap in the rotas in the next 14 days, and calendars that cannot be used (a URL
    is tried once, for 5 s: the service keeps trying)."""
    import httpx

    from hotline.reports.duty import HORIZON, Duty

    duty = Duty(deployment, Clock(settings.clock_start))

    async def fetch() -> None:
        async with httpx.AsyncClient(follow_redirects=True, max_redirects=5) as client:
            await duty.refresh(client, timeout=5.0)

    if any(source.url for source in duty.sources):
        asyncio.run(fetch())
    now = duty.clock()
    gaps = [gap.says() for gap in duty.gaps(now, now + HORIZON)]
    return gaps + duty.warnings(now, now + HORIZON)


def _logging(settings: Settings) -> None:
    logs.setup(settings.log_level, settings.log_format, settings.access_log)


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the service: FastAGI, the AMI client and the API, in one process."""
    from hotline.api.access import TokenError
    from hotline.app import serve as run

    settings = _settings()
    deployment = _deployment(settings, config)
    _logging(settings)
    try:
        asyncio.run(run(settings, deployment))
    except TokenError as exc:  # (a secret missing or weak, a token entry malformed)
        _fail(f"cannot start: {exc}", USAGE)
    except OSError as exc:
        _fail(f"cannot start: {exc}")


@app.command()
def guard(
    interval: Annotated[float, typer.Option(help="seconds between two probes")] = 1.0,
    patience: Annotated[int, typer.Option(help="failed probes before callers are moved")] = 3,
    parent: Annotated[
        int | None, typer.Option(help="exit when this process (the service) is gone")
    ] = None,
) -> None:
    """Run beside the service (`serve` starts it itself unless HOTLINE_GUARD=false): if the
    service stops answering (hung, not stopped), move its callers to the fallback queues so
    nobody waits in silence. Uses the service's AMI and API settings."""
    from hotline.asterisk.guard import serve as run

    settings = _settings()
    _logging(settings)
    asyncio.run(run(settings, interval, patience, parent))


@app.command()
def up(config: ConfigOption = None) -> None:
    """Start the sandbox Asterisk (building it the first time) and run the service; stopping
    it (Ctrl-C) stops that Asterisk too."""
    _dev_tools()
    from bench.sandbox import Sandbox, SandboxError

    settings = _settings()
    deployment = _deployment(settings, config)
    sandbox = Sandbox(settings)
    try:
        env = sandbox.up(deployment, _say)
    except SandboxError as exc:
        _fail(str(exc))
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    _say("service starting; try in another shell: .venv/bin/hotline call 0800213103 --keys 12")
    try:
        serve(config)
    finally:  # (Ctrl-C, or the service failing): what `up` started goes with it
        _say("stopping the sandbox's Asterisk (`hotline sandbox up` runs it alone)")
        sandbox.down(_say)


@sandbox_app.command("up")
def sandbox_up(config: ConfigOption = None) -> None:
    """Build (once) and (re)start the sandbox Asterisk with this project's config."""
    _dev_tools()
    from bench.sandbox import Sandbox, SandboxError

    settings = _settings()
    try:
        Sandbox(settings).up(_deployment(settings, config), _say)
    except SandboxError as exc:
        _fail(str(exc))


@sandbox_app.command("down")
def sandbox_down() -> None:
    """Stop the sandbox Asterisk (its verbose log, with the test calls' numbers, goes too)."""
    _dev_tools()
    from bench.sandbox import Sandbox

    Sandbox(_settings()).down(_say, forget=True)


@sandbox_app.command("status")
def sandbox_status(as_json: JsonOption = False) -> None:
    """Whether the sandbox is built and running, its channels and registered operators."""
    _dev_tools()
    from bench.sandbox import Sandbox

    sandbox = Sandbox(_settings())
    if as_json:
        typer.echo(json.dumps(sandbox.facts(), indent=2))
    else:
        typer.echo(sandbox.status())


@asterisk_app.command("render")
def asterisk_render(
    target: Annotated[Path, typer.Argument(help="folder to write the generated .conf files")],
    config: ConfigOption = None,
    with_prompts: Annotated[
        bool,
        typer.Option(
            "--prompts",
            help="also the built prompts, in DIR/sounds (for /usr/share/asterisk/sounds/"
            "hotline), and DIR/ready once all is written (what the Asterisk image waits for)",
        ),
    ] = False,
) -> None:
    """Write the generated Asterisk files (endpoints, AMI user, queues, numbers), and for the
    machine around it fail2ban-hotline.conf (for /etc/fail2ban/jail.d/: bans addresses that
    fail to log in) and nftables-hotline.nft (who may use SIP over UDP)."""
    import shutil

    from hotline.asterisk.render import RenderError, render, render_firewall

    settings = _settings()
    deployment = _deployment(settings, config)
    target.mkdir(parents=True, exist_ok=True)
    (target / "ready").unlink(missing_ok=True)
    try:
        files = render(
            deployment,
            environment(),
            target,
            settings.agi_address(),
            settings.ami_username,
            settings.takeover_seconds(),
        )
        files += render_firewall(deployment, target)
    except RenderError as exc:
        _fail(str(exc), USAGE)
    for path in files:
        typer.echo(path)
    if with_prompts:
        build_prompts(config)
        shutil.rmtree(target / "sounds", ignore_errors=True)
        shutil.copytree(settings.prompts_build_dir, target / "sounds")
        (target / "ready").touch()
        typer.echo(target / "sounds")


@app.command("env")
def env_file(config: ConfigOption = None) -> None:
    """Print a new .env for this config, every secret random: HOTLINE_AMI_SECRET,
    HOTLINE_AGI_SECRET, HOTLINE_API_TOKEN, HOTLINE_RECORDINGS_KEY, each phone's
    HOTLINE_SIP_PASSWORD_<ID>,
    HOTLINE_WEBHOOK_SECRET_<ORGANISATION> of each organisation that sends webhooks, and
    POSTGRES_PASSWORD for compose.yaml (the carrier's HOTLINE_TRUNK_USERNAME and _PASSWORD,
    where it wants them, are the carrier's to give)."""
    import secrets

    from hotline.asterisk.render import secret_names
    from hotline.outbound.signing import new_secret

    settings = _settings()
    deployment = _deployment(settings, config)
    from hotline.vault import new_key

    for name in [*secret_names(deployment), "POSTGRES_PASSWORD"]:
        typer.echo(f"{name}={secrets.token_urlsafe(18)}")
    typer.echo(f"HOTLINE_RECORDINGS_KEY={new_key()}")
    for org in deployment.organisations.values():  # (give each its receivers to check with)
        if org.webhooks:
            typer.echo(f"{settings.webhook_secret_name(org.id)}={new_secret()}")


@app.command("prompts")
def build_prompts(config: ConfigOption = None) -> None:
    """Build the prompt audio (espeak-ng or studio WAV -> 8 kHz WAV) that is out of date."""
    settings = _settings()
    deployment = _deployment(settings, config)
    try:
        count = prompts.build(
            settings.prompts_dir,
            settings.prompts_build_dir,
            deployment.languages,
            deployment.prompt_names() | prompts.SERVICE_PROMPTS,
            _say,
            deployment.prompt_texts,
        )
    except prompts.PromptError as exc:
        _fail(str(exc))
    typer.echo(f"{count} prompt(s) built into {settings.prompts_build_dir}")


def _service_is_up(settings: Settings) -> None:
    import httpx

    url = f"http://{settings.api_host}:{settings.api_port}/health"
    headers = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    try:  # (with the token: without one /health says only ok or degraded)
        health = httpx.get(url, headers=headers, timeout=3).json()
    except (httpx.HTTPError, ValueError) as exc:
        _fail(f"the service does not answer at {url} ({exc}); start it with `hotline up`")
    if not health.get("ami", {}).get("connected"):
        _fail(f"the service is up but not connected to Asterisk: {health}; `hotline sandbox up`?")


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
                _fail(f"cannot read the call from the service at {url}: {_api_error(exc)}")
        if time.monotonic() > deadline:
            return None
        time.sleep(0.3)


def _api_error(exc: Exception) -> str:
    """What the API said was wrong (its error's ``detail``), else the HTTP error itself."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        try:
            return f"{exc.response.status_code}: {exc.response.json()['detail']}"
        except (ValueError, KeyError, TypeError):
            pass
    return str(exc)


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
    _dev_tools()
    from bench.sandbox import Sandbox
    from bench.sipcall import SippCall

    if any(k not in "0123456789*#w" for k in keys):
        _fail(f"--keys {keys!r}: use 0-9, *, # and w (wait)", USAGE)
    settings = _settings()
    _service_is_up(settings)
    _say(f"calling {number} from {caller}, keys {keys or '(none)'}...")
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
        _fail(
            f"the service has no record of call {placed.call_id} (is `hotline serve` "
            f"running?); SIPp said:\n{done.output}"
        )
        return
    if as_json:
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    typer.echo(f"call {record['id']} to {record['number']}")
    typer.echo(f"  language:  {record['language']}")
    typer.echo(f"  menu path: {' '.join(record['path']) or '-'}")
    if record["closed_lines"]:
        typer.echo(f"  closed:    {', '.join(record['closed_lines'])} (after hours)")
    for leg in record.get("transfers", []):
        source = f"{leg['operator']} ({leg['line']})" if leg.get("operator") else "the menus"
        went = leg.get("outcome") or "under way"
        if leg.get("answered_by"):
            went += f" by {leg['answered_by']}"
        typer.echo(f"  transfer:  {source} -> {leg['target']} {leg['to']}, {leg['mode']}: {went}")
    typer.echo(f"  line:      {record['line'] or '-'}")
    if record.get("callback_number"):
        typer.echo(f"  callback:  {record['callback_number']}")
    if record.get("operator"):
        typer.echo(
            f"  operator:  {record['operator']} (waited {record['wait']} s, "
            f"talked {record['talk']} s)"
        )
    elif record.get("wait") is not None:
        typer.echo(f"  waited:    {record['wait']} s")
    outcome = record["outcome"] or "callback pending (the caller keeps their place)"
    typer.echo(f"  outcome:   {outcome}")


def _database(action: Callable[[Any], Any]) -> Any:
    """Run ``action(store)`` against the configured database; a clear error if it is away."""
    from hotline.store.db import Store

    settings = _settings()
    store = Store(settings.database())

    async def run() -> Any:
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _fail(f"database {store.describe()}: {reason}")


@app.command("forecast")
def forecast_command(
    week: Annotated[
        str | None,
        typer.Option(help="a day of the week to look at, YYYY-MM-DD (default: the last full week)"),
    ] = None,
    line: Annotated[str | None, typer.Option(help="one line only")] = None,
    organisation: Annotated[
        str | None,
        typer.Option(help="its lines only, in its time zone and against its targets"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the figures as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """How many operators each line needed, hour by hour in a past week, to answer the
    config's share of calls in time (Erlang C on the call log), beside how many were on duty.
    Each line is held to its organisation's targets; with --line or --organisation, the hours
    are that organisation's time zone's."""
    from datetime import UTC, date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from hotline.figures import forecast

    settings = _settings()
    deployment = _deployment(settings, config)
    if line is not None and line not in deployment.lines:
        _fail(f"--line {line!r}: one of {', '.join(deployment.lines)}", USAGE)
    if organisation is not None and organisation not in deployment.organisations:
        _fail(
            f"--organisation {organisation!r}: one of {', '.join(deployment.organisations)}", USAGE
        )
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
            _fail(f"--week {week!r}: a date, YYYY-MM-DD", USAGE)
            raise
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        since = start - timedelta(days=day.weekday())
        until = since + timedelta(days=7)

    async def read(store: Any) -> Any:
        return await store.queued_calls(since, until), await store.operator_changes(since, until)

    rows, changes = _database(read)
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
        typer.echo(
            json.dumps(
                [
                    {
                        "line": h.line,
                        "hour": h.start.isoformat(),
                        "offered": h.offered,
                        "handle_s": round(h.handle, 1),
                        "needed": h.needed,
                        "on_duty": round(h.on_duty, 2),
                    }
                    for h in hours
                ],
                indent=1,
            )
        )
        return
    _say(f"the week of {since:%Y-%m-%d} ({zone.key}), from the call log")
    typer.echo(forecast.table(hours, goals))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the call log's tables, or migrate them to this version (Alembic)."""
    revision = _database(lambda store: store.upgrade())
    typer.echo(f"database at revision {revision}")


@db_app.command("status")
def db_status(as_json: JsonOption = False) -> None:
    """Say whether the database is reachable and its schema current (exit 1 if it is not)."""
    current = _database(lambda store: store.is_current())
    if as_json:
        typer.echo(json.dumps({"reachable": True, "current": current}))
    else:
        typer.echo("schema current" if current else "schema out of date: run `hotline db upgrade`")
    if not current:
        raise typer.Exit(1)


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="what it may do")],
    name: Annotated[str, typer.Option(help="who or what holds it, e.g. 'wallboard'")],
    operator: Annotated[
        str | None, typer.Option(help="for the operator role: which operator (e.g. op1)")
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option(help="the organisation whose data it sees (an operator's: theirs)"),
    ] = None,
    all_organisations: Annotated[
        bool,
        typer.Option(
            "--all-organisations",
            help="it sees every organisation's data (the platform's administrators, a "
            "Prometheus of the whole deployment)",
        ),
    ] = False,
    days: Annotated[
        int, typer.Option(min=1, max=3650, help="it stops working after so many days")
    ] = 365,
    never_expires: Annotated[
        bool, typer.Option("--never-expires", help="it works until revoked (not --days)")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Make a token; it is printed once and only its SHA-256 is kept. Whose data it sees is
    always said: --organisation ID, or --all-organisations (an operator's: their own). It
    expires after --days (365), or --never-expires."""
    from datetime import UTC, datetime, timedelta

    from hotline.api.access import new_token, token_hash
    from hotline.store.tables import ApiToken

    chosen = role
    deployment = _deployment(_settings(), config)
    known = ", ".join(deployment.organisations)
    if organisation is not None and organisation not in deployment.organisations:
        _fail(f"--organisation {organisation!r}: one of {known}", USAGE)
    if organisation is not None and all_organisations:
        _fail("--organisation or --all-organisations, not both", USAGE)
    if chosen is Role.OPERATOR:
        if operator not in deployment.operators:
            _fail(f"--operator {operator!r}: one of {', '.join(deployment.operators)}", USAGE)
        theirs = deployment.organisation_of(operator=operator)
        assert theirs is not None
        if organisation not in (None, theirs.id) or all_organisations:
            _fail(f"--organisation: {operator} belongs to {theirs.id}", USAGE)
        organisation = theirs.id
    elif operator is not None:
        _fail("--operator goes with --role operator only", USAGE)
    elif organisation is None and not all_organisations:
        _fail(
            "say whose data the token sees: --organisation ID (one of "
            f"{known}), or --all-organisations (every organisation's)",
            USAGE,
        )
    if not 1 <= len(name) <= 64:
        _fail("--name: 1 to 64 characters", USAGE)
    token = new_token()
    now = datetime.now(UTC)
    row = ApiToken(
        name=name,
        role=chosen.value,
        operator=operator,
        organisation=organisation,
        hash=token_hash(token),
        created_at=now,
        expires_at=None if never_expires else now + timedelta(days=days),
    )

    async def add(store: Any) -> Any:
        await store.upgrade()
        return await store.add_token(row)

    saved = _database(add)
    who = (
        f"{chosen.value}{':' + operator if operator else ''}@{organisation or 'every organisation'}"
    )
    until = f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "never expires"
    _say(f"token {saved.id} ({who}, {name}, {until}):")
    typer.echo(token)


@token_app.command("list")
def token_list(
    all_: Annotated[bool, typer.Option("--all", help="include revoked tokens")] = False,
    as_json: JsonOption = False,
) -> None:
    """The tokens in the database (never the tokens themselves), when each expires and was
    last used."""
    from datetime import UTC, datetime

    rows = _database(lambda store: store.tokens(include_revoked=all_))
    if as_json:
        fields = ("id", "role", "operator", "organisation", "name", "created_at", "revoked_at",
                  "expires_at", "last_used_at")  # fmt: skip
        listed = [{field: getattr(row, field) for field in fields} for row in rows]
        typer.echo(json.dumps(listed, indent=2, default=str, ensure_ascii=False))
        return
    for row in rows:
        revoked = f"  revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else ""
        who = f"{row.role}:{row.operator}" if row.operator else row.role
        where = row.organisation or "(every organisation)"
        gone = row.expires_at is not None and row.expires_at <= datetime.now(UTC)
        expires = (
            f"{'expired' if gone else 'expires'} {row.expires_at:%Y-%m-%d}"
            if row.expires_at
            else "never expires"
        )
        used = f"used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        typer.echo(
            f"{row.id:>4}  {who:<20} {where:<22} {row.name:<24} {row.created_at:%Y-%m-%d}  "
            f"{expires:<18} {used}{revoked}"
        )
    if not rows:
        _say("no tokens in the database")


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="its id in `token list`")]) -> None:
    """Revoke a token (it stops working within 30 s)."""
    from datetime import UTC, datetime

    row = _database(lambda store: store.revoke_token(token_id, datetime.now(UTC)))
    if row is None:
        _fail(f"no token {token_id}")
    typer.echo(f"token {token_id} ({row.name}) revoked")


@app.command()
def erase(
    caller: Annotated[
        str | None, typer.Option(help="erase every call of this number (made, typed, reported)")
    ] = None,
    call_id: Annotated[str | None, typer.Option("--call", help="erase this call")] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="HOTLINE_ERASE_TOKEN",
            show_envvar=True,
            help="a supervisor's token: its organisation's data only (default: "
            "HOTLINE_API_TOKEN, every organisation's)",
        ),
    ] = None,
) -> None:
    """Erase a caller's data on request (their recordings, messages, reports, pending
    callbacks, the personal fields of their calls), through the running service (it holds
    the reports and callbacks); what was erased is recorded without the number. Exit 1 if
    the service refused or is away."""
    import httpx

    if (caller is None) == (call_id is None):
        _fail("give --caller NUMBER or --call ID (one of them)", USAGE)
    settings = _settings()
    url = f"http://{settings.api_host}:{settings.api_port}/api/v1/erasures"
    secret = token or settings.api_token.get_secret_value()
    if not secret:
        _fail("no token: give --token (a supervisor's) or set HOTLINE_API_TOKEN", USAGE)
    what = f"call {call_id}" if call_id is not None else "the calls of the number given"
    _say(f"erasing {what} through the service at {url}")
    body = {"caller": caller} if caller is not None else {"call_id": call_id}
    try:
        reply = httpx.post(
            url, json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=120
        )
        reply.raise_for_status()
    except httpx.HTTPError as exc:
        typer.secho(f"not erased: {_api_error(exc)}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    done = reply.json()
    typer.echo(
        f"erased: {done['calls']} call(s), {done['recordings']} recording(s) and message(s), "
        f"{done['reports']} report(s), {done['callbacks']} pending callback(s)"
    )


@vault_app.command("key")
def vault_key() -> None:
    """Print a new random key for HOTLINE_RECORDINGS_KEY (32 bytes, base64)."""
    from hotline.vault import new_key

    typer.echo(new_key())


@vault_app.command("rotate")
def vault_rotate() -> None:
    """Seal again, under HOTLINE_RECORDINGS_KEY, every recording and message sealed under one
    of HOTLINE_RECORDINGS_OLD_KEYS: this instance's folder, and with a standby (HOTLINE_HA)
    the shared database; seal those still kept in plaintext from before the vault. Safe while
    the service runs. Exit 1 if some could not be opened (each named, with why)."""
    from hotline.vault.rotation import rotate

    settings = _settings()
    try:
        lines, failed = asyncio.run(rotate(settings))
    except ValueError as exc:  # a key missing or malformed (named, never shown)
        _fail(str(exc), USAGE)
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        typer.secho(f"rotation stopped: {reason}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)
    if failed:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
