from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, created_at_column


class WebhookEndpoint(Base):
    """A URL that receives this workspace's events."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("workspace_name", "url"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_name: Mapped[str] = mapped_column(
        Text, ForeignKey("workspaces.name", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
