from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, created_at_column


class IdempotencyKey(Base):
    """The first response to a request sent with an ``Idempotency-Key`` header, written in
    the same transaction as the request's data and replayed to any retry of it.

    No foreign key to ``workspaces``: a key is claimed before the request may have created
    its workspace. Rows expire after ``IDEMPOTENCY_KEY_TTL`` and are purged by maintenance.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    workspace_name: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    # the operation, e.g. ``messages.create``; the path's ids are part of the request hash
    route: Mapped[str] = mapped_column(Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(Text)  # sha256, hex
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at_column()
