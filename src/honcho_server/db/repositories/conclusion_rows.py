"""The ``conclusions`` table's rows as :class:`~.conclusions.ConclusionRepository` takes and
returns them: frozen dataclasses, free of SQL (the deriver's pure plan uses them too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .paging import AnyRow


@dataclass(frozen=True)
class ConclusionRead:
    """A conclusion as the API shows it (:data:`COLUMNS`)."""

    id: str
    workspace_name: str
    observer: str
    observed: str
    session_name: str | None
    level: str
    content: str
    source_ids: tuple[str, ...]
    times_derived: int
    created_at: datetime

    @classmethod
    def of(cls, row: AnyRow) -> ConclusionRead:
        m = row._mapping
        return cls(
            id=m["id"],
            workspace_name=m["workspace_name"],
            observer=m["observer"],
            observed=m["observed"],
            session_name=m["session_name"],
            level=m["level"],
            content=m["content"],
            source_ids=tuple(m["source_ids"] or ()),
            times_derived=int(m["times_derived"]),
            created_at=m["created_at"],
        )


@dataclass(frozen=True)
class NearConclusion(ConclusionRead):
    """A conclusion with its cosine distance to a query."""

    distance: float = 0.0

    @classmethod
    def near(cls, row: AnyRow) -> NearConclusion:
        read = ConclusionRead.of(row)
        return cls(**vars(read), distance=float(row.distance))


@dataclass(frozen=True, slots=True)
class ConclusionDetail:
    """A conclusion with what the model reads of it (the chat's tools and prefetch, a working
    representation): :data:`~.conclusions.DETAIL_COLUMNS`, in order."""

    id: str
    content: str
    level: str
    observer: str
    observed: str
    session_name: str | None
    premises: list[str] | None
    source_message_ids: list[str] | None
    source_ids: list[str] | None
    internal_metadata: dict[str, Any] | None
    times_derived: int
    created_at: datetime


_DETAIL_WIDTH = len(ConclusionDetail.__slots__)


def details(rows: Sequence[Sequence[Any]]) -> list[ConclusionDetail]:
    """Rows of ``DETAIL_COLUMNS`` (and possibly more after them, e.g. a distance)."""
    return [ConclusionDetail(*r[:_DETAIL_WIDTH]) for r in rows]


@dataclass(frozen=True)
class NewConclusionRow:
    """A conclusion to insert. ``embedding`` is a pgvector literal (None: embedded later by
    a job)."""

    id: str
    observer: str
    observed: str
    session_name: str | None
    level: str
    content: str
    premises: Sequence[str] = ()
    source_message_ids: Sequence[str] = ()
    source_ids: Sequence[str] = ()
    internal_metadata: Mapping[str, Any] = field(default_factory=dict)
    embedding: str | None = None
    times_derived: int = 1

    def params(self, workspace: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_name": workspace,
            "observer": self.observer,
            "observed": self.observed,
            "session_name": self.session_name,
            "level": self.level,
            "content": self.content,
            "premises": list(self.premises),
            "source_message_ids": list(self.source_message_ids),
            "source_ids": list(self.source_ids),
            "internal_metadata": dict(self.internal_metadata),
            "times_derived": self.times_derived,
            "vector": self.embedding,
        }


@dataclass(frozen=True)
class ToEmbed:
    """A live conclusion's text, for the embedding job (:meth:`ConclusionRepository.to_embed`)."""

    id: str
    content: str


@dataclass(frozen=True)
class StoredText:
    """A live conclusion found by its text (:meth:`ConclusionRepository.with_contents`)."""

    id: str
    level: str
    content: str
    session_name: str | None


@dataclass(frozen=True)
class PremiseMatch:
    """A live conclusion whose text, read as a premise, is ``key``."""

    id: str
    level: str
    key: str


@dataclass(frozen=True)
class Paraphrase:
    """A live conclusion near an embedding (cosine ``distance``)."""

    id: str
    content: str
    times_derived: int
    distance: float


@dataclass(frozen=True)
class Recent:
    """A current conclusion of a collection, as a dream reads it."""

    id: str
    level: str
    content: str
    created_at: datetime
    times_derived: int
    source_message_ids: tuple[str, ...]
