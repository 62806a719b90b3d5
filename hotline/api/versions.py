"""The API's version in its paths: every route is under ``/api/v1``; the paths of before,
``/api/...``, are kept as aliases for one release: such a request is answered as its
``/api/v1`` path is, with ``Deprecation: true`` and a ``Link`` to that path (RFC 9745,
RFC 8288), so that an integrator sees the move in every answer before the aliases go."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where the routes are.
API = "/api/v1"
#: The prefix of the paths of before (aliases for one release).
LEGACY = "/api"


def canonical(path: str) -> str | None:
    """``path`` under :data:`API` if it is an alias of before (``/api/calls`` ->
    ``/api/v1/calls``), else None (already versioned, or not the API's)."""
    if path.startswith(f"{LEGACY}/") and not path.startswith((f"{API}/", f"{LEGACY}/v")):
        return API + path.removeprefix(LEGACY)
    return None


class Aliases:
    """ASGI: a request on an alias of before goes on as its ``/api/v1`` path; its answer says
    the alias is deprecated and where its successor is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        moved = canonical(scope["path"]) if scope["type"] in ("http", "websocket") else None
        if moved is None:
            await self.app(scope, receive, send)
            return
        scope = {**scope, "path": moved, "raw_path": moved.encode()}
        link = f'<{moved}>; rel="successor-version"'.encode()

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"deprecation", b"true"), (b"link", link)]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, marked)
