"""The real parts: the Asterisk sandbox, the service as its own process, SIPp callers and
SIPp operators. .ci/setup installs them; nothing here is skipped when one is missing."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.async_api import Browser, async_playwright
from prometheus_client.parser import text_string_to_metric_families

from bench.sipcall import Placed, SippCall, SoftPhone
from hotline.config.deployment import Deployment
from hotline.config.loading import load
from hotline.config.settings import Settings
from hotline.running.sandbox import Sandbox
from tests import isolation
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

#: The sandbox built once (Debian's Asterisk in a chroot), which every test process's own
#: Asterisk root overlays.
SHARED_SANDBOX = ROOT / ".cache/sandbox"

#: A Wednesday 11:00 in Kyiv: every line open.
WORKING_HOURS = "2026-11-25T11:00:00+02:00"
#: A Saturday 20:00 in Kyiv: consultations closed.
SATURDAY_EVENING = "2026-11-28T20:00:00+02:00"


def sandbox_settings(folder: Path = SHARED_SANDBOX) -> Settings:
    return Settings(
        config=ROOT / "config/hotline.yaml",
        sandbox_dir=folder,
        prompts_dir=ROOT / "recordings/prompts",
        prompts_build_dir=ROOT / "recordings/build",
    )


class Asterisk:
    """The running sandbox and the secrets it was configured with."""

    def __init__(self, sandbox: Sandbox, secrets: dict[str, str]) -> None:
        self.sandbox = sandbox
        self.secrets = secrets

    def active_channels(self) -> int:
        out = self.sandbox.cli("core show channels count").stdout
        match = re.search(r"(\d+) active channel", out)
        assert match, out
        return int(match.group(1))

    @property
    def log(self) -> Path:
        return self.sandbox.root / "var/log/asterisk/messages"

    def log_mark(self) -> int:
        """Where Asterisk's log ends now (channel names repeat after a restart)."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, mark: int, log: Path | None = None) -> str:
        with (log or self.log).open("rb") as text:
            text.seek(mark)
            return text.read().decode(errors="replace")

    @property
    def security_log(self) -> Path:
        """Asterisk's security events (failed logins, challenges): what fail2ban reads."""
        return self.sandbox.root / "var/log/asterisk/security"

    def security_mark(self) -> int:
        return self.security_log.stat().st_size if self.security_log.exists() else 0

    def security_since(self, mark: int) -> str:
        return self.log_since(mark, self.security_log) if self.security_log.exists() else ""

    def played(self, channel: str, mark: int) -> list[str]:
        """Sounds played to ``channel`` since ``mark``, without their format."""
        return [
            line.split("Playing '")[1].split("'")[0].rsplit(".", 1)[0]
            for line in self.log_since(mark).splitlines()
            if f"<{channel}> Playing '" in line
        ]

    def channels(self) -> dict[str, str]:
        """Every channel now, with the dialplan context it is in."""
        out = self.sandbox.cli("core show channels concise").stdout
        return {f[0]: f[1] for f in (line.split("!") for line in out.splitlines()) if len(f) > 2}


def progress(line: str) -> None:
    print(line, file=sys.stderr)


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        old = merged.get(key)
        merged[key] = (
            _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
        )
    return merged


def base_config(escalations: bool = False) -> dict[str, Any]:
    """config/hotline.yaml as the tests start from it: without its lines' escalations unless
    asked (a report stored by a test of something else would ring the duty lawyers through
    the trunk, where the test's own carrier answers callbacks)."""
    raw: dict[str, Any] = yaml.safe_load((ROOT / "config/hotline.yaml").read_text())
    if not escalations:
        for org in raw.get("organisations", {}).values():
            for line in org.get("lines", {}).values():
                line.pop("escalation", None)
    return raw


def config_variant(
    folder: Path, escalations: bool = False, **sections: dict[str, Any]
) -> tuple[Path, Deployment]:
    """config/hotline.yaml with some settings changed (``phones={"udp": False}``; nested
    mappings are merged), written into ``folder``: the file (for the service) and its
    deployment (for ``asterisk.sandbox.up``). Its escalations only with ``escalations``."""
    raw = base_config(escalations)
    path = folder / "hotline.yaml"
    # (in the file's order: its first organisation's languages and time zone are the hotline's)
    path.write_text(yaml.safe_dump(_merged(raw, sections), allow_unicode=True, sort_keys=False))
    return path, load(path)


#: Where the tests' stranger calls from (test_carrier, test_asterisk_link, test_doors): the
#: refusals it gets are what those tests look at, and a ban would silence them.
#: (test_bans attacks from addresses of its own.)
STRANGER = ipaddress.ip_network("127.0.0.3")


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    """config/hotline.yaml, except that the tests' stranger is never banned."""
    default = load(ROOT / "config/hotline.yaml")
    ban = default.security.ban
    ban = ban.model_copy(update={"ignore": [*ban.ignore, STRANGER]})
    return dataclasses.replace(default, security=default.security.model_copy(update={"ban": ban}))


