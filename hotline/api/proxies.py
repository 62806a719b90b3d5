"""The client's address: the peer's own, unless the peer is a proxy this deployment trusts.

``X-Forwarded-For`` is only words a client wrote: taken from anyone, it lets one address
claim to be a thousand and log in ten times a minute from each (the login limit, the logs).
So it is read only when the connection comes from a configured proxy (HOTLINE_TRUSTED_PROXIES:
a reverse proxy, the other instance of a standby pair), and then from the right: each
trusted hop names the one before it, and the first address that is not a trusted proxy is the
client. Whatever stands left of it was written by the client itself.

uvicorn's own reading of the header is off (hotline/app.py): by default it believes any
request from 127.0.0.1, which on a host-networked deployment is every local process.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Networks = tuple[Network, ...]

#: The header a proxy adds the address it saw to (the standby sets it: hotline/api/standby.py).
FORWARDED_FOR = b"x-forwarded-for"


def _trusted(address: str, proxies: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str, forwarded_for: Iterable[str], proxies: Networks) -> str:
    """The client's address: ``peer`` unless it is one of ``proxies``; then the nearest
    address in ``forwarded_for`` (the header's values, in order) that is not one. A trusted
    proxy that names something other than an address leaves its own as the client's."""
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    address = peer
    while hops and _trusted(address, proxies):
        hop = hops.pop()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        address = hop
    return address


class ClientAddress:
    """ASGI middleware: the request's client (``scope["client"]``, which the routes' limits
    and uvicorn's access log read) is the one :func:`client_address` finds."""

    def __init__(self, app: ASGIApp, proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.proxies and scope.get("client"):
            peer = scope["client"][0]
            if _trusted(peer, self.proxies):
                headers: list[tuple[bytes, bytes]] = scope["headers"]
                said = [v.decode("latin-1") for k, v in headers if k == FORWARDED_FOR]
                address = client_address(peer, said, self.proxies)
                if address != peer:
                    # (in place: uvicorn's access log reads this very scope after the app)
                    scope["client"] = (address, 0)
        await self.app(scope, receive, send)
