"""Typed rows for ``import`` (:mod:`.transfer_import`): JSON values travel as JSON text, cast
in SQL; ragged text arrays (premises, sources, card entries) as JSON arrays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class NamedRow:
    """A workspace or a peer (``metadata`` and the rest as JSON text)."""

    name: str
    metadata: str
    configuration: str
    internal_metadata: str
    created_at: datetime


@dataclass(frozen=True)
class SessionRow:
    name: str
    metadata: str
    configuration: str
    internal_metadata: str
    created_at: datetime
    last_seq: int


@dataclass(frozen=True)
class MemberRow:
    session: str
    peer: str
    configuration: str
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class ScopeRow:
    name: str
    metadata: str
    created_at: datetime


@dataclass(frozen=True)
class ScopeSessionRow:
    scope: str
    session: str
    joined_at: datetime
    backfill_state: str
    backfill_updated_at: datetime
    docs_copied: int | None


@dataclass(frozen=True)
class MessageRow:
    public_id: str
    session: str
    peer: str
    seq: int
    content: str
    token_count: int
    metadata: str
    internal_metadata: str
    created_at: datetime


@dataclass(frozen=True)
class ChunkRow:
    message_public_id: str
    index: int
    vector: str  # pgvector's text form


@dataclass(frozen=True)
class SummaryRow:
    session: str
    kind: str
    content: str
    message_public_id: str
    token_count: int
    created_at: datetime


@dataclass(frozen=True)
class ConclusionRow:
    id: str
    observer: str
    observed: str
    session: str | None
    level: str
    content: str
    premises: str  # JSON arrays of text
    source_message_ids: str
    source_ids: str
    times_derived: int
    internal_metadata: str
    created_at: datetime
    superseded_by: str | None
    superseded_at: datetime | None
    vector: str | None


@dataclass(frozen=True)
class PairRow:
    """A peer card (``value``: its entries as a JSON array) or a dream state (``count``)."""

    observer: str
    observed: str
    at: datetime
    entries: str = "[]"
    count: int = 0


@dataclass(frozen=True)
class WebhookRow:
    id: str
    url: str
    created_at: datetime
