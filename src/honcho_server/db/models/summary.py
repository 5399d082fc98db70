from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKeyConstraint, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, created_at_column


class Summary(Base):
    """The latest short or long summary of a session, covering messages up to ``message_id``."""

    __tablename__ = "summaries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_name", "session_name"],
            ["sessions.workspace_name", "sessions.name"],
            ondelete="CASCADE",
        ),
    )

    workspace_name: Mapped[str] = mapped_column(Text, primary_key=True)
    session_name: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)  # "short" | "long"
    content: Mapped[str] = mapped_column(Text)
    message_id: Mapped[int] = mapped_column(BigInteger)  # internal id of the last covered message
    message_public_id: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
