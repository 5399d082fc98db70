from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, json_column


class SessionPeer(Base):
    """Membership of a peer in a session, with its per-session ``SessionPeerConfig``.

    Leaving sets ``left_at``; the row stays so a member that left still has a config.
    """

    __tablename__ = "session_peers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_name", "session_name"],
            ["sessions.workspace_name", "sessions.name"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["workspace_name", "peer_name"],
            ["peers.workspace_name", "peers.name"],
            ondelete="CASCADE",
        ),
        Index("ix_session_peers_peer", "workspace_name", "peer_name"),
    )

    workspace_name: Mapped[str] = mapped_column(Text, primary_key=True)
    session_name: Mapped[str] = mapped_column(Text, primary_key=True)
    peer_name: Mapped[str] = mapped_column(Text, primary_key=True)
    configuration: Mapped[JsonObject] = json_column()
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
