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

A search with no filters of its own (the routes' workspace, session or peer: what the SDKs
send) reads every source and the candidates' rows in one statement
(:mod:`~..db.repositories.search_hybrid`, one round trip); one with filters or a scope reads
them one source at a time (:func:`_sources`, 6-8 statements). Both give the same candidates
and evidence (``tests/api/test_search_one_statement.py``), ranked by :func:`_rank`.

Keyword evidence therefore moves a message only when it is specific, and plain cosine stays
the backbone (``bench/retrieval.py`` checks that fusion never loses to it at recall@1).
Messages not embedded yet still come through the keyword sources.

Without an embedder (EMBED_MESSAGES off), or if it fails (logged, never an error), the
search is keywords only: ranked lists from each keyword source merged by
:func:`~.ranking.reciprocal_rank_fusion` in the order given (earlier sources win ties).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.filter_values import check_text
from ..db.read_pool import ReadPool
from ..db.repositories import search_hybrid
from ..db.repositories.messages import MessageRow
from ..db.repositories.search import SearchRepository, SearchScope, like_pattern
from ..db.repositories.search_hybrid import Candidate, Found
from ..embeddings import Embedder
from ..errors import Invalid
from ..lru import Lru
from ..schemas.messages import MAX_MESSAGE_CHARS
from ..schemas.search import MessageSearchOptions
from . import semantic
from .ranking import (
    Evidence,
    hybrid_rank,
    keyword_strength,
    reciprocal_rank_fusion,
    words_for_brevity,
)
from .search_query import SearchQuery

CANDIDATES_PER_LIMIT = 2  # each source contributes at most 2 x limit candidates
MIN_SUBSTRING_CHARS = 3  # trigram indexes need 3 characters; shorter words go to full text
SCORED_WINDOW = 50  # scores (which re-parse text) are computed for at most this many matches
ANY_WORD_MATCHES = 200  # keywords only: the some-of-the-words list reads this many per word
SEMANTIC_PER_LIMIT, MIN_SEMANTIC = 3, 30  # hybrid: the nearest max(3 x limit, 30) messages
RARE_MATCHES = 8  # hybrid: a word with at most this many matches in the scope is rare
RARE_FACTOR = 0.5  # ... and a rare word counts half as much as all the words
COMMON_MATCHES = 1000  # hybrid: all the words matching more messages than this are common

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
    reads: ReadPool | None = None,
) -> list[MessageRow]:
    """Hybrid search when ``embedder`` is given (and the query is not blank), else keywords.

    A query longer than the embedder accepts is refused (422) rather than half-searched.
    ``db`` must be able to hold a transaction (the settings of the statements read one at a
    time are set for it); ``reads``, if given, runs the one-statement search while ``db``
    has none open.
    """
    scope = _scope(target, options)
    filtered = bool(options.filters) or options.scope is not None
    # compiles (so checks: 422) the caller's filters before the query is embedded; no I/O
    repo = SearchRepository(db, scope) if filtered else None
    vector = await semantic.embed_optional(embedder, options.query, too_long="reject")
    query = SearchQuery.parse(options.query)
    if vector is None or not query.text:
        repo = repo or SearchRepository(db, scope)
        return await _ranked(repo, query, options.limit, KEYWORD_SOURCES)
    if repo is not None:
        found = await _sources(repo, query, options.limit, vector, named=target.peer is None)
    else:  # the routes' own scope only: one statement (repositories.search_hybrid), which
        # needs no SQLAlchemy condition compiled (4% of its CPU)
        async with COMMON.first_search(target, query.text):
            shape, values = _one_statement(target, query, options, vector)
            found = await search_hybrid.search(db, shape, values, reads=reads)
            if shape.report_named and found.named:  # a peer of that name came lately
                shape = dataclasses.replace(shape, named=True, report_named=False)
                found = await search_hybrid.search(db, shape, values, reads=reads)
            COMMON.learn(target, found, query.text, names=query.words if shape.named else ())
    return _rank(found, query, options.limit)


def _one_statement(
    target: Target, query: SearchQuery, options: MessageSearchOptions, vector: list[float]
) -> tuple[search_hybrid.Shape, search_hybrid.Query]:
    words = COMMON.unknown(target, query.words) if len(query.words) > 1 else []
    words = [w for w in words if not COMMON.is_stop_word(w)]
    names_nobody = target.peer is None and COMMON.names_nobody(target, query.words)
    shape = search_hybrid.Shape(
        session=target.session is not None,
        peer=target.peer is not None,
        named=target.peer is None and not names_nobody,
        report_named=names_nobody,
        substring=_one_token(query.phrase),
        words=len(words),
        all_words=not COMMON.known(target, _ALL + query.text),
        conjunction=query.conjunction,
    )
    values = search_hybrid.Query(
        workspace=target.workspace,
        session=target.session,
        peer=target.peer,
        vector=vector,
        text=query.text,
        pattern=like_pattern(query.phrase),
        words=query.words,
        branch_words=words,
        wide=_wide(options.limit),
        window=SCORED_WINDOW,
        cap=RARE_MATCHES,
        all_words_cap=COMMON_MATCHES,
    )
    return shape, values


