"""``/docs`` (Swagger UI 5) and ``/redoc`` that work offline: their scripts and styles are
served from the ``fastapi-standalone-docs`` PyPI package's static files (Swagger UI under
Apache-2.0, ReDoc under MIT, their licenses beside them in that package), never from a CDN.
Only its asset folder is used; the pages are FastAPI's own."""

from __future__ import annotations

from pathlib import Path

import fastapi_standalone_docs  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

ASSETS = "/ui/docs-assets"
FAVICON = f"{ASSETS}/fastapi/favicon.png"
REDOC_LOGO = "/redoc/logo-mini.svg"  # ReDoc's script asks for it beside the page


async def swagger(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Honcho API · Swagger UI",
        swagger_js_url=f"{ASSETS}/swagger/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )


async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="Honcho API · ReDoc",
        redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )


STATIC = Path(next(iter(fastapi_standalone_docs.__path__))) / "static"


async def redoc_logo(request: Request) -> FileResponse:
    """ReDoc's "API docs by Redocly" logo."""
    return FileResponse(STATIC / "redoc" / "logo-mini.svg", media_type="image/svg+xml")


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="docs-assets")
    # plain routes, like FastAPI's own docs routes: public pages outside the API
    for path, endpoint in (("/docs", swagger), ("/redoc", redoc), (REDOC_LOGO, redoc_logo)):
        app.router.routes.append(Route(path, endpoint, methods=["GET"], include_in_schema=False))
