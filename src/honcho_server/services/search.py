"""Message search (BEHAVIOUR §11): candidates from each source, fused into one ranking.

Given an embedder, the query is embedded first — before the request touches the database, so
no connection waits on the model — and the search is *hybrid* (:func:`_hybrid`):

1. Candidates: the nearest embedded messages (a wide list: 3 x limit, at least 30) — and,
   when the query names peers of the workspace (outside peer search), as many of the nearest
   among *their* messages, so a person's current fact is in the pool however many other
   people's messages are nearer (unscoped search on knowledge updates: newer-first 0.75 →
   0.92 on ``bench/retrieval.py``) — every message matching *all* the query's words (full
   text), messages containing the query as a phrase (substring, for identifiers and partial
   words), and messages matching a *rare* query word (one with few matches in the scope;
   names, places, brands). A word matching many messages is no evidence and brings no
   candidate.
2. Each candidate's cosine similarity is read (messages found by keywords too), and
   :func:`~.ranking.hybrid_rank` scores it: similarity first, plus the keyword evidence
   weighted by its rarity, plus priors — the query names the author, the message is not
   one-line small talk, it is newer (strongly so when the query asks about "now").

Keyword evidence therefore moves a message only when it is specific, and plain cosine stays
the backbone (``bench/retrieval.py`` checks that fusion never loses to it at recall@1).
Messages not embedded yet still come through the keyword sources.

Without an embedder (EMBED_MESSAGES off), or if it fails (logged, never an error), the
search is keywords only: ranked lists from each keyword source merged by
:func:`~.ranking.reciprocal_rank_fusion` in the order given (earlier sources win ties).
"""

from __future__ import annotations

import re
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
from .ranking import Evidence, hybrid_rank, keyword_strength, reciprocal_rank_fusion
from .search_query import SearchQuery

CANDIDATES_PER_LIMIT = 2  # each source contributes at most 2 x limit candidates
MIN_SUBSTRING_CHARS = 3  # trigram indexes need 3 characters; shorter words go to full text
SCORED_WINDOW = 50  # scores (which re-parse text) are computed for at most this many matches
ANY_WORD_MATCHES = 200  # keywords only: the some-of-the-words list reads this many per word
SEMANTIC_PER_LIMIT, MIN_SEMANTIC = 3, 30  # hybrid: the nearest max(3 x limit, 30) messages
RARE_MATCHES = 8  # hybrid: a word with at most this many matches in the scope is rare
RARE_FACTOR = 0.5  # ... and a rare word counts half as much as all the words
_WORDS = re.compile(r"\w+")

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
        ids += await repo.any_word(query.words, n - len(ids), exclude=ids, cap=ANY_WORD_MATCHES)
    return ids


async def substring(repo: SearchRepository, query: SearchQuery, n: int) -> RankedList:
    """The query as a literal substring when it is one token (an identifier, part of a word:
    what full text cannot find); no query = newest first. A sentence is left to full text: as
    a substring it finds nothing more, and its common trigrams cost a scan of every message
    that shares them (14 ms at 12,300 messages, for no result)."""
    if not query.text:
        return await repo.newest(n)
    if not _one_token(query.phrase):
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
    query = SearchQuery.parse(options.query)
    if vector is None or not query.text:
        return await _ranked(repo, query, options.limit, KEYWORD_SOURCES)
    return await _hybrid(repo, query, options.limit, vector, named=target.peer is None)


async def _hybrid(
    repo: SearchRepository, query: SearchQuery, limit: int, vector: list[float], *, named: bool
) -> list[Message]:
    """Candidates from every source, then one score each (see the module docstring).
    ``named``: whether a query naming a peer prefers that peer's messages (not in peer
    search, where every message has the same author)."""
    strength: dict[int, float] = {}

    def found(ids: Sequence[int], evidence: float) -> None:
        for i in ids:
            strength[i] = max(strength.get(i, 0.0), evidence)

    # first: it also plans every statement of the transaction for its values (see the repo)
    wide = max(SEMANTIC_PER_LIMIT * limit, MIN_SEMANTIC)
    nearest = await repo.nearest(vector, wide)
    authors = await repo.named_peers(query.words) if named else set()
    if authors:
        # a question about a person: their own nearest messages are candidates too, however
        # many other people's (and the assistant's) messages are nearer — otherwise the
        # current fact of a changed one may not be in the pool at all (unscoped search)
        nearest += await repo.nearest(vector, wide, authors=authors)
    everything = await repo.all_words(query.text, SCORED_WINDOW, window=SCORED_WINDOW)
    found(everything, keyword_strength(len(everything)))
    if _one_token(query.phrase):
        # one token (an identifier, part of a word): a sentence as a literal substring
        # matches next to nothing, and bench/retrieval.py finds no gain from looking for it
        phrase = await repo.substring(query.phrase, SCORED_WINDOW, window=SCORED_WINDOW)
        found(phrase, keyword_strength(len(phrase)))
    words = [w for w in query.words if w not in {a.lower() for a in authors}]
    if len(words) > 1:  # one word: all_words covered it
        for i, df in await repo.rare_words(words, SCORED_WINDOW, cap=RARE_MATCHES):
            found([i], RARE_FACTOR * keyword_strength(df))
    candidates = list(dict.fromkeys([*nearest, *strength]))
    rows = await repo.scored_rows(candidates, vector)
    evidence = [
        Evidence(
            key=r.id,
            similarity=r.similarity,
            keyword=strength.get(r.id, 0.0),
            created_at=r.created_at,
            words=len(_WORDS.findall(r.content[:400])),
            by_named_peer=r.peer_name in authors,
            author=r.peer_name,
        )
        for r in rows
    ]
    by_id = {r.id: r.row for r in rows}
    ranked = hybrid_rank(evidence, tense=query.tense, limit=limit)
    return [views.message(by_id[i]) for i in ranked]


async def _ranked(
    repo: SearchRepository, query: SearchQuery, limit: int, sources: Sequence[Source]
) -> list[Message]:
    await repo.plan_each_query()
    n = CANDIDATES_PER_LIMIT * limit
    lists = [await source(repo, query, n) for source in sources]
    ids = reciprocal_rank_fusion(lists, limit=limit)
    rows = {row._mapping["id"]: row for row in await repo.rows(ids)}
    return [views.message(rows[i]) for i in ids if i in rows]  # a row may vanish meanwhile


def _one_token(phrase: str) -> bool:
    """Whether ``phrase`` is worth a substring search: one token (no space), long enough for
    the trigram index."""
    return MIN_SUBSTRING_CHARS <= len(phrase) <= MAX_MESSAGE_CHARS and " " not in phrase


def _scope(target: Target, options: MessageSearchOptions) -> SearchScope:
    """User filters with the forced keys overriding the same keys (then ANDed in SQL)."""
    filters: dict[str, Any] = dict(options.filters or {})
    if options.scope is not None and "session_id" in filters:
        raise Invalid("Cannot combine a scope with a session_id filter")
    filters.update(target.forced_filters())
    return SearchScope(workspace=target.workspace, filters=filters, scope=options.scope)
