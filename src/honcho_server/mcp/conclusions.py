"""Conclusion tools: list_conclusions, query_conclusions, create_conclusions,
delete_conclusion."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from .args import Metadata, PeerId, WorkspaceId
from .context import call, page_of, quote, text, workspace_of

_KEYS = ("id", "content", "level", "observer_id", "observed_id", "session_id", "created_at")


def _conclusion(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c.get(k) for k in _KEYS}


def _base(workspace_id: str | None) -> str:
    return f"/workspaces/{quote(workspace_of(workspace_id))}/conclusions"


def register(server: MCPServer) -> None:
    @server.tool(structured_output=False)
    async def list_conclusions(
        peer_id: PeerId,
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None,
            Field(
                description="Optional: conclusions about this target. Omit for self-conclusions."
            ),
        ] = None,
    ) -> str:
        """What Honcho has concluded (facts, observations) about a peer, from peer_id's point
        of view; without a target, about peer_id itself. First page, newest first. Returns
        conclusions with total, page and pages."""
        filters = {"observer_id": peer_id, "observed_id": target_peer_id or peer_id}
        result = await call(
            "Failed to list conclusions",
            "POST",
            _base(workspace_id) + "/list",
            body={"filters": filters},
        )
        items = [_conclusion(c) for c in result.get("items", [])]
        return text(page_of(result, "conclusions", items))

    @server.tool(structured_output=False)
    async def query_conclusions(
        peer_id: PeerId,
        query: Annotated[str, Field(description="Semantic search query.")],
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None, Field(description="Optional: search conclusions about this target.")
        ] = None,
        top_k: Annotated[int | None, Field(description="Max results to return.")] = None,
        filters: Annotated[
            Metadata | None,
            Field(
                description=(
                    'Optional filters, e.g. {"level": ["deductive", "inductive"]} for '
                    "conclusions derived while dreaming. Levels: explicit, deductive, "
                    "inductive, contradiction."
                )
            ),
        ] = None,
    ) -> str:
        """Semantic search over a peer's conclusions: more targeted than list_conclusions.
        Returns a JSON array of conclusions, most relevant first."""
        merged = dict(filters or {})
        merged.update({"observer_id": peer_id, "observed_id": target_peer_id or peer_id})
        body: dict[str, Any] = {"query": query, "filters": merged}
        if top_k is not None:
            body["top_k"] = top_k
        found = await call("Query failed", "POST", _base(workspace_id) + "/query", body=body)
        return text([_conclusion(c) for c in found])

    @server.tool(structured_output=False)
    async def create_conclusions(
        peer_id: PeerId,
        target_peer_id: Annotated[str, Field(description="The peer the conclusions are about.")],
        conclusions: Annotated[list[str], Field(description="Conclusion texts to create.")],
        workspace_id: WorkspaceId = None,
        session_id: Annotated[
            str | None,
            Field(description="Optional: tie the conclusions to a session. Omit for global ones."),
        ] = None,
    ) -> str:
        """Add facts about a peer by hand (knowledge that did not come from a conversation),
        as seen by peer_id. Returns how many were created."""
        rows = []
        for content in conclusions:
            row: dict[str, Any] = {
                "content": content,
                "observer_id": peer_id,
                "observed_id": target_peer_id,
            }
            if session_id is not None:
                row["session_id"] = session_id
            rows.append(row)
        await call(
            "Failed to create conclusions", "POST", _base(workspace_id), body={"conclusions": rows}
        )
        n = len(conclusions)
        return f"Created {n} conclusion{'' if n == 1 else 's'} successfully"

    @server.tool(structured_output=False)
    async def delete_conclusion(
        peer_id: PeerId,
        target_peer_id: Annotated[str, Field(description="The peer the conclusion is about.")],
        conclusion_id: Annotated[str, Field(description="The conclusion to delete.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """Remove a wrong or outdated conclusion by id (find ids with query_conclusions or
        list_conclusions)."""
        await call(
            "Failed to delete conclusion",
            "DELETE",
            _base(workspace_id) + f"/{quote(conclusion_id)}",
        )
        return "Conclusion deleted successfully"
