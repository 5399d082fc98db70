"""Peer tools: create_peer, list_peers, chat, get_peer_card, set_peer_card, get_peer_context,
get_representation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, ConfigDict, Field

from .args import OptionalSession, PeerId, WorkspaceId
from .context import call, page_of, quote, text, workspace_of


class PeerConfiguration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    observeMe: bool | None = Field(  # upstream's argument name
        default=None,
        description="Whether derivation tasks are created for this peer's messages. Default: true.",
    )


def _peer_path(workspace_id: str | None, peer_id: str) -> str:
    return f"/workspaces/{quote(workspace_of(workspace_id))}/peers/{quote(peer_id)}"


def register(server: MCPServer) -> None:
    @server.tool(structured_output=False)
    async def create_peer(
        peer_id: Annotated[str, Field(description="Unique identifier for the peer.")],
        workspace_id: WorkspaceId = None,
        configuration: Annotated[
            PeerConfiguration | None, Field(description="Optional peer configuration.")
        ] = None,
    ) -> str:
        """Get or create a peer (a user or an agent taking part in conversations) with this id.
        Returns the peer id and its configuration."""
        w = quote(workspace_of(workspace_id))
        body: dict[str, Any] = {"id": peer_id}
        if configuration is not None and configuration.observeMe is not None:
            body["configuration"] = {"observe_me": configuration.observeMe}
        peer = await call("Failed to create peer", "POST", f"/workspaces/{w}/peers", body=body)
        return text({"peer_id": peer.get("id"), "configuration": peer.get("configuration")})

    @server.tool(structured_output=False)
    async def list_peers(workspace_id: WorkspaceId = None) -> str:
        """List the peers of the workspace (first page): which users and agents exist.
        Returns peer ids with total, page and pages."""
        w = quote(workspace_of(workspace_id))
        result = await call("Failed to list peers", "POST", f"/workspaces/{w}/peers/list", body={})
        return text(page_of(result, "peers", [{"id": p["id"]} for p in result.get("items", [])]))

    @server.tool(structured_output=False)
    async def chat(
        peer_id: Annotated[str, Field(description="The peer to query about.")],
        query: Annotated[str, Field(description="Natural-language question.")],
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None,
            Field(
                description=(
                    "Optional: ask what peer_id knows about this target peer instead of "
                    "peer_id's own global representation."
                )
            ),
        ] = None,
        session_id: OptionalSession = None,
        reasoning_level: Annotated[
            Literal["minimal", "low", "medium", "high", "max"] | None,
            Field(description="Reasoning effort. Higher = more detailed but slower."),
        ] = None,
    ) -> str:
        """Ask Honcho's reasoning a natural-language question about what it knows of a peer
        (preferences, history, personality, ...). Returns the answer as text, or 'None' when
        nothing relevant is known."""
        body: dict[str, Any] = {"query": query, "stream": False}
        if target_peer_id is not None:
            body["target"] = target_peer_id
        if session_id is not None:
            body["session_id"] = session_id
        if reasoning_level is not None:
            body["reasoning_level"] = reasoning_level
        result = await call(
            "Chat failed", "POST", _peer_path(workspace_id, peer_id) + "/chat", body=body
        )
        content = result.get("content") if isinstance(result, dict) else None
        return text(content if content else "None")

    @server.tool(structured_output=False)
    async def get_peer_card(
        peer_id: PeerId,
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None,
            Field(
                description="Optional: get this peer's card about the target instead of its own."
            ),
        ] = None,
    ) -> str:
        """Get a peer card: a short list of biographical facts about a peer. Use it for a quick
        'who is this'. Returns a JSON array of fact strings, or 'No peer card found.'."""
        result = await call(
            "Failed to get peer card",
            "GET",
            _peer_path(workspace_id, peer_id) + "/card",
            params={"target": target_peer_id},
        )
        card = result.get("peer_card") if isinstance(result, dict) else None
        return text(card if card else "No peer card found.")

    @server.tool(structured_output=False)
    async def set_peer_card(
        peer_id: PeerId,
        peer_card: Annotated[list[str], Field(description="Fact strings to set as the peer card.")],
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None,
            Field(
                description="Optional: set this peer's card about the target instead of its own."
            ),
        ] = None,
    ) -> str:
        """Set or replace a peer card (a list of biographical facts) to establish or correct
        what is known about a peer. Returns the card as saved."""
        result = await call(
            "Failed to set peer card",
            "PUT",
            _peer_path(workspace_id, peer_id) + "/card",
            body={"peer_card": peer_card},
            params={"target": target_peer_id},
        )
        card = result.get("peer_card") if isinstance(result, dict) else None
        return text(card if card is not None else "Peer card set successfully")

    @server.tool(structured_output=False)
    async def get_peer_context(
        peer_id: PeerId,
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None, Field(description="Optional: get context about this target peer.")
        ] = None,
        search_query: Annotated[
            str | None, Field(description="Optional: semantic search to pick relevant conclusions.")
        ] = None,
        max_conclusions: Annotated[
            int | None, Field(description="Optional: max number of conclusions to include.")
        ] = None,
    ) -> str:
        """Everything Honcho knows about a peer in one call: its representation (conclusions)
        and its peer card. Returns {peer_id, target_id, representation, peer_card}."""
        result = await call(
            "Failed to get peer context",
            "GET",
            _peer_path(workspace_id, peer_id) + "/context",
            params={
                "target": target_peer_id,
                "search_query": search_query,
                "max_conclusions": max_conclusions,
            },
        )
        return text(
            {k: result.get(k) for k in ("peer_id", "target_id", "representation", "peer_card")}
        )

    @server.tool(structured_output=False)
    async def get_representation(
        peer_id: PeerId,
        workspace_id: WorkspaceId = None,
        target_peer_id: Annotated[
            str | None, Field(description="Optional: representation about this target peer.")
        ] = None,
        session_id: OptionalSession = None,
        search_query: Annotated[
            str | None, Field(description="Optional: semantic search to filter conclusions.")
        ] = None,
        max_conclusions: Annotated[
            int | None, Field(description="Optional: max number of conclusions.")
        ] = None,
    ) -> str:
        """A peer's representation: a text summary built from its conclusions, without the peer
        card. Returns the formatted text."""
        body: dict[str, Any] = {}
        for key, value in (
            ("target", target_peer_id),
            ("session_id", session_id),
            ("search_query", search_query),
            ("max_conclusions", max_conclusions),
        ):
            if value is not None:
                body[key] = value
        result = await call(
            "Failed to get representation",
            "POST",
            _peer_path(workspace_id, peer_id) + "/representation",
            body=body,
        )
        return text(result.get("representation", "") if isinstance(result, dict) else "")