@pytest.fixture(scope="session")
def asterisk(deployment: Deployment) -> Iterator[Asterisk]:
    """This test process's own Asterisk, on its own 127.0.0.1 (tests/isolation.py)."""
    shared = Sandbox(sandbox_settings(), ROOT)
    with isolation.locked(ROOT / ".cache/sandbox.lock"):  # built once, by one process
        shared.build(progress)
        shared.build_prompts(deployment, progress)
        # the shared root stays as built: no registrations of a run that used it directly
        (shared.root / "var/lib/asterisk/astdb.sqlite3").unlink(missing_ok=True)
    host = isolation.Host(ROOT / ".cache")
    sandbox = Sandbox(sandbox_settings(host.enter(shared.root)), ROOT)
    try:
        secrets = sandbox.up(deployment, progress)
        yield Asterisk(sandbox, secrets)
    finally:
        host.leave(lambda: sandbox.down(lambda _: None, forget=True))


#: Where a failed test's logs are kept (the service's and Asterisk's, from the test's start).
ARTIFACTS = ROOT / "test-artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test keeps its logs in test-artifacts/<test>/ and shows their tails."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    logs: dict[str, str] = {}
    for name, found in funcargs.items():
        services = found if isinstance(found, tuple) else (found,)  # (a pair of them)
        for n, service in enumerate(services):
            if isinstance(service, Service) and service.log.exists():
                label = f"{name}-{n}" if len(services) > 1 else name
                logs[f"{label}.log"] = service.log.read_text(errors="replace")
    if isinstance(found := funcargs.get("asterisk"), Asterisk) and found.log.exists():
        logs["asterisk.log"] = found.log_since(getattr(item, "asterisk_mark", 0))
    if not logs:
        return
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", item.nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in logs.items():
        (folder / name).write_text(text)
        report.sections.append((f"{name} (the end; all of it in {folder})", text[-4000:]))


