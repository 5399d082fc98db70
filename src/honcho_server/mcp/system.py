"""System tools: schedule_dream, get_queue_status."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from .args import WorkspaceId
from .context import call, quote, text, workspace_of


def register(server: MCPServer) -> None:
    @server.tool(structured_output=False)
    async def schedule_dream(
        peer_id: Annotated[str, Field(description="The observer peer to dream for.")],
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None,
            Field(description="Optional: dream about this target peer. Omit for self-reflection."),
        ] = None,
        session_id: Annotated[
            str | None, Field(description="Optional: scope the dream to a session.")
        ] = None,
    ) -> str:
        """Schedule a dream: background memory consolidation for a peer that turns
        observations into higher-level insights and refreshes peer cards. Useful after a long
        conversation."""
        body: dict[str, Any] = {"observer": peer_id, "dream_type": "omni"}
        if target_peer_id is not None:
            body["observed"] = target_peer_id
        if session_id is not None:
            body["session_id"] = session_id
        w = quote(workspace_of(workspace_id))
        await call("Failed to schedule dream", "POST", f"/workspaces/{w}/schedule_dream", body=body)
        return "Dream scheduled successfully"

    @server.tool(structured_output=False)
    async def get_queue_status(workspace_id: WorkspaceId = None) -> str:
        """How far Honcho's background processing (message derivation, dreams) has come: check
        it before asking for insights about recent messages. Returns work-unit counts (total,
        completed, in progress, pending)."""
        w = quote(workspace_of(workspace_id))
        return text(
            await call("Failed to get queue status", "GET", f"/workspaces/{w}/queue/status")
        )
