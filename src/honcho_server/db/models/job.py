from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonObject, created_at_column, json_column


class Job(Base):
    """A unit of background work, inserted in the same transaction as the data that causes it.

    States: todo → doing → succeeded | failed (failed jobs stay visible and retryable).
    ``lock_key`` serialises one work unit (at most one job per key is ``doing``);
    ``dedupe_key`` collapses identical pending jobs (at most one per key is ``todo``).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "ix_jobs_claim",
            "priority",
            "scheduled_at",
            "id",
            postgresql_where=text("status = 'todo'"),
        ),
        Index(
            "uq_jobs_lock_key_doing",
            "lock_key",
            unique=True,
            postgresql_where=text("status = 'doing' AND lock_key IS NOT NULL"),
        ),
        Index(
            "uq_jobs_dedupe_key_todo",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status = 'todo' AND dedupe_key IS NOT NULL"),
        ),
        Index("ix_jobs_workspace", "workspace_name", "status"),
        Index("ix_jobs_doing_heartbeat", "heartbeat_at", postgresql_where=text("status = 'doing'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    payload: Mapped[JsonObject] = json_column()
    workspace_name: Mapped[str | None] = mapped_column(Text)
    session_name: Mapped[str | None] = mapped_column(Text)
    lock_key: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="todo")
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))  # 0 first
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("5"))
    scheduled_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker_id: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    usage: Mapped[JsonObject | None] = mapped_column(JSONB)  # LLM tokens spent, all attempts
    raw_output: Mapped[str | None] = mapped_column(Text)  # a model answer that was unusable
    created_at: Mapped[datetime] = created_at_column()
