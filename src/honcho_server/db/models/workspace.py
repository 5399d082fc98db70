from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, created_at_column, json_column


class Workspace(Base):
    """A tenant. Children reference it by ``name``, so reads never need a join."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    metadata_: Mapped[JsonObject] = json_column("metadata")
    internal_metadata: Mapped[JsonObject] = json_column()
    configuration: Mapped[JsonObject] = json_column()
    created_at: Mapped[datetime] = created_at_column()
    # Set by DELETE: the workspace reads as absent until the deletion job removes it.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
