"""The MCP server (31 tools) and how one HTTP request is served by it (stateless).

Imports the ``mcp`` package (almost half a second), so the app loads this module on the
first request to ``/mcp`` (:mod:`.endpoint`), and ``honcho-server mcp`` when it starts.
"""

from __future__ import annotations

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from .. import __version__
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


async def serve(
    server: MCPServer,
    app: FastAPI,
    headers: dict[str, str],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """One HTTP request, by a fresh stateless transport: nothing lives between requests and
    the app needs no extra lifespan. The tools it calls run as the request's caller."""
    caller = Caller(
        app=app,
        authorization=headers.get("authorization"),
        workspace=headers.get(WORKSPACE_HEADER) or None,
    )
    manager = StreamableHTTPSessionManager(
        server._lowlevel_server,
        stateless=True,
        json_response=True,
        # keys, not browser origins, guard this endpoint (CORS is the app's)
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    token = current.set(caller)
    try:
        async with manager.run():
            await manager.handle_request(scope, receive, send)
    finally:
        current.reset(token)
