from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, created_at_column, json_column


class Message(Base):
    """A message. ``id`` (identity) is the ordering key; ``public_id`` is what the API shows."""

    __tablename__ = "messages"
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
        UniqueConstraint("workspace_name", "session_name", "seq_in_session"),
        # session context sums token_count from this index alone (migration 0003)
        Index(
            "ix_messages_session_tokens",
            "workspace_name",
            "session_name",
            "id",
            postgresql_include=["token_count"],
        ),
        Index("ix_messages_peer", "workspace_name", "peer_name", "id"),
        # text search: English full text under a session or a peer (or the workspace), with
        # btree_gin (migration 0016), and trigrams for substrings (migration 0002). Migration
        # 0017 builds the two composites with their scope columns in COLLATE "C" (so that
        # only text search, comparing in "C", uses them; reflection does not show index
        # collations, so they are declared as plain columns here) and a 64 kB pending list
        Index(
            "ix_messages_session_fts",
            "workspace_name",
            "session_name",
            text("to_tsvector('english', content)"),
            postgresql_using="gin",
            postgresql_with={"gin_pending_list_limit": 64},
        ),
        Index(
            "ix_messages_peer_fts",
            "workspace_name",
            "peer_name",
            text("to_tsvector('english', content)"),
            postgresql_using="gin",
            postgresql_with={"gin_pending_list_limit": 64},
        ),
        Index(
            "ix_messages_content_trgm",
            "content",
            postgresql_using="gin",
            postgresql_ops={"content": "gin_trgm_ops"},
            postgresql_with={"gin_pending_list_limit": 64},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    public_id: Mapped[str] = mapped_column(Text, unique=True)
    workspace_name: Mapped[str] = mapped_column(Text)
    session_name: Mapped[str] = mapped_column(Text)
    peer_name: Mapped[str] = mapped_column(Text)
    seq_in_session: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    metadata_: Mapped[JsonObject] = json_column("metadata")
    internal_metadata: Mapped[JsonObject] = json_column()
    created_at: Mapped[datetime] = created_at_column()
