"""Workspace tools: inspect_workspace, list_workspaces, create_workspace, search, get_metadata,
set_metadata."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from .args import Metadata, WorkspaceId
from .context import call, message, quote, text, workspace_of

ADMIN_HINT = ". This operation is only possible with an admin API key."


def _workspace(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": w.get("id"),
        "metadata": w.get("metadata") or {},
        "created_at": w.get("created_at"),
    }


async def _admin(what: str, method: str, path: str, **kw: Any) -> Any:
    try:
        return await call(what, method, path, **kw)
    except ToolError as exc:
        message = str(exc)
        if "permission" in message or "admin" in message or "Authorization" in message:
            raise ToolError(message + ADMIN_HINT) from exc
        raise


def register(server: MCPServer) -> None:
    @server.tool(structured_output=False)
    async def inspect_workspace(workspace_id: WorkspaceId = None) -> str:
        """Inspect a workspace at a glance: its metadata, configuration, the first page of peer
        ids and session ids, and total counts of both. Use it first to orient yourself in a
        workspace. Returns one JSON object."""
        w = workspace_of(workspace_id)
        what = "Failed to inspect workspace"
        # peers first: an unknown workspace is an error here, not created by the get-or-create
        peers = await call(what, "POST", f"/workspaces/{quote(w)}/peers/list", body={})
        found, sessions = await asyncio.gather(
            call(what, "POST", "/workspaces", body={"id": w}),
            call(what, "POST", f"/workspaces/{quote(w)}/sessions/list", body={}),
        )
        return text(
            {
                "workspace_id": w,
                "metadata": found.get("metadata") or {},
                "configuration": found.get("configuration") or {},
                "peer_count": peers.get("total"),
                "peers": [{"id": p["id"]} for p in peers.get("items", [])],
                "session_count": sessions.get("total"),
                "sessions": [{"id": s["id"]} for s in sessions.get("items", [])],
            }
        )

    @server.tool(structured_output=False)
    async def list_workspaces(
        page: Annotated[int | None, Field(ge=1, description="Page number (1-indexed).")] = None,
        size: Annotated[
            int | None, Field(ge=1, le=100, description="Results per page (max 100).")
        ] = None,
    ) -> str:
        """List the workspaces these credentials can see (paginated). Skip it when the
        connection sets X-Honcho-Workspace-ID: that header is the workspace. Returns each
        workspace's id, metadata and created_at, with total, page and pages. If none fits,
        call create_workspace."""
        result = await _admin(
            "Failed to list workspaces",
            "POST",
            "/workspaces/list",
            body={},
            params={"page": page, "size": size},
        )
        return text(page_of_workspaces(result))

    @server.tool(structured_output=False)
    async def create_workspace(
        workspace_id: WorkspaceId = None,
        metadata: Annotated[
            Metadata | None,
            Field(description="Optional key-value metadata (e.g. project, purpose)."),
        ] = None,
    ) -> str:
        """Get or create the workspace with this id. Skip it when the connection sets
        X-Honcho-Workspace-ID. Metadata helps later list_workspaces calls tell workspaces apart.
        Returns the workspace id, metadata and created_at."""
        w = workspace_of(workspace_id)
        body: dict[str, Any] = {"id": w}
        if metadata is not None:
            body["metadata"] = metadata
        found = await _admin("Failed to create workspace", "POST", "/workspaces", body=body)
        return text(_workspace(found))

    @server.tool(structured_output=False)
    async def search(
        query: Annotated[str, Field(description="Search query.")],
        workspace_id: WorkspaceId = None,
        peer_id: Annotated[
            str | None, Field(description="Optional: scope search to messages by this peer.")
        ] = None,
        session_id: Annotated[
            str | None, Field(description="Optional: scope search to messages in this session.")
        ] = None,
        message_limit: Annotated[
            int | None, Field(description="Optional: max message results (1-100, default 10).")
        ] = None,
        message_filters: Annotated[
            Metadata | None,
            Field(
                description='Optional: message filters, e.g. {"created_at": {"gte": "2026-01-01"}}.'
            ),
        ] = None,
        conclusion_top_k: Annotated[
            int | None, Field(description="Optional: max conclusion results (default 10).")
        ] = None,
        conclusion_filters: Annotated[
            Metadata | None,
            Field(
                description=(
                    'Optional: conclusion filters, e.g. {"level": ["deductive", "inductive"]}. '
                    "Levels: explicit, deductive, inductive, contradiction. session_id does not "
                    'scope conclusions; use {"session_id": ...} here for that.'
                )
            ),
        ] = None,
    ) -> str:
        """Semantic search over messages and, when peer_id is given, that peer's own
        conclusions. Message scope: no scope argument = the whole workspace; peer_id = messages
        by that peer; session_id = messages in that session. Returns {messages, conclusions}
        (conclusion ids work with delete_conclusion)."""
        w = quote(workspace_of(workspace_id))
        what = "Search failed"
        body: dict[str, Any] = {"query": query}
        if message_filters is not None:
            body["filters"] = message_filters
        if message_limit is not None:
            body["limit"] = message_limit
        if session_id:
            path = f"/workspaces/{w}/sessions/{quote(session_id)}/search"
        elif peer_id:
            path = f"/workspaces/{w}/peers/{quote(peer_id)}/search"
        else:
            path = f"/workspaces/{w}/search"
        messages = await call(what, "POST", path, body=body)
        conclusions: list[dict[str, Any]] = []
        if peer_id:
            filters = dict(conclusion_filters or {})
            filters.update({"observer_id": peer_id, "observed_id": peer_id})
            query_body: dict[str, Any] = {"query": query, "filters": filters}
            if conclusion_top_k is not None:
                query_body["top_k"] = conclusion_top_k
            try:
                conclusions = await call(
                    what, "POST", f"/workspaces/{w}/conclusions/query", body=query_body
                )
            except ToolError:
                if conclusion_filters:
                    raise
                conclusions = []
        return text(
            {
                "messages": [message(m) for m in messages],
                "conclusions": [
                    {k: c.get(k) for k in ("id", "content", "level", "created_at")}
                    for c in conclusions
                ],
            }
        )

    @server.tool(structured_output=False)
    async def get_metadata(
        workspace_id: WorkspaceId = None,
        peer_id: Annotated[
            str | None, Field(description="Optional: get this peer's metadata.")
        ] = None,
        session_id: Annotated[
            str | None, Field(description="Optional: get this session's metadata.")
        ] = None,
    ) -> str:
        """Get the metadata of the workspace (no scope argument), of a peer (peer_id) or of a
        session (session_id). Returns the metadata object."""
        found = await _get_or_create(workspace_of(workspace_id), peer_id, session_id, None)
        return text(found.get("metadata") or {})

    @server.tool(structured_output=False)
    async def set_metadata(
        metadata: Annotated[Metadata, Field(description="Key-value pairs to set as metadata.")],
        workspace_id: WorkspaceId = None,
        peer_id: Annotated[
            str | None, Field(description="Optional: set this peer's metadata.")
        ] = None,
        session_id: Annotated[
            str | None, Field(description="Optional: set this session's metadata.")
        ] = None,
    ) -> str:
        """Replace the metadata of the workspace (no scope argument), of a peer (peer_id) or of
        a session (session_id). Overwrites what was there. Returns a confirmation."""
        w = workspace_of(workspace_id)
        what = "Failed to set metadata"
        if session_id:
            await call(
                what,
                "PUT",
                f"/workspaces/{quote(w)}/sessions/{quote(session_id)}",
                body={"metadata": metadata},
            )
            return "Session metadata set successfully"
        if peer_id:
            await call(
                what,
                "PUT",
                f"/workspaces/{quote(w)}/peers/{quote(peer_id)}",
                body={"metadata": metadata},
            )
            return "Peer metadata set successfully"
        await call(what, "PUT", f"/workspaces/{quote(w)}", body={"metadata": metadata})
        return "Workspace metadata set successfully"


async def _get_or_create(
    w: str, peer_id: str | None, session_id: str | None, what: str | None
) -> Any:
    what = what or "Failed to get metadata"
    if session_id:
        return await call(what, "POST", f"/workspaces/{quote(w)}/sessions", body={"id": session_id})
    if peer_id:
        return await call(what, "POST", f"/workspaces/{quote(w)}/peers", body={"id": peer_id})
    return await call(what, "POST", "/workspaces", body={"id": w})


def page_of_workspaces(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "workspaces": [_workspace(w) for w in result.get("items", [])],
        "total": result.get("total"),
        "page": result.get("page"),
        "pages": result.get("pages"),
    }
