from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, created_at_column, json_column


class Session(Base):
    """A conversation. ``last_seq`` hands out gap-free ``seq_in_session`` numbers;
    ``message_count`` is how many of its messages exist (raised by the writers that add them,
    lowered by a trigger on every DELETE: migration 0018)."""

    __tablename__ = "sessions"
    __table_args__ = (
        UniqueConstraint("workspace_name", "name"),
        Index("ix_sessions_workspace_created", "workspace_name", "created_at", "id"),
        # search's list of a workspace's inactive sessions (migration 0019)
        Index(
            "ix_sessions_inactive",
            "workspace_name",
            "name",
            postgresql_where=text("is_active IS false"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_name: Mapped[str] = mapped_column(
        Text, ForeignKey("workspaces.name", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    last_seq: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    message_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    metadata_: Mapped[JsonObject] = json_column("metadata")
    internal_metadata: Mapped[JsonObject] = json_column()
    configuration: Mapped[JsonObject] = json_column()
    created_at: Mapped[datetime] = created_at_column()
