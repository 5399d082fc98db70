"""What a tool call runs against: the app (or a server's URL), the caller's key and its
default workspace.

A tool does exactly what the equivalent REST route does, by dispatching to that route inside
this process (no socket): the same guard (``auth.policy`` per route and options, membership
checks, the handlers' own checks), the same unit of work, the same errors. So a key reaches
through MCP exactly what it reaches through REST. ``honcho-server mcp --url`` sends the same
requests to a running server over HTTP instead (``Caller.url``).
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote as _quote
from urllib.parse import unquote

import httpx
from fastapi import FastAPI
from mcp.server.mcpserver.exceptions import ToolError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..api import inprocess
from ..api.inprocess import Reply
from ..db.repositories.workspaces import WorkspaceRepository
from ..db.session import unit_of_work

MISSING_WORKSPACE = (
    "Missing workspace_id. Pass workspace_id on the next tool call, or set the "
    "X-Honcho-Workspace-ID header on the connection so it is used automatically."
)
WORKSPACE_HEADER = "x-honcho-workspace-id"


@dataclass(frozen=True)
class Caller:
    app: FastAPI | None  # the routes, in this process (None: ``url``)
    authorization: str | None  # the caller's ``Authorization`` header, passed on as is
    workspace: str | None  # from ``X-Honcho-Workspace-ID``
    url: str | None = None  # a running server (``honcho-server mcp --url``), instead of ``app``

    async def send(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Run ``path`` (``/v3/…``) with the caller's key: in this process, or on ``url``."""
        if self.authorization:
            kwargs["headers"] = {"Authorization": self.authorization}
        if self.app is not None:
            request = httpx.Request(method, "http://mcp.local" + path, **kwargs)
            return await inprocess.collect(self.app, request)
        assert self.url is not None
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.request(method, path, timeout=None, **kwargs)
        return Reply(response.status_code, response.content, dict(response.headers))


current: ContextVar[Caller] = ContextVar("honcho_mcp_caller")


def workspace_of(argument: str | None) -> str:
    """The tool's ``workspace_id`` argument, else the connection's header."""
    value = (argument or "").strip() or (current.get().workspace or "").strip()
    if not value:
        raise ToolError(MISSING_WORKSPACE)
    return value


async def call(
    what: str,
    method: str,
    path: str,
    *,
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """The REST route's JSON answer, or a tool error carrying Honcho's message."""
    caller = current.get()
    query = {k: v for k, v in (params or {}).items() if v is not None}
    reply = await caller.send(method, "/v3" + path, params=query, json=body)
    if not reply.ok:
        raise ToolError(f"{what}: {reply.detail()}")
    await _require_workspace(caller, path)
    return reply.json()


async def _require_workspace(caller: Caller, path: str) -> None:
    """An unknown workspace is an error for MCP clients (REST lists it as empty). Checked only
    after the route accepted the key, so the answer tells nothing to a key without reach."""
    parts = path.split("/")
    if len(parts) < 4 or parts[1] != "workspaces":
        return  # create_workspace, list_workspaces
    name = unquote(parts[2])
    if caller.app is None:
        if not await _exists_remotely(caller, name):
            raise ToolError(f"Workspace {name} not found")
        return
    factory: async_sessionmaker[AsyncSession] = caller.app.state.session_factory
    async with unit_of_work(factory) as db:
        row = await WorkspaceRepository(db).get(name)
    if row is None or row.deleted_at is not None:
        raise ToolError(f"Workspace {name} not found")


async def _exists_remotely(caller: Caller, name: str) -> bool:
    """``GET /v3/workspaces/{name}``: a 404 is "absent"; a key that may not read the
    workspace itself (a peer or session key) passes, as the route it called accepted it."""
    reply = await caller.send("GET", "/v3/workspaces/" + quote(name))
    return reply.status != 404


def text(data: Any) -> str:
    """A tool's answer: strings as they are, anything else as compact JSON."""
    return data if isinstance(data, str) else json.dumps(data, default=str)


def quote(segment: str) -> str:
    """An id as one path segment."""
    return _quote(segment, safe="")


def page_of(result: dict[str, Any], key: str, items: list[Any]) -> dict[str, Any]:
    return {
        key: items,
        "total": result.get("total"),
        "page": result.get("page"),
        "pages": result.get("pages"),
    }


def message(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": m.get("id"),
        "content": m.get("content"),
        "peer_id": m.get("peer_id"),
        "session_id": m.get("session_id"),
        "metadata": m.get("metadata"),
        "created_at": m.get("created_at"),
    }
