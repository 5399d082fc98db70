"""``/mcp`` in the app: the key checked at the door, then the MCP server (:mod:`.server`),
loaded on the first request."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..auth.keys import MISSING, verify
from ..errors import HonchoError
from ..settings import Settings

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


class MCPEndpoint:
    """``/mcp``: each HTTP request is served by a fresh stateless transport (:func:`.server.serve`),
    the server built on the first. The caller's Authorization header travels with the request
    to the REST routes the tools dispatch to."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.server: MCPServer | None = None
        self._loading = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(headers.get("authorization"))
        if refusal is not None:  # a bad key is refused at the door, as the REST API does
            await JSONResponse({"detail": refusal}, status_code=401)(scope, receive, send)
            return
        server = await self._server()
        from .server import serve  # loaded by now

        await serve(server, self.app, headers, scope, receive, send)

    async def _server(self) -> MCPServer:
        """The MCP server, built on first use: importing the ``mcp`` package takes almost half
        a second, which every process start would pay, so it is imported then, in a thread
        (the event loop keeps serving meanwhile)."""
        if self.server is not None:
            return self.server
        async with self._loading:
            if self.server is None:
                self.server = await asyncio.to_thread(_build)
        return self.server

    def _refusal(self, authorization: str | None) -> str | None:
        """Why this request's key is refused (missing, malformed, expired), if auth is on.
        What the key may reach is decided per tool call, by the REST route's guard."""
        settings: Settings = self.app.state.settings
        secret = settings.auth_jwt_secret
        if not settings.auth_use_auth:
            return None
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or secret is None:
            return MISSING
        try:
            verify(token.strip(), secret.get_secret_value())
        except HonchoError as exc:
            return str(exc)
        return None


def _build() -> MCPServer:
    from .server import build_server

    return build_server()


def install(app: FastAPI) -> None:
    """Serve ``/mcp`` from ``app`` (outside the REST guard: each tool call goes through it)."""
    app.router.routes.append(
        Route("/mcp", endpoint=MCPEndpoint(app), methods=["GET", "POST", "DELETE"])
    )
