"""``honcho-server mcp``: the same tools over stdio, against the same database, or against a
running server (``--url``).

The key comes from ``HONCHO_API_KEY`` (or ``--api-key``; needed when AUTH_USE_AUTH is on; the
tools then reach what that key reaches) and the default workspace from ``HONCHO_WORKSPACE_ID``.
"""

from __future__ import annotations

import asyncio
import os

import httpx

from ..app import create_app
from ..settings import Settings
from .context import Caller, current
from .server import build_server


def _key(api_key: str | None) -> str | None:
    key = (api_key if api_key is not None else os.environ.get("HONCHO_API_KEY", "")).strip()
    return f"Bearer {key}" if key else None


def _workspace() -> str | None:
    return os.environ.get("HONCHO_WORKSPACE_ID", "").strip() or None


async def _serve(settings: Settings, url: str) -> None:
    app = create_app(settings, database_url=url)
    caller = Caller(app=app, authorization=_key(None), workspace=_workspace())
    async with app.router.lifespan_context(app):
        token = current.set(caller)
        try:
            await build_server().run_stdio_async()
        finally:
            current.reset(token)


def serve_stdio(settings: Settings, url: str) -> int:
    asyncio.run(_serve(settings, url))
    return 0


class Unreachable(RuntimeError):
    """The server behind ``--url`` does not answer like a honcho-server."""


def server_url(url: str) -> str:
    """``http://host:8000`` from what a person may type (a trailing ``/`` or ``/v3``)."""
    base = url.strip().rstrip("/")
    return base.removesuffix("/v3")


async def _serve_remote(url: str, api_key: str | None) -> None:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            health = await client.get("/health")
    except httpx.HTTPError as exc:
        raise Unreachable(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    if health.status_code != 200:
        raise Unreachable(f"{url}/health answered {health.status_code}: is it a honcho-server?")
    caller = Caller(app=None, authorization=_key(api_key), workspace=_workspace(), url=url)
    token = current.set(caller)
    try:
        await build_server().run_stdio_async()
    finally:
        current.reset(token)


def serve_stdio_remote(url: str, api_key: str | None) -> int:
    """Forward every tool call to the server at ``url`` over HTTP (no database here)."""
    asyncio.run(_serve_remote(server_url(url), api_key))
    return 0
