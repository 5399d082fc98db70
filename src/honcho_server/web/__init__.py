"""The memory explorer: server-rendered pages at ``/`` (Jinja2 + vendored htmx), and offline
``/docs`` and ``/redoc``. Pages read and change memory only through the guarded REST routes
(:mod:`.dispatch`), with the browser session's key (:mod:`.browser`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from . import docs
from .browser import FORGED, Forged, LoginRequired, Viewer, viewer_or_none
from .dispatch import ApiError
from .pages import chat, conclusions, login, overview, peers, search, sessions, workspaces
from .render import page

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="explorer-static")
    docs.install(app)
    for module in (login, overview, workspaces, sessions, peers, conclusions, chat, search):
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forged, _forged)
    app.add_exception_handler(ApiError, _api_error)


async def _login_required(request: Request, exc: Exception) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/ui/login"})
    return RedirectResponse("/ui/login", status_code=303)


async def _forged(request: Request, exc: Exception) -> Response:
    return page(request, None, "error.html", status=403, detail=FORGED)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if request.headers.get("hx-request"):
        return page(request, None, "fragment_error.html", status=exc.status, detail=exc.detail)
    viewer: Viewer | None = viewer_or_none(request)  # the header still offers sign-out
    return page(request, viewer, "error.html", status=exc.status, detail=exc.detail)