class CommonWords:
    """Words (and whole queries' word sets) a search found common in a scope: more matches
    than make evidence, so their next searches in that scope skip them (``COMMON_SECONDS``
    at most, least recently learned dropped first). Finding a word common costs its whole
    index scan (a bitmap of every match: 5 ms for a word in 60,000 messages), which reading
    at most ``cap`` + 1 of them does not avoid. Messages are added far more often than
    deleted, so a common word stays common; after a deletion a word may be skipped as common
    for ``COMMON_SECONDS``, which loses it as evidence, never a message. Per process.

    It also keeps the words the text parser keeps nothing of (:meth:`is_stop_word`): their
    word branch would read nothing, so later searches leave it out of the statement.

    And it keeps the words a search found no peer is named (:meth:`names_nobody`): a query
    of such words is searched without the named peers' sources, which are a third of the
    statement's planning (0.3 of 0.76 ms of Postgres CPU). That one is checked each time
    (the statement reports the peers the query names): a peer of that name created since
    costs a second statement, never a different answer.

    Searches of a text not searched in its scope lately wait for the one already running
    (:meth:`first_search`): many clients asking at once (a burst, a benchmark's start) would
    otherwise each pay every common word's scan before the first has learned them."""

    def __init__(self, size: int, seconds: float) -> None:
        self.seconds = seconds
        self._until: Lru[tuple[str, str, str, str], float] = Lru(size)
        self._seen: Lru[tuple[str, str, str, str], float] = Lru(size)  # texts searched
        # words no peer is named (an LRU of their own: a query adds up to 32, which would
        # push the common words out, and those cost an index scan each to learn again)
        self._not_names: Lru[tuple[str, str, str, str], float] = Lru(size)
        self._first: dict[tuple[str, str, str, str], asyncio.Event] = {}
        # words the text parser keeps nothing of ("the", "what": its stop words), whatever the
        # scope: a word branch for one reads nothing but is planned all the same (~0.08 ms of
        # Postgres CPU each; questions are full of them). Learned, not listed: Postgres'
        # dictionary decides, as it does in the statement.
        self._stop: Lru[str, bool] = Lru(size)

    @contextlib.asynccontextmanager
    async def first_search(self, target: Target, text: str) -> AsyncIterator[None]:
        """Around a search of ``text`` and its :meth:`learn`: when the text was not searched
        in this scope within ``seconds`` and another search of it is running, wait for that one
        to end (however it ends) before deciding what to skip. Only the first searches wait:
        once one has ended (:meth:`learn` marks the text seen) the next run at once, so a text
        with rare words (never skipped) is not searched one request at a time. Each search
        still runs its own statement after it began: it sees every message stored before."""
        key = self._key(target, text)
        running = self._first.get(key)
        if running is not None:
            await running.wait()  # cancelling this request leaves the running one be
            yield
            return
        if _fresh(self._seen, key):
            yield
            return
        ended = self._first[key] = asyncio.Event()
        try:
            yield
        finally:
            del self._first[key]
            ended.set()

    @staticmethod
    def _key(target: Target, word: str) -> tuple[str, str, str, str]:
        return (target.workspace, target.session or "", target.peer or "", word)

    def known(self, target: Target, word: str) -> bool:
        return _fresh(self._until, self._key(target, word))

    def unknown(self, target: Target, words: Sequence[str]) -> list[str]:
        return [w for w in words if not self.known(target, w)]

    def is_stop_word(self, word: str) -> bool:
        return self._stop.get(word) is not None

    def names_nobody(self, target: Target, words: Sequence[str]) -> bool:
        """Whether none of ``words`` was a peer's name in the scope's workspace lately (a
        search with them found no peer named): the search then leaves the named peers'
        sources out, and runs again with them if a peer of that name has come since."""
        return all(_fresh(self._not_names, self._key(target, w)) for w in words)

    def learn(self, target: Target, found: Found, text: str, names: Sequence[str] = ()) -> None:
        """What a search found: its common words, whether all its words together are
        common, and, for ``names`` (the words it looked up as peers' names), that none is a
        name when it found no peer named."""
        common = [*found.common_words, *([_ALL + text] if found.all_words_common else [])]
        until = time.monotonic() + self.seconds
        for word in common:
            self._until.put(self._key(target, word), until)
        for word in found.stop_words:
            self._stop.put(word, True)
        for word in names:  # some is a name now (a peer given it lately): forget them all
            if found.named:
                self._not_names.pop(self._key(target, word))
            else:
                self._not_names.put(self._key(target, word), until)
        self._seen.put(self._key(target, text), until)


def _fresh(entries: Lru[tuple[str, str, str, str], float], key: tuple[str, str, str, str]) -> bool:
    until = entries.get(key)
    if until is None:
        return False
    if until < time.monotonic():
        entries.pop(key)
        return False
    return True


