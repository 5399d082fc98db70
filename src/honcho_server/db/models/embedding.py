from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Vector, created_at_column


class MessageEmbedding(Base):
    """One embedded chunk of a message (long messages have several)."""

    __tablename__ = "message_embeddings"
    __table_args__ = (
        Index(
            "ix_message_embeddings_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        Index("ix_message_embeddings_scope", "workspace_name", "session_name"),
    )

    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_name: Mapped[str] = mapped_column(Text)
    session_name: Mapped[str] = mapped_column(Text)
    peer_name: Mapped[str] = mapped_column(Text)
    embedding: Mapped[str] = mapped_column(Vector())
    created_at: Mapped[datetime] = created_at_column()


class EmbeddingSpace(Base):
    """Which embedder made the stored vectors (one row). Vectors of different models are not
    comparable, so the server refuses to start when the configured embedder differs."""

    __tablename__ = "embedding_space"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(Text)
    dimensions: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = created_at_column()
