from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, created_at_column


class PeerCard(Base):
    """Stable facts ``observer`` keeps about ``observed`` (equal names: the peer's own card)."""

    __tablename__ = "peer_cards"

    workspace_name: Mapped[str] = mapped_column(
        Text, ForeignKey("workspaces.name", ondelete="CASCADE"), primary_key=True
    )
    observer: Mapped[str] = mapped_column(Text, primary_key=True)
    observed: Mapped[str] = mapped_column(Text, primary_key=True)
    entries: Mapped[list[str]] = mapped_column(ARRAY(Text))
    updated_at: Mapped[datetime] = created_at_column()
