"""Build the working representation of (observer, observed) from stored conclusions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.conclusion_rows import ConclusionDetail
from ...db.repositories.representation import RepresentationRepository
from .render import Item, Representation

DEFAULT_MAX_CONCLUSIONS = 100


@dataclass(frozen=True)
class SemanticQuery:
    """An embedded ``search_query``: its share is the ``top_k`` nearest conclusions."""

    vector: list[float]
    top_k: int | None = None
    max_distance: float | None = None


@dataclass(frozen=True)
class RepresentationQuery:
    observer: str
    observed: str
    max_conclusions: int = DEFAULT_MAX_CONCLUSIONS
    include_most_frequent: bool = False
    sessions: Sequence[str] | None = None  # allowlist: explicit facts from these sessions only
    semantic: SemanticQuery | None = None  # None: no query, or it could not be embedded


@dataclass(frozen=True)
class Shares:
    semantic: int
    frequent: int
    recent: int


def split_shares(
    total: int, *, semantic: bool, top_k: int | None, include_most_frequent: bool
) -> Shares:
    """How ``total`` conclusions divide between semantic hits, most reinforced and most recent."""
    s = min(max(1, top_k if top_k is not None else total // 3), total) if semantic else 0
    f = 0
    if include_most_frequent:
        f = min(total // 3 if semantic else total // 2, total - s)
    return Shares(semantic=s, frequent=f, recent=total - s - f)


def _timestamp(meta: dict[str, Any], created_at: datetime) -> datetime:
    raw = meta.get("message_created_at")
    at = created_at
    if isinstance(raw, str):
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            at = created_at
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(microsecond=0)


def to_item(c: ConclusionDetail) -> Item:
    meta: dict[str, Any] = c.internal_metadata or {}
    sources = meta.get("sources") or []
    return Item(
        content=c.content,
        level=c.level,
        at=_timestamp(meta, c.created_at),
        session=c.session_name,
        premises=tuple(c.premises or ()),
        sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
        pattern_type=meta.get("pattern_type"),
        confidence=meta.get("confidence"),
    )


async def working_representation(
    db: AsyncSession, workspace: str, q: RepresentationQuery
) -> Representation:
    """Nearest to the query (if any) + most reinforced + most recent conclusions, de-duplicated."""
    if q.sessions is not None and not q.sessions:
        return Representation()
    shares = split_shares(
        q.max_conclusions,
        semantic=q.semantic is not None,
        top_k=q.semantic.top_k if q.semantic is not None else None,
        include_most_frequent=q.include_most_frequent,
    )
    repo = RepresentationRepository(db)
    rows: list[ConclusionDetail] = []
    if q.semantic is not None:
        rows += await repo.nearest(
            workspace,
            q.observer,
            q.observed,
            q.semantic.vector,
            shares.semantic,
            sessions=q.sessions,
            max_distance=q.semantic.max_distance,
        )
    rows += await repo.most_frequent(workspace, q.observer, q.observed, shares.frequent, q.sessions)
    rows += await repo.recent(workspace, q.observer, q.observed, shares.recent, q.sessions)
    seen: set[tuple[str, datetime, str | None]] = set()
    items: list[Item] = []
    for item in map(to_item, rows):
        key = (item.content, item.at, item.session)
        if key not in seen:
            seen.add(key)
            items.append(item)
    return Representation(items)
