"""The desk's phone in a real browser (Debian's Chromium, the vendored JsSIP) against the real
sandbox Asterisk: it registers over secure WebSocket with the credentials a desk session was
given, and with nothing else: not after they are revoked, not with the softphone's user
name, not with a guessed password, and never over plain WebSocket from outside."""

from __future__ import annotations

import functools
import http.server
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from hotline.asterisk.desk import DeskPhones
from hotline.config.deployment import Deployment
from tests.integration.conftest import CHROMIUM, Asterisk

JSSIP = next((Path(__file__).resolve().parents[2] / "hotline/web/vendor").glob("jssip-*.min.js"))

REGISTER = """
async ([url, user, password]) => {
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(url)],
    uri: `sip:${user}@127.0.0.1`,
    password,
    register_expires: 120,
    session_timers: false,
  });
  window.ua = ua;
  return await new Promise((resolve) => {
    ua.on("registered", () => resolve("registered"));
    ua.on("registrationFailed", (e) => resolve(`failed: ${e.cause}`));
    ua.on("disconnected", () => resolve("disconnected"));
    setTimeout(() => resolve("timeout"), 15000);
    ua.start();
  });
}
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Chromium told to accept the sandbox's own certificate authority (an operator's
    browser trusts the deployment's real certificate instead: docs/operations.md)."""
    async with async_playwright() as playwright:
        found = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--ignore-certificate-errors"],
        )
        yield found
        await found.close()


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[str]:
    """A page on the loopback, as the desk is to these tests: Chromium lets a page reach
    127.0.0.1's WebSocket only from a local origin (its local network access checks)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "index.html").write_text("<!doctype html><title>desk</title>")
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


async def page_with_jssip(browser: Browser, origin: str) -> Page:
    page = await browser.new_page()
    await page.goto(origin)
    await page.add_script_tag(path=str(JSSIP))
    return page


async def register(
    browser: Browser,
    origin: str,
    url: str,
    user: str,
    password: str,
    while_registered: Callable[[], None] = lambda: None,
) -> str:
    page = await page_with_jssip(browser, origin)
    try:
        result = str(await page.evaluate(REGISTER, [url, user, password]))
        if result == "registered":
            while_registered()
        return result
    finally:
        await page.evaluate("() => window.ua && window.ua.stop()")
        await page.close()


def contacts(asterisk: Asterisk) -> str:
    return asterisk.sandbox.cli("pjsip show contacts").stdout


async def test_the_desk_phone_registers_with_its_sessions_credentials_only(
    asterisk: Asterisk, browser: Browser, deployment: Deployment, origin: str
) -> None:
    phones = DeskPhones(asterisk.sandbox.settings.spool_of_asterisk() / "hotline")
    url = f"wss://127.0.0.1:{deployment.sip.wss_port}/ws"
    given = phones.issue("op1", token="1")
    seen: list[str] = []
    try:
        registered = await register(
            browser,
            origin,
            url,
            given.username,
            given.password,
            lambda: seen.append(contacts(asterisk)),
        )
        assert registered == "registered"
        assert "op1.desk/sip:" in seen[0]  # the desk's phone, on the secure WebSocket

        # a guessed password, the softphone's user name with the desk's password
        assert (
            await register(browser, origin, url, given.username, "x" + given.password)
        ).startswith("failed")
        assert (await register(browser, origin, url, "op1", given.password)).startswith("failed")
        # each refusal is a line of the security log that fail2ban counts, as on other ports
        refused = asterisk.security_log.read_text()
        assert re.search(r'AccountID="op1\.desk".*RemoteAddress="IPV4/WSS?/127\.0\.0\.1/', refused)

        # a newer session's credentials end these
        newer = phones.issue("op1", token="2")
        assert (await register(browser, origin, url, given.username, given.password)).startswith(
            "failed"
        )
        assert await register(browser, origin, url, newer.username, newer.password) == "registered"

        # revoked (a logout): refused at once, nothing to reload
        phones.revoke(operator="op1")
        assert (await register(browser, origin, url, newer.username, newer.password)).startswith(
            "failed"
        )
    finally:
        phones.revoke(operator="op1")


def test_plain_websocket_is_not_offered_outside_the_loopback(asterisk: Asterisk) -> None:
    """Asterisk always opens a plain HTTP port beside the TLS one: on 127.0.0.1 only."""
    listening = asterisk.sandbox.cli("http show status").stdout
    assert "Server Enabled and Bound to 127.0.0.1:8088" in listening, listening
    assert "HTTPS Server Enabled and Bound to 127.0.0.1:8089" in listening, listening
    with socket.create_connection(("127.0.0.1", 8089), timeout=5) as plain:
        plain.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
        plain.settimeout(5)
        try:
            answer = plain.recv(100)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 101"), answer  # TLS only on the public port
