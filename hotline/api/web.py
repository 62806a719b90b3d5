"""The supervisors' wallboard, the call search and the operators' desk: static pages served
by the service itself (no CDN, no build step), talking to the API with the browser's login
cookie."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

PAGES = Path(__file__).resolve().parent.parent / "web"


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=PAGES), name="static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(PAGES / "dashboard.html", headers={"Cache-Control": "no-cache"})

    @app.get("/desk", include_in_schema=False)
    async def desk() -> FileResponse:
        return FileResponse(PAGES / "desk.html", headers={"Cache-Control": "no-cache"})

    @app.get("/calls", include_in_schema=False)
    async def calls() -> FileResponse:
        return FileResponse(PAGES / "calls.html", headers={"Cache-Control": "no-cache"})
