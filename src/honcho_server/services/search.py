"""Message search (BEHAVIOUR §11): ranked candidate lists from each source, fused by RRF.

A *source* turns the query into one ranked list of message ids (best first, at most ``n``).
Sources run one after another on the request's connection; their lists are merged with
:func:`~.ranking.reciprocal_rank_fusion` in the order given (earlier sources win ties).

Given an embedder, the query is embedded first — before the request touches the database, so
no connection waits on the model — and the nearest embedded messages form the first list
(hybrid search). Messages not embedded yet still come through the keyword lists; if the
embedder fails, the search degrades to keywords only (logged), never to an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.search import SearchRepository, SearchScope
from ..embeddings import Embedder
from ..errors import Invalid
from ..schemas.messages import MAX_MESSAGE_CHARS, Message
from ..schemas.search import MessageSearchOptions
from . import semantic, views
from .ranking import reciprocal_rank_fusion
from .search_query import SearchQuery

CANDIDATES_PER_LIMIT = 2  # each source contributes at most 2 x limit candidates
MIN_SUBSTRING_CHARS = 3  # trigram indexes need 3 characters; shorter words go to full text
SCORED_WINDOW = 50  # scores (which re-parse text) are computed for at most this many matches

RankedList = list[int]
Source = Callable[[SearchRepository, SearchQuery, int], Awaitable[RankedList]]


@dataclass(frozen=True)
class Target:
    """What the route forces: always the workspace; the session or author for nested routes."""

    workspace: str
    session: str | None = None
    peer: str | None = None

    def forced_filters(self) -> dict[str, str]:
        forced = {"workspace_id": self.workspace}
        if self.session is not None:
            forced["session_id"] = self.session
        if self.peer is not None:
            forced["peer_id"] = self.peer
        return forced


async def full_text(repo: SearchRepository, query: SearchQuery, n: int) -> RankedList:
    """Messages with every word first; if those are too few, messages with some of the words."""
    if not query.text:
        return []
    ids = await repo.all_words(query.text, n, window=max(n, SCORED_WINDOW))
    if len(ids) < n and len(query.words) > 1:
        ids += await repo.any_word(query.words, n - len(ids), exclude=ids)
    return ids


async def substring(repo: SearchRepository, query: SearchQuery, n: int) -> RankedList:
    """The query as a literal substring (identifiers, punctuation); no query = newest first."""
    if not query.text:
        return await repo.newest(n)
    if len(query.phrase) < MIN_SUBSTRING_CHARS and query.words:
        return []
    if len(query.phrase) > MAX_MESSAGE_CHARS:
        return []
    return await repo.substring(query.phrase, n, window=max(n, SCORED_WINDOW))


KEYWORD_SOURCES: tuple[Source, ...] = (full_text, substring)


def nearest_to(vector: list[float]) -> Source:
    """The semantic source: messages whose embedded chunks are nearest the query's vector."""

    async def nearest(repo: SearchRepository, query: SearchQuery, n: int) -> RankedList:
        return await repo.nearest(vector, n)

    return nearest


async def search(
    db: AsyncSession,
    target: Target,
    options: MessageSearchOptions,
    *,
    embedder: Embedder | None = None,
) -> list[Message]:
    """Hybrid search when ``embedder`` is given (and the query is not blank), else keywords.

    A query longer than the embedder accepts is refused (422) rather than half-searched.
    """
    repo = SearchRepository(db, _scope(target, options))  # compiles the filters: no I/O
    vector = await semantic.embed_optional(embedder, options.query, too_long="reject")
    sources = KEYWORD_SOURCES if vector is None else (nearest_to(vector), *KEYWORD_SOURCES)
    return await _ranked(repo, SearchQuery.parse(options.query), options.limit, sources)


async def _ranked(
    repo: SearchRepository, query: SearchQuery, limit: int, sources: Sequence[Source]
) -> list[Message]:
    await repo.plan_each_query()
    n = CANDIDATES_PER_LIMIT * limit
    lists = [await source(repo, query, n) for source in sources]
    ids = reciprocal_rank_fusion(lists, limit=limit)
    rows = {row._mapping["id"]: row for row in await repo.rows(ids)}
    return [views.message(rows[i]) for i in ids if i in rows]  # a row may vanish meanwhile


def _scope(target: Target, options: MessageSearchOptions) -> SearchScope:
    """User filters with the forced keys overriding the same keys (then ANDed in SQL)."""
    filters: dict[str, Any] = dict(options.filters or {})
    if options.scope is not None and "session_id" in filters:
        raise Invalid("Cannot combine a scope with a session_id filter")
    filters.update(target.forced_filters())
    return SearchScope(workspace=target.workspace, filters=filters, scope=options.scope)