_ALL = "\x00all:"  # a whole query's words together (never a word: words are \w+)
COMMON_SECONDS = 300
COMMON = CommonWords(8192, COMMON_SECONDS)


def _wide(limit: int) -> int:
    return max(SEMANTIC_PER_LIMIT * limit, MIN_SEMANTIC)


async def _sources(
    repo: SearchRepository, query: SearchQuery, limit: int, vector: list[float], *, named: bool
) -> Found:
    """The candidates of a search with filters of its own, one source at a time (what
    :mod:`~..db.repositories.search_hybrid` reads in one statement for the routes' scopes).
    ``named``: whether a query naming a peer prefers that peer's messages (not in peer
    search, where every message has the same author)."""
    # first: it also plans every statement of the transaction for its values (see the repo)
    wide = _wide(limit)
    nearest = await repo.nearest(vector, wide)
    authors = await repo.named_peers(query.words) if named else set()
    if authors:
        # a question about a person: their own nearest messages are candidates too, however
        # many other people's (and the assistant's) messages are nearer — otherwise the
        # current fact of a changed one may not be in the pool at all (unscoped search)
        nearest += await repo.nearest(vector, wide, authors=authors)
    everything = await repo.newest_all_words(query.text, SCORED_WINDOW, cap=COMMON_MATCHES)
    phrase: list[int] = []
    if _one_token(query.phrase):
        # one token (an identifier, part of a word): a sentence as a literal substring
        # matches next to nothing, and bench/retrieval.py finds no gain from looking for it
        phrase = await repo.substring(query.phrase, SCORED_WINDOW, window=SCORED_WINDOW)
    words = [w for w in query.words if w not in {a.lower() for a in authors}]
    rare: dict[int, int] = {}
    if len(words) > 1:  # one word: all_words covered it
        rare = dict(await repo.rare_words(words, SCORED_WINDOW, cap=RARE_MATCHES))
    in_all, in_phrase = set(everything), set(phrase)
    candidates = list(dict.fromkeys([*nearest, *everything, *phrase, *rare]))
    return Found(
        candidates=[
            Candidate(
                row=r.row,
                similarity=r.similarity,
                in_all_words=r.id in in_all,
                in_substring=r.id in in_phrase,
                rare_df=rare.get(r.id),
            )
            for r in sorted(await repo.scored_rows(candidates, vector), key=lambda r: r.id)
        ],
        named=authors,
        all_words=len(everything),
        substring=len(phrase),
        common_words=[],
        all_words_common=False,
    )


def _rank(found: Found, query: SearchQuery, limit: int) -> list[MessageRow]:
    """One score per candidate (see the module docstring): keyword evidence counts only when
    specific, weighted by how few messages it matched."""
    every, phrase = keyword_strength(found.all_words), keyword_strength(found.substring)
    evidence = []
    for c in found.candidates:
        keyword = max(
            every if c.in_all_words else 0.0,
            phrase if c.in_substring else 0.0,
            0.0 if c.rare_df is None else RARE_FACTOR * keyword_strength(c.rare_df),
        )
        evidence.append(
            Evidence(
                key=c.row.id,
                similarity=c.similarity,
                keyword=keyword,
                created_at=c.row.created_at,
                words=words_for_brevity(c.row.content),
                by_named_peer=c.row.peer_name in found.named,
                author=c.row.peer_name,
            )
        )
    by_id = {c.row.id: c.row for c in found.candidates}
    return [by_id[i] for i in hybrid_rank(evidence, tense=query.tense, limit=limit)]


async def _ranked(
    repo: SearchRepository, query: SearchQuery, limit: int, sources: Sequence[Source]
) -> list[MessageRow]:
    await repo.plan_each_query()
    n = CANDIDATES_PER_LIMIT * limit
    lists = [await source(repo, query, n) for source in sources]
    ids = reciprocal_rank_fusion(lists, limit=limit)
    rows = {row.id: row for row in await repo.rows(ids)}
    return [rows[i] for i in ids if i in rows]  # a row may vanish meanwhile


def _one_token(phrase: str) -> bool:
    """Whether ``phrase`` is worth a substring search: one token (no space), long enough for
    the trigram index."""
    return MIN_SUBSTRING_CHARS <= len(phrase) <= MAX_MESSAGE_CHARS and " " not in phrase


def _scope(target: Target, options: MessageSearchOptions) -> SearchScope:
    """User filters with the forced keys overriding the same keys (then ANDed in SQL)."""
    filters: dict[str, Any] = dict(options.filters or {})
    if options.scope is not None and "session_id" in filters:
        raise Invalid("Cannot combine a scope with a session_id filter")
    forced = target.forced_filters()
    for key, value in forced.items():  # checked as filters are, before anything else runs
        check_text(value, key)
    filters.update(forced)
    return SearchScope(workspace=target.workspace, filters=filters, scope=options.scope)
