from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, created_at_column, json_column


class Scope(Base):
    """A named group of sessions that observes as one ("what was said in these sessions").

    It derives into conclusions whose observer is ``scope.<name>``.
    """

    __tablename__ = "scopes"
    __table_args__ = (UniqueConstraint("workspace_name", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workspace_name: Mapped[str] = mapped_column(
        Text, ForeignKey("workspaces.name", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[JsonObject] = json_column("metadata")
    created_at: Mapped[datetime] = created_at_column()


class ScopeSession(Base):
    """Membership of a session in a scope, with the state of its backfill."""

    __tablename__ = "scope_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_name", "scope_name"],
            ["scopes.workspace_name", "scopes.name"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["workspace_name", "session_name"],
            ["sessions.workspace_name", "sessions.name"],
            ondelete="CASCADE",
        ),
    )

    workspace_name: Mapped[str] = mapped_column(Text, primary_key=True)
    scope_name: Mapped[str] = mapped_column(Text, primary_key=True)
    session_name: Mapped[str] = mapped_column(Text, primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    backfill_state: Mapped[str] = mapped_column(Text, server_default="completed")
    backfill_updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    docs_copied: Mapped[int | None] = mapped_column(Integer)
