"""Session tools: create_session, list_sessions, delete_session, clone_session,
add_peers_to_session, remove_peers_from_session, get_session_peers, inspect_session,
add_messages_to_session, get_session_messages, get_session_message, get_session_context."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, ConfigDict, Field

from .args import Metadata, WorkspaceId
from .context import call, message, page_of, quote, text, workspace_of


class SessionPeer(BaseModel):
    """A peer with its per-session configuration."""

    model_config = ConfigDict(extra="forbid")
    peer_id: str = Field(description="Peer ID.")
    observe_me: bool | None = Field(
        default=None, description="Whether this peer's messages trigger derivation in this session."
    )
    observe_others: bool | None = Field(
        default=None,
        description="Whether this peer observes other peers' messages in this session.",
    )


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    peer_id: str = Field(description="Peer ID authoring this message.")
    content: str = Field(description="Message text.")
    metadata: Metadata | None = Field(default=None, description="Optional metadata.")


def _path(workspace_id: str | None, session_id: str) -> str:
    return f"/workspaces/{quote(workspace_of(workspace_id))}/sessions/{quote(session_id)}"


def _summary(s: dict[str, Any] | None) -> dict[str, Any] | None:
    if not s:
        return None
    keys = ("content", "message_id", "summary_type", "created_at", "token_count")
    return {k: s.get(k) for k in keys}


def register(server: MCPServer) -> None:
    @server.tool(structured_output=False)
    async def create_session(
        session_id: Annotated[str, Field(description="Unique identifier for the session.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """Get or create a session (one conversation) with this id. Returns the session id."""
        w = quote(workspace_of(workspace_id))
        found = await call(
            "Failed to create session", "POST", f"/workspaces/{w}/sessions", body={"id": session_id}
        )
        return text({"session_id": found.get("id")})

    @server.tool(structured_output=False)
    async def list_sessions(workspace_id: WorkspaceId = None) -> str:
        """List the sessions (conversations) of the workspace, first page. Returns session ids
        with total, page and pages."""
        w = quote(workspace_of(workspace_id))
        result = await call(
            "Failed to list sessions", "POST", f"/workspaces/{w}/sessions/list", body={}
        )
        items = [{"id": s["id"]} for s in result.get("items", [])]
        return text(page_of(result, "sessions", items))

    @server.tool(structured_output=False)
    async def delete_session(
        session_id: Annotated[str, Field(description="The session to delete.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """Delete a session and all its messages. This cannot be undone."""
        await call("Failed to delete session", "DELETE", _path(workspace_id, session_id))
        return "Session deleted successfully"

    @server.tool(structured_output=False)
    async def clone_session(
        session_id: Annotated[str, Field(description="The session to clone.")],
        workspace_id: WorkspaceId = None,
        message_id: Annotated[
            str | None,
            Field(description="Optional: clone only up to and including this message."),
        ] = None,
    ) -> str:
        """Fork a conversation: copy a session, whole or up to a message. Returns the new
        session's id."""
        cloned = await call(
            "Failed to clone session",
            "POST",
            _path(workspace_id, session_id) + "/clone",
            params={"message_id": message_id},
        )
        return text({"session_id": cloned.get("id")})

    @server.tool(structured_output=False)
    async def add_peers_to_session(
        session_id: Annotated[str, Field(description="The session to add peers to.")],
        peers: Annotated[
            list[str | SessionPeer],
            Field(description="Peers to add: plain ids, or objects with per-session config."),
        ],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """Bring one or more peers into a conversation (optionally with whether they are
        observed / observe others in this session)."""
        body: dict[str, dict[str, Any]] = {}
        for peer in peers:
            if isinstance(peer, str):
                body[peer] = {}
            else:
                body[peer.peer_id] = peer.model_dump(exclude={"peer_id"}, exclude_none=True)
        await call(
            "Failed to add peers", "POST", _path(workspace_id, session_id) + "/peers", body=body
        )
        return "Peers added to session successfully"

    @server.tool(structured_output=False)
    async def remove_peers_from_session(
        session_id: Annotated[str, Field(description="The session to remove peers from.")],
        peer_ids: Annotated[list[str], Field(description="Peer IDs to remove.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """Remove one or more peers from a session (their past messages stay)."""
        await call(
            "Failed to remove peers",
            "DELETE",
            _path(workspace_id, session_id) + "/peers",
            body=peer_ids,
        )
        return "Peers removed from session successfully"

    @server.tool(structured_output=False)
    async def get_session_peers(
        session_id: Annotated[str, Field(description="The session to query.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """Who takes part in a conversation. Returns a JSON array of peer ids."""
        result = await call(
            "Failed to get session peers", "GET", _path(workspace_id, session_id) + "/peers"
        )
        return text([p["id"] for p in result.get("items", [])])

    @server.tool(structured_output=False)
    async def inspect_session(
        session_id: Annotated[str, Field(description="The session to inspect.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """A session at a glance: its peer ids, its message count and its summaries.
        Returns one JSON object."""
        path = _path(workspace_id, session_id)
        what = "Failed to inspect session"
        peers, messages, summaries = await asyncio.gather(
            call(what, "GET", path + "/peers"),
            call(what, "POST", path + "/messages/list", body={}, params={"size": 1}),
            call(what, "GET", path + "/summaries"),
        )
        return text(
            {
                "session_id": session_id,
                "peers": [{"id": p["id"]} for p in peers.get("items", [])],
                "message_count": messages.get("total"),
                "summaries": {
                    "session_id": summaries.get("id", session_id),
                    "short_summary": _summary(summaries.get("short_summary")),
                    "long_summary": _summary(summaries.get("long_summary")),
                },
            }
        )

    @server.tool(structured_output=False)
    async def add_messages_to_session(
        session_id: Annotated[str, Field(description="The session to add messages to.")],
        messages: Annotated[list[NewMessage], Field(description="Messages to add.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """Record conversation turns in a session. Each message names its author (peer_id);
        Honcho learns about the peers from them in the background."""
        body = {"messages": [m.model_dump(exclude_none=True) for m in messages]}
        await call(
            "Failed to add messages",
            "POST",
            _path(workspace_id, session_id) + "/messages",
            body=body,
        )
        return "Messages added to session successfully"

    @server.tool(structured_output=False)
    async def get_session_messages(
        session_id: Annotated[str, Field(description="The session to get messages from.")],
        workspace_id: WorkspaceId = None,
        filters: Annotated[
            Metadata | None, Field(description="Optional metadata filter criteria.")
        ] = None,
    ) -> str:
        """Read a conversation's history (first page, oldest first), optionally filtered.
        Returns messages with total, page and pages."""
        body = {"filters": filters} if filters is not None else {}
        result = await call(
            "Failed to get messages",
            "POST",
            _path(workspace_id, session_id) + "/messages/list",
            body=body,
        )
        items = [message(m) for m in result.get("items", [])]
        return text(page_of(result, "messages", items))

    @server.tool(structured_output=False)
    async def get_session_message(
        session_id: Annotated[str, Field(description="The session the message belongs to.")],
        message_id: Annotated[str, Field(description="The message ID to fetch.")],
        workspace_id: WorkspaceId = None,
    ) -> str:
        """One message by id, when you already know it. Returns the message object."""
        found = await call(
            "Failed to get message",
            "GET",
            _path(workspace_id, session_id) + f"/messages/{quote(message_id)}",
        )
        return text(message(found))

    @server.tool(structured_output=False)
    async def get_session_context(
        session_id: Annotated[str, Field(description="The session to get context for.")],
        workspace_id: WorkspaceId = None,
        summary: Annotated[
            bool | None, Field(description="Include a summary of older messages? Default: true.")
        ] = None,
        tokens: Annotated[
            int | None, Field(description="Target token budget for the context window.")
        ] = None,
    ) -> str:
        """A prompt-ready context window for a session: the recent messages plus, optionally,
        a summary of older ones, within a token budget. Returns {session_id, summary,
        messages}."""
        result = await call(
            "Failed to get context",
            "GET",
            _path(workspace_id, session_id) + "/context",
            params={"summary": None if summary is None else str(summary).lower(), "tokens": tokens},
        )
        return text(
            {
                "session_id": result.get("id", session_id),
                "summary": result.get("summary"),
                "messages": [message(m) for m in result.get("messages", [])],
            }
        )
