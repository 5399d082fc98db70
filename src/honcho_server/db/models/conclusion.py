from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, Vector, created_at_column, json_column


class Conclusion(Base):
    """What ``observer`` has concluded about ``observed`` (``observer == observed``: Honcho's view).

    ``level`` is one of explicit / deductive / inductive / contradiction. Soft-deleted via
    ``deleted_at``. ``embedding`` is stored with the row when embedding it succeeded first
    (manual creation, the deriver, dreams), else filled in by a background job.
    """

    __tablename__ = "conclusions"
    __table_args__ = (
        Index(
            "ix_conclusions_pair",
            "workspace_name",
            "observer",
            "observed",
            "created_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_conclusions_session", "workspace_name", "session_name"),
        # counting a collection's live explicit conclusions (automatic dreams, migration 0009)
        Index(
            "ix_conclusions_live_explicit",
            "workspace_name",
            "observer",
            "observed",
            postgresql_where=text("deleted_at IS NULL AND level = 'explicit'"),
        ),
        Index(
            "ix_conclusions_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        # "derived from this one" (the ``source_ids`` filter; migration 0012)
        Index("ix_conclusions_source_ids", "source_ids", postgresql_using="gin"),
        # "which conclusions cite these messages?" (deleting a message, erasing a peer; 0013)
        Index("ix_conclusions_source_message_ids", "source_message_ids", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_name: Mapped[str] = mapped_column(
        Text, ForeignKey("workspaces.name", ondelete="CASCADE")
    )
    observer: Mapped[str] = mapped_column(Text)
    observed: Mapped[str] = mapped_column(Text)
    session_name: Mapped[str | None] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text, server_default="explicit")
    content: Mapped[str] = mapped_column(Text)
    premises: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    source_message_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    #: ids of the conclusions this one was derived from (premises, sources), in cited order
    source_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    times_derived: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    internal_metadata: Mapped[JsonObject] = json_column()
    created_at: Mapped[datetime] = created_at_column()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: the conclusion that replaced this one (a knowledge update; migration 0015): kept, but
    #: left out of default reads
    superseded_by: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    embedding: Mapped[str | None] = mapped_column(Vector())  # set by the embedding job
