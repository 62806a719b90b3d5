"""A recording or message from the vault, as an HTTP answer: opened (authenticated whole)
before a byte is sent, then streamed decrypted, a byte range (206) when the browser's audio
player asks for one to seek. The plaintext is never written anywhere on the way."""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse

from hotline.vault import Opened, Unavailable, Vault, VaultError

#: ``bytes=START-END``, ``bytes=START-`` or ``bytes=-SUFFIX``: one range (what browsers send).
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

#: What a route streaming audio answers besides its own errors.
SEALED = (
    500,
    "The recording is kept but cannot be opened: changed on disk, or sealed under a key this "
    "service was not given (its log says which).",
)
#: The audio's answers, for a route's ``responses``.
AUDIO_SCHEMA = {"type": "string", "format": "binary"}


def range_of(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes asked for (first, last), None for the whole; HTTPException 416 when they are
    beyond the end."""
    found = RANGE.match(header.strip()) if header else None
    if found is None or size == 0 or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise HTTPException(416, f"range {header!r} is beyond the {size} bytes")
    return start, end


async def stream(
    vault: Vault | None, path: str, request: Request, filename: str, media_type: str, what: str
) -> StreamingResponse:
    """The plaintext of ``path`` (from the vault), whole or the range asked; 404 when it is
    kept nowhere, 503 when the shared database is away, 500 when it cannot be opened."""
    if vault is None:
        raise HTTPException(404, f"{what} is kept nowhere")
    try:
        opened = await vault.open(path)
        if opened is None:
            raise HTTPException(404, f"{what} is kept nowhere (deleted, or never stored)")
        await opened.verify()
    except Unavailable:
        raise HTTPException(503, "the shared database is unreachable; try again") from None
    except VaultError as exc:
        raise HTTPException(500, f"{what} cannot be opened: {exc}") from None
    asked = range_of(request.headers.get("range"), opened.size)
    start, end = asked or (0, opened.size - 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(max(0, end - start + 1)),
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "no-store",  # a caller's voice is kept in no browser's cache
    }
    if asked is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{opened.size}"
    return StreamingResponse(
        _body(opened, start, end),
        status_code=206 if asked is not None else 200,
        media_type=media_type,
        headers=headers,
    )


async def _body(opened: Opened, start: int, end: int) -> Any:
    async for piece in opened.stream(start, end):
        yield piece