@pytest.fixture(autouse=True)
def no_channel_left(asterisk: Asterisk, request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test ends with no call left in Asterisk."""
    request.node.asterisk_mark = asterisk.log_mark()
    yield
    deadline = time.monotonic() + 20
    while (count := asterisk.active_channels()) and time.monotonic() < deadline:
        time.sleep(0.5)
    if count:
        asterisk.sandbox.cli("channel request hangup all")
    assert count == 0, f"{count} channel(s) still up in Asterisk after the test"


#: A detention notification as the service stores it (notifications.jsonl), to start a
#: service with one already taken.
NOTIFICATION = {
    "ref": "123456",
    "call": "1.1",
    "line": "detention",
    "caller": "380661112233",
    "number": "380661112233",
    "recording": "/var/spool/asterisk/hotline/notifications/123456.wav",
    "at": "2026-11-25T09:00:00+00:00",
    "complete": True,
}


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def patiently(send: Callable[[], httpx.Response], seconds: float = 10) -> httpx.Response:
    """A request sent again, as its Retry-After asks, while the instance is taking over (a
    second or two after it became the active one: its API answers 503 until its queue is
    whole), as the wallboard and the desk do."""
    deadline = time.monotonic() + seconds
    while (reply := send()).status_code == 503 and "taking over" in reply.text:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return reply


class Service:
    """`hotline serve` as its own process, against the sandbox."""

    def __init__(self, asterisk: Asterisk, data_dir: Path, config: Path | None = None) -> None:
        self.asterisk = asterisk
        self.data_dir = data_dir
        #: The config it runs unless a start names another (None: config/hotline.yaml).
        self.config = config
        self.api_port = free_tcp_port()
        self.process: subprocess.Popen[str] | None = None
        self.log = data_dir / "service.log"
        self.token = asterisk.secrets["HOTLINE_API_TOKEN"]
        #: More HOTLINE_* settings for the next start (a database URL, tokens).
        self.settings: dict[str, str] = {}
        #: A command the service runs under (e.g. in a mount namespace of its own).
        self.wrapper: list[str] = []

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.asterisk.secrets,
            "HOTLINE_DATA_DIR": str(self.data_dir),
            "HOTLINE_API_PORT": str(self.api_port),
            "HOTLINE_SANDBOX_DIR": str(self.asterisk.sandbox.dir),
            **self.settings,
        }

    def start(
        self, clock: str | None = WORKING_HOURS, config: Path | None = None, ready: bool = True
    ) -> Service:
        """Start it and wait until its AMI link is up and (``ready``) the call log's schema
        is in place (not so while its database is away)."""
        env = self.env
        if clock:
            env["HOTLINE_CLOCK_START"] = clock
        if config or self.config:
            env["HOTLINE_CONFIG"] = str(config or self.config)
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [*self.wrapper, sys.executable, "-m", "hotline.cli", "serve"],
                cwd=ROOT,
                env=env,
                text=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                health = self.health(timeout=1)
                settled = health["role"] != "taking over"  # (its /api answers 503 until then)
                if health["ami"]["connected"] and (health["database"]["ready"] or not ready):
                    if settled:
                        return self
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"service not healthy in 30 s:\n{self.log.read_text()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.api_port}{path}"

    def health(self, timeout: float = 5) -> dict[str, Any]:
        """/health in full (with a token: without one it says only ok or degraded)."""
        reply = httpx.get(
            self.url("/health"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        found: dict[str, Any] = reply.json()
        return found

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """/metrics (as a token of every organisation sees it), parsed by prometheus_client's
        own parser: (sample, labels) -> value."""
        text = self.get_as(self.token, "/metrics").text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        reply = patiently(
            lambda: httpx.get(self.url(path), params=params, timeout=5, headers=headers)
        )
        reply.raise_for_status()
        return reply.json()

    def get_as(self, token: str | None, path: str, **params: Any) -> httpx.Response:
        """A GET with another token (None: none at all), the response as it is."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url(path), params=params, timeout=10, headers=headers)

    def post_as(self, token: str, path: str, **params: Any) -> httpx.Response:
        """A POST with another token, the response as it is."""
        return httpx.post(
            self.url(path), params=params, timeout=5, headers={"Authorization": f"Bearer {token}"}
        )

    def post_json(self, token: str, path: str, body: Any) -> httpx.Response:
        """A POST of a JSON body with a token, the response as it is."""
        return httpx.post(
            self.url(path), json=body, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )

    def post(self, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return patiently(
            lambda: httpx.post(self.url(path), params=params, timeout=5, headers=headers)
        )

    def agent(self, operator: str) -> dict[str, Any]:
        found: dict[str, Any] = next(a for a in self.get("/api/agents") if a["id"] == operator)
        return found

    def login(self, *operators: str, wait_reachable: bool = True) -> None:
        """Log operators in (their phones must be registered to be rung)."""
        for operator in operators:
            reply = self.post(f"/api/agents/{operator}/login")
            assert reply.status_code == 200, reply.text
            if wait_reachable:
                deadline = time.monotonic() + 10
                while not self.agent(operator)["reachable"]:
                    assert time.monotonic() < deadline, f"{operator}'s phone is not reachable"
                    time.sleep(0.2)

    def record(
        self,
        sip_call_id: str,
        wait: float = 15,
        until: Callable[[dict[str, Any]], Any] | None = None,
    ) -> dict[str, Any]:
        """The service's record of a call, with its events, once settled: ended, or (a
        detention caller who hung up while waiting) waiting for a callback; or once ``until``
        holds of it."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            calls = self.get("/api/calls", sip_call_id=sip_call_id)
            if calls and (until or (calls[0]["outcome"] or calls[0]["callback_number"])):
                record: dict[str, Any] = self.get(f"/api/calls/{calls[0]['id']}")
                if until is None or until(record):
                    return record
            time.sleep(0.3)
        raise AssertionError(f"no such record of {sip_call_id}:\n{self.log.read_text()[-6000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)  # (beside a standby, the menus under way have 10 s to end)
        self.process = None


#: Debian's Chromium, which Playwright drives for the wallboard's and the desk's tests.
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        found = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield found
        await found.close()


@pytest.fixture(scope="session")
def quiet_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The config the tests' services run by default (base_config: no escalations)."""
    path, _ = config_variant(tmp_path_factory.mktemp("config"))
    return path


@pytest.fixture
def service(asterisk: Asterisk, tmp_path: Path, quiet_config: Path) -> Iterator[Service]:
    """A service (not started: call .start(clock))."""
    svc = Service(asterisk, tmp_path, quiet_config)
    yield svc
    svc.stop()


async def call(
    number: str,
    keys: str | Sequence[str] = "",
    *,
    caller: str = "380501234567",
    name: str = "Caller",
    source: str = "127.0.0.2",
    hold_ms: int = 15000,
    gap_ms: int = 2500,
    speaks: bool = False,
) -> Placed:
    """One SIPp caller from ``source`` (the trunk's address); returns when the call ended.
    With ``speaks`` the caller sends a tone (sipcall.CALLER_TONE) from the answer on."""
    placed = SippCall(
        number,
        keys,
        caller=caller,
        name=name,
        source=source,
        gap_ms=gap_ms,
        hold_ms=hold_ms,
        speaks=speaks,
    )
    try:
        while placed.running:  # no thread held: the default pool has only a few
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:  # the test is over (failed): SIPp is not left running
        placed.abandon()
        raise
    return placed.wait()


@pytest.fixture
def home_phone(phone: Callable[..., SoftPhone]) -> Callable[..., SoftPhone]:
    """A caller's own phone, reached through the trunk (the carrier: 127.0.0.2:5070)."""

    def start(**kwargs: Any) -> SoftPhone:
        return phone("caller", address="127.0.0.2", port=5070, register=False, **kwargs)

    return start


@pytest.fixture
def phone(asterisk: Asterisk, tmp_path: Path) -> Iterator[Callable[..., SoftPhone]]:
    """Start SIPp softphones for operators; they unregister at the end."""
    phones: list[SoftPhone] = []

    def start(user: str, **kwargs: Any) -> SoftPhone:
        password = asterisk.secrets.get(f"HOTLINE_SIP_PASSWORD_{user.upper()}", "")
        softphone = SoftPhone(user, password, workdir=tmp_path, **kwargs).start()
        phones.append(softphone)
        return softphone

    yield start
    for softphone in phones:
        softphone.stop()
