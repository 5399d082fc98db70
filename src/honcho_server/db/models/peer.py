from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, created_at_column, json_column


class Peer(Base):
    """A user or an agent, unique by name within its workspace."""

    __tablename__ = "peers"
    __table_args__ = (
        UniqueConstraint("workspace_name", "name"),
        Index("ix_peers_workspace_created", "workspace_name", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_name: Mapped[str] = mapped_column(
        Text, ForeignKey("workspaces.name", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[JsonObject] = json_column("metadata")
    internal_metadata: Mapped[JsonObject] = json_column()
    configuration: Mapped[JsonObject] = json_column()
    created_at: Mapped[datetime] = created_at_column()
    # Set by DELETE: the peer reads as absent, and writes naming it are refused (409, by
    # triggers: migration 0013), until the ``erase_peer`` job removes it.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
