"""The MCP server (31 tools) and its Streamable HTTP endpoint at ``/mcp`` (stateless)."""

from __future__ import annotations

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import __version__
from ..auth.keys import MISSING, verify
from ..errors import HonchoError
from ..settings import Settings
from . import conclusions, peers, sessions, system, workspace
from .context import WORKSPACE_HEADER, Caller, current

INSTRUCTIONS = (
    "Honcho is a memory server for agents: workspaces hold peers (users and agents) and "
    "sessions (conversations) of messages; Honcho derives conclusions and peer cards about "
    "peers in the background. Tools take workspace_id, or use the connection's "
    "X-Honcho-Workspace-ID header when it is omitted."
)


def build_server() -> MCPServer:
    """The 31 tools. Like upstream's, they answer with text (JSON for objects), no output
    schema; a failure is a tool error (``isError``) carrying Honcho's message."""
    server: MCPServer = MCPServer(
        name="honcho", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    for group in (workspace, peers, sessions, conclusions, system):
        group.register(server)
    return server


class MCPEndpoint:
    """``/mcp``: each HTTP request is served by a fresh stateless transport, so nothing lives
    between requests and the app needs no extra lifespan. The caller's Authorization header
    travels with the request to the REST routes the tools dispatch to."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.server = build_server()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(headers.get("authorization"))
        if refusal is not None:  # a bad key is refused at the door, as the REST API does
            await JSONResponse({"detail": refusal}, status_code=401)(scope, receive, send)
            return
        caller = Caller(
            app=self.app,
            authorization=headers.get("authorization"),
            workspace=headers.get(WORKSPACE_HEADER) or None,
        )
        token = current.set(caller)
        try:
            manager = StreamableHTTPSessionManager(
                self.server._lowlevel_server,
                stateless=True,
                json_response=True,
                # keys, not browser origins, guard this endpoint (CORS is the app's)
                security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            async with manager.run():
                await manager.handle_request(scope, receive, send)
        finally:
            current.reset(token)

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


def install(app: FastAPI) -> None:
    """Serve ``/mcp`` from ``app`` (outside the REST guard: each tool call goes through it)."""
    app.router.routes.append(
        Route("/mcp", endpoint=MCPEndpoint(app), methods=["GET", "POST", "DELETE"])
    )
