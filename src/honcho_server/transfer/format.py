"""The workspace transfer format: ``honcho-server.workspace`` version 1, JSON Lines.

One JSON object per line, UTF-8, ``\\n``-terminated. The first line is a :class:`Header`, the
last a :class:`Trailer`; between them the records, each with a ``type``, in this order of
sections (a file out of order is refused): workspace (exactly one), peers, sessions (with
their members), scopes, messages (with their embedding chunks when exported with
embeddings), summaries, conclusions, peer cards, dream states, webhooks.

The trailer carries the count of each kind of record and the SHA-256 (hex) of every byte
before it, so a truncated file (no trailer) or an edited one (another digest, other counts)
is refused. Ids are kept; ``uid`` (server-assigned row ids) is not carried: an imported
resource is a re-created one. Soft-deleted rows (peers being erased, sessions being deleted,
deleted conclusions) are not exported. Webhooks carry only their URL (the signing secret is
the server's, not the workspace's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..ids import NAME_MAX_LENGTH, NAME_PATTERN

FORMAT = "honcho-server.workspace"
VERSION = 1
MAX_LINE_BYTES = 64 * 1024 * 1024  # a message or conclusion with its vectors fits many times

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
PublicId = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
Json = dict[str, Any]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Embedder(Record):
    """The embedder that made the file's vectors: vectors of another model are not comparable."""

    name: str
    dimensions: int = Field(ge=1)


class Counts(Record):
    """How many records of each kind the file holds (``embeddings``: message chunks plus
    conclusion vectors)."""

    peers: int = 0
    sessions: int = 0
    scopes: int = 0
    messages: int = 0
    summaries: int = 0
    conclusions: int = 0
    peer_cards: int = 0
    dream_states: int = 0
    webhooks: int = 0
    embeddings: int = 0

    def total(self) -> int:
        return sum(int(v) for v in self.model_dump().values()) - self.embeddings


class Header(Record):
    type: Literal["header"] = "header"
    format: Literal["honcho-server.workspace"] = "honcho-server.workspace"
    version: int
    workspace: Name
    exported_at: datetime
    server_version: str
    embedder: Embedder | None = None
    embeddings: bool = False
    counts: Counts


class WorkspaceRecord(Record):
    type: Literal["workspace"] = "workspace"
    id: Name
    metadata: Json
    configuration: Json
    internal_metadata: Json
    created_at: datetime


class PeerRecord(Record):
    type: Literal["peer"] = "peer"
    id: Name
    metadata: Json
    configuration: Json
    internal_metadata: Json
    created_at: datetime


class Member(Record):
    peer_id: Name
    configuration: Json
    joined_at: datetime
    left_at: datetime | None = None


class SessionRecord(Record):
    type: Literal["session"] = "session"
    id: Name
    metadata: Json
    configuration: Json
    internal_metadata: Json
    created_at: datetime
    last_seq: int = Field(ge=0)
    members: list[Member]


class ScopeSession(Record):
    session_id: Name
    joined_at: datetime
    backfill_state: str
    backfill_updated_at: datetime
    docs_copied: int | None = None


class ScopeRecord(Record):
    type: Literal["scope"] = "scope"
    id: Name
    metadata: Json
    created_at: datetime
    sessions: list[ScopeSession]


class Chunk(Record):
    """One embedded piece of a message (long messages have several)."""

    index: int = Field(ge=0)
    vector: list[float]


class MessageRecord(Record):
    type: Literal["message"] = "message"
    id: PublicId
    session_id: Name
    peer_id: Name
    seq: int = Field(ge=1)
    content: str
    token_count: int = Field(ge=0)
    metadata: Json
    internal_metadata: Json
    created_at: datetime
    embeddings: list[Chunk] | None = None


class SummaryRecord(Record):
    type: Literal["summary"] = "summary"
    session_id: Name
    kind: Literal["short", "long"]
    content: str
    message_id: PublicId  # the last message it covers
    token_count: int = Field(ge=0)
    created_at: datetime


class ConclusionRecord(Record):
    type: Literal["conclusion"] = "conclusion"
    id: PublicId
    observer: str = Field(min_length=1)  # a peer, or a scope's observer ``scope.<name>``
    observed: str = Field(min_length=1)
    session_id: str | None = None
    level: Literal["explicit", "deductive", "inductive", "contradiction"]
    content: str
    premises: list[str]
    source_message_ids: list[str]
    source_ids: list[str]
    times_derived: int = Field(ge=1)
    internal_metadata: Json
    created_at: datetime
    superseded_by: str | None = None  # the conclusion that replaced this one (kept, hidden)
    superseded_at: datetime | None = None
    embedding: list[float] | None = None


class PeerCardRecord(Record):
    type: Literal["peer_card"] = "peer_card"
    observer: str = Field(min_length=1)
    observed: str = Field(min_length=1)
    entries: list[str]
    updated_at: datetime


class DreamStateRecord(Record):
    type: Literal["dream_state"] = "dream_state"
    observer: str = Field(min_length=1)
    observed: str = Field(min_length=1)
    last_dream_at: datetime
    last_dream_count: int = Field(ge=0)


class WebhookRecord(Record):
    type: Literal["webhook"] = "webhook"
    id: PublicId
    url: str = Field(min_length=1)
    created_at: datetime


class Trailer(Record):
    type: Literal["trailer"] = "trailer"
    counts: Counts
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


Body = (
    WorkspaceRecord
    | PeerRecord
    | SessionRecord
    | ScopeRecord
    | MessageRecord
    | SummaryRecord
    | ConclusionRecord
    | PeerCardRecord
    | DreamStateRecord
    | WebhookRecord
)
Line = Annotated[Body | Trailer, Field(discriminator="type")]
LINE: TypeAdapter[Body | Trailer] = TypeAdapter(Line)
HEADER: TypeAdapter[Header] = TypeAdapter(Header)

#: Each record's section, in file order; records may only move forward through them.
SECTIONS: dict[str, int] = {
    "workspace": 0,
    "peer": 1,
    "session": 2,
    "scope": 3,
    "message": 4,
    "summary": 5,
    "conclusion": 6,
    "peer_card": 7,
    "dream_state": 8,
    "webhook": 9,
}

#: The ``Counts`` field each record type adds to.
COUNTED: dict[str, str] = {
    "peer": "peers",
    "session": "sessions",
    "scope": "scopes",
    "message": "messages",
    "summary": "summaries",
    "conclusion": "conclusions",
    "peer_card": "peer_cards",
    "dream_state": "dream_states",
    "webhook": "webhooks",
}


def dump(record: Record) -> bytes:
    """One line of the file, newline included."""
    return record.model_dump_json().encode() + b"\n"
