from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class DreamState(Base):
    """When the collection (observer, observed) last finished an ``omni`` dream, and how many
    live explicit conclusions it held then (automatic dreams count new ones from there)."""

    __tablename__ = "dream_state"

    workspace_name: Mapped[str] = mapped_column(
        Text, ForeignKey("workspaces.name", ondelete="CASCADE"), primary_key=True
    )
    observer: Mapped[str] = mapped_column(Text, primary_key=True)
    observed: Mapped[str] = mapped_column(Text, primary_key=True)
    last_dream_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_dream_count: Mapped[int] = mapped_column(Integer)
