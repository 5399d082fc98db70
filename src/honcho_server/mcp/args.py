"""Argument types shared by the tool groups (names and meaning as upstream's MCP server)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

WorkspaceId = Annotated[
    str | None,
    Field(
        description=(
            "Workspace to operate in. Omit it when the connection sets X-Honcho-Workspace-ID "
            "(then that workspace is used); otherwise pass it, or find one with "
            "list_workspaces / create_workspace."
        )
    ),
]
PeerId = Annotated[str, Field(description="The observer peer.")]
OptionalTarget = Annotated[
    str | None, Field(description="Optional: the peer being observed (the target).")
]
OptionalSession = Annotated[str | None, Field(description="Optional: scope to this session.")]
SessionId = Annotated[str, Field(description="The session.")]
Metadata = dict[str, Any]
