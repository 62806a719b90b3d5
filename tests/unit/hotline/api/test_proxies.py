"""The client's address is the connection's peer, unless the peer is a configured proxy
(HOTLINE_TRUSTED_PROXIES): a client that writes X-Forwarded-For itself gets ten logins a
minute like any other, and a reverse proxy's or a standby's clients are each counted as
themselves, not all as the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hotline.api.proxies import client_address
from hotline.api.routes import create_api
from hotline.api.standby import Forward
from hotline.app import api_server
from hotline.config.settings import Settings
from tests.unit.hotline.api.test_errors import parts

PROXIES = (ipaddress.ip_network("10.0.0.2"), ipaddress.ip_network("192.168.7.0/24"))
UNKNOWN = {"token": "an-unknown-token-of-the-proxy-tests"}


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", [], "203.0.113.9"),
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy: its words ignored
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # the proxy names its client
        ("10.0.0.2", [], "10.0.0.2"),  # nothing said: the proxy itself
        # the client wrote a header of its own: what stands left of the proxy's hop is its
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),  # (two header lines)
        # a standby behind a reverse proxy, both trusted: the hops walked back to the client
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1, 192.168.7.5"], "198.51.100.1"),
        ("10.0.0.2", ["2001:db8::7"], "2001:db8::7"),
        ("10.0.0.2", ["unknown"], "10.0.0.2"),  # not an address: the proxy's own
        ("10.0.0.3", ["198.51.100.1"], "10.0.0.3"),  # next door to a proxy is not one
    ],
)
def test_who_the_client_is(peer: str, forwarded: list[str], client: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


async def logins(api: httpx.AsyncClient, forwarded_for: list[str]) -> list[int]:
    """One failed login for each address claimed; the statuses."""
    statuses = []
    for address in forwarded_for:
        headers = {"X-Forwarded-For": address}
        statuses.append((await api.post("/api/session", json=UNKNOWN, headers=headers)).status_code)
    return statuses


def client_from(peer: str, trusted: tuple[ipaddress.IPv4Network, ...] = ()) -> httpx.AsyncClient:
    api = create_api(dataclasses.replace(parts(), trusted_proxies=trusted))
    transport = httpx.ASGITransport(app=api, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://hotline")


CLAIMED = [f"198.51.100.{n}" for n in range(1, 12)]


async def test_a_spoofed_forwarded_address_from_a_client_is_ignored() -> None:
    async with client_from("203.0.113.9", PROXIES) as api:  # type: ignore[arg-type]
        assert await logins(api, CLAIMED) == [401] * 10 + [429]


async def test_a_configured_proxys_clients_are_each_counted_as_themselves() -> None:
    async with client_from("10.0.0.2", PROXIES) as api:  # type: ignore[arg-type]
        assert await logins(api, CLAIMED) == [401] * 11  # eleven clients, one try each
        assert await logins(api, ["198.51.100.1"] * 10) == [401] * 9 + [429]


@contextlib.asynccontextmanager
async def served(trusted: tuple[ipaddress.IPv4Network, ...] = ()) -> AsyncIterator[str]:
    """The API under uvicorn as `hotline serve` configures it, on 127.0.0.1 (where, on a
    host-networked deployment, every local process and container connects from)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(_env_file=None, api_host="127.0.0.1", api_port=port)
    api = create_api(dataclasses.replace(parts(), trusted_proxies=trusted))
    server = api_server(settings, api)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_server_believes_no_forwarded_address_unless_told() -> None:
    """uvicorn's own default believes X-Forwarded-For from 127.0.0.1: turned off."""
    async with served() as url, httpx.AsyncClient(base_url=url) as api:
        assert await logins(api, CLAIMED) == [401] * 10 + [429]


async def test_a_standby_names_the_client_it_forwards_for() -> None:
    """A standby forwards /api to the active instance, which trusts it: each client is
    counted as itself there, whatever it claimed; not all of them as the standby."""
    async with served((ipaddress.ip_network("127.0.0.1"),)) as active:

        async def holder() -> str:
            return active

        standby = create_api(parts(role="standby", holder_url=holder))
        for peer in ("203.0.113.9", "203.0.113.10"):
            transport = httpx.ASGITransport(app=standby, client=(peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as api:
                # (the claims are the client's own: the standby trusts no one)
                assert await logins(api, CLAIMED[:10]) == [401] * 10
        transport = httpx.ASGITransport(app=standby, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as api:
            assert await logins(api, ["198.51.100.99"]) == [429]
        layer: Any = standby.middleware_stack
        while not isinstance(layer, Forward):
            layer = layer.app
        await layer.client.aclose()  # (its connections to the active one)
