"""SQL for message search: ranked candidate id lists under one scope condition, then rows.

Every candidate query returns at most ``n`` message ids, best first. Matching is served by
an index: ``ix_messages_session_fts`` / ``ix_messages_peer_fts`` (GIN on the workspace, the
session or peer, and ``to_tsvector('english', content)``: one scan intersects the scope with
the words, migrations 0016-0017) for words, ``ix_messages_content_trgm`` (GIN trigrams) for
substrings. The table stores no tsvector, so
scoring a row means parsing its text again: scores are only computed for a *window* of the
newest matches, which bounds the cost of a query whatever the number of matches. Semantic
candidates (nearest embedded chunks) come from :mod:`.vectors` under the same condition.

The text statements compare the scope in a collation of their own
(:func:`_text_scope_condition`): word statements in "C", as the full-text indexes store it
(migration 0017), substrings in one no index has. So no btree index (those serving context and
lists lead with the same columns) can serve them, and the planner cannot choose to walk a
scope it underestimates (statistics not knowing a new workspace or a grown session yet)
parsing or pattern-matching every message: at 12,300 messages that walk cost 240-490 ms per
word statement and 15 ms per substring statement; the index scans take under 1 ms. Nor may it
read the whole table: with a ``LIMIT``, a word common in the scope (``hike`` in 1,200 of
16,600 messages) makes a sequential scan look cheap, but the newest matches sit at the end of
the heap, so the scan parsed 10,200 messages (130-200 ms per word branch, after an ingest
load) where the full-text index answers in 0.5 ms. A search's transaction therefore runs with
``enable_seqscan`` off (:meth:`SearchRepository.plan_each_query`, or with the vector settings
of its first statement): every statement of a search has an index to use. Word lists
(rare words, any word) are one branch per word with the word as a constant, so each branch is
one index scan of scope and word together, with at most ``cap`` + 1 rows read per word.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ..filter_values import is_wildcard
from ..filters import MESSAGE_FILTERS, build_filter
from ..models import MessageEmbedding, Peer, ScopeSession, Session, Workspace, table
from .messages import COLUMNS, MessageRow, T
from .vectors import VectorRepository, cosine_distance

S = table(Session)
W = table(Workspace)
SS = table(ScopeSession)
E = table(MessageEmbedding)
P = table(Peer)

# A literal (not a bind parameter), so the expression is the indexed one even in generic plans.
_CONFIG: ColumnElement[Any] = literal_column("'english'")
_TSVECTOR = func.to_tsvector(_CONFIG, T.c.content)
_SCORED_CHARS = 2000  # scores read the start of a long message only
_MAX_REGEX_CHARS = 200  # longer substrings are not scored (a regex that long is not worth it)
_NEWEST = (T.c.created_at.desc(), T.c.id.desc())
_WIDTH = len(COLUMNS)


@dataclass(frozen=True)
class SearchScope:
    """Which messages a search may return. ``filters`` already carry the forced keys."""

    workspace: str
    filters: Mapping[str, Any]
    scope: str | None = None


def _scope_condition(scope: SearchScope) -> ColumnElement[bool]:
    live_workspace = (
        select(W.c.id).where(W.c.name == scope.workspace, W.c.deleted_at.is_(None)).exists()
    )
    conditions = [T.c.workspace_name == scope.workspace, live_workspace, S.c.is_active]
    where = build_filter(scope.filters, MESSAGE_FILTERS)  # raises InvalidFilter (422)
    if where is not None:
        conditions.append(where)
    if scope.scope is not None:
        members = select(SS.c.session_name).where(
            SS.c.workspace_name == scope.workspace, SS.c.scope_name == scope.scope
        )
        conditions.append(T.c.session_name.in_(members))
    return and_(*conditions)


# The scope keys the text indexes hold (migration 0017), compared in their collation there.
_TEXT_SCOPE_COLUMNS = {
    "workspace_id": T.c.workspace_name,
    "session_id": T.c.session_name,
    "peer_id": T.c.peer_name,
}


WORDS_COLLATION = "C"  # the scope columns of the full-text indexes (migration 0017)
NO_INDEX_COLLATION = "POSIX"  # one no index of ``messages`` is built in


def _text_scope_condition(scope: SearchScope, collation: str) -> ColumnElement[bool]:
    """:func:`_scope_condition` for the text statements: the same rows, but equality on the
    workspace, session and peer in ``collation`` (equal for equality whatever the collation)
    and the active-session check as a hashed list of inactive sessions rather than a join.

    In :data:`WORDS_COLLATION` only the GIN full-text indexes serve the scope: no plan can walk
    it through a btree index, parsing each message. In :data:`NO_INDEX_COLLATION` no index
    does: substrings are found through the trigram index, never by reading the scope through
    the full-text indexes' scope keys and matching each message.
    """

    def _c(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column.collate(collation)

    inactive = select(S.c.name).where(
        S.c.workspace_name == scope.workspace, S.c.is_active.is_(False)
    )
    live_workspace = (
        select(W.c.id).where(W.c.name == scope.workspace, W.c.deleted_at.is_(None)).exists()
    )
    conditions = [
        _c(T.c.workspace_name) == scope.workspace,
        live_workspace,
        T.c.session_name.not_in(inactive),
    ]
    rest: dict[str, Any] = {}
    for key, value in scope.filters.items():
        column = _TEXT_SCOPE_COLUMNS.get(key)
        if column is not None and isinstance(value, str) and not is_wildcard(value):
            conditions.append(_c(column) == value)
        else:
            rest[key] = value
    where = build_filter(rest, MESSAGE_FILTERS)
    if where is not None:
        conditions.append(where)
    if scope.scope is not None:
        members = select(SS.c.session_name).where(
            SS.c.workspace_name == scope.workspace, SS.c.scope_name == scope.scope
        )
        conditions.append(_c(T.c.session_name).in_(members))
    return and_(*conditions)


@dataclass(frozen=True)
class ScoredMessage:
    """A candidate message as ranking reads it: typed scoring fields, plus the row for views."""

    id: int
    peer_name: str
    content: str
    created_at: datetime
    similarity: float | None  # cosine similarity of its nearest chunk; None: not embedded
    row: MessageRow


class SearchRepository:
    def __init__(self, db: AsyncSession, scope: SearchScope) -> None:
        self.db = db
        self._workspace = scope.workspace
        self._scope = scope
        self._where = _scope_condition(scope)  # compiles (so checks) the filters first

    @cached_property
    def _words_where(self) -> ColumnElement[bool]:
        return _text_scope_condition(self._scope, WORDS_COLLATION)

    @cached_property
    def _substring_where(self) -> ColumnElement[bool]:
        return _text_scope_condition(self._scope, NO_INDEX_COLLATION)

    async def plan_each_query(self) -> None:
        """Plan every statement for its actual values, with no sequential scan, for the rest
        of this transaction (a hybrid search's first statement, :meth:`nearest`, does both).

        A cached generic plan cannot see the pattern or the words: it would pick, say, a full
        trigram-index scan for a pattern with no trigrams (``%?%``), and be 10x slower. For
        sequential scans see the module's docstring.
        """
        await self.db.execute(
            select(
                func.set_config("plan_cache_mode", "force_custom_plan", True),
                func.set_config("enable_seqscan", "off", True),
            )
        )

    async def all_words(self, query: str, n: int, window: int) -> list[int]:
        """Messages matching every word of ``query`` (web-search syntax); among the newest
        ``window`` of them, the best ``n`` by cover density."""
        tsquery = func.websearch_to_tsquery(_CONFIG, query)
        newest = self._newest_matching(self._words_where, _TSVECTOR.op("@@")(tsquery), window)
        start = func.left(T.c.content, _SCORED_CHARS)
        score = func.ts_rank_cd(func.to_tsvector(_CONFIG, start), tsquery)
        return await self._best(newest, (score.desc(),), n)

    async def newest_all_words(self, query: str, window: int, cap: int) -> list[int]:
        """The newest ``window`` messages matching every word of ``query``, or none when more
        than ``cap`` do (the words together are common: no evidence). At most ``cap`` + 1
        matches are read, in no order, whatever their number."""
        tsquery = func.websearch_to_tsquery(_CONFIG, query)
        read = (
            select(T.c.id, T.c.created_at)
            .where(self._words_where, _TSVECTOR.op("@@")(tsquery))
            .limit(cap + 1)
            .cte("read")
        )
        few = select(func.count()).select_from(read).scalar_subquery() <= cap
        stmt = (
            select(read.c.id)
            .where(few)
            .order_by(read.c.created_at.desc(), read.c.id.desc())
            .limit(window)
        )
        return list((await self.db.scalars(stmt)).all())

    async def any_word(
        self, words: Sequence[str], n: int, exclude: Sequence[int], cap: int
    ) -> list[int]:
        """Messages matching some of ``words``: most words matched first, then rarer words,
        then newer.

        One index scan per word, reading at most ``cap`` + 1 of its matches (any of them, in
        no order: the rows read are bounded whatever the number of matches); a word with more
        counts as ``cap`` + 1, i.e. as common as any.
        """
        if not words:
            return []
        per_term = self._per_word_hits(words, exclude=exclude, cap=cap)
        stmt = (
            select(per_term.c.id)
            .group_by(per_term.c.id, per_term.c.created_at)
            .order_by(
                func.count().desc(),
                func.sum(1.0 / per_term.c.df).desc(),
                per_term.c.created_at.desc(),
                per_term.c.id.desc(),
            )
            .limit(n)
        )
        return list((await self.db.scalars(stmt)).all())

    async def substring(self, text: str, n: int, window: int) -> list[int]:
        """Messages containing ``text`` (case-insensitive); among the newest ``window`` of them,
        those where it stands as a whole word (or words) first."""
        match = T.c.content.ilike(like_pattern(text), escape="\\")
        newest = self._newest_matching(self._substring_where, match, window)
        if len(text) > _MAX_REGEX_CHARS:
            return await self._best(newest, (), n)
        whole = func.left(T.c.content, _SCORED_CHARS).op("~*")(_whole_word_regex(text))
        return await self._best(newest, (whole.desc(),), n)

    async def nearest(
        self, vector: list[float], n: int, *, authors: Collection[str] | None = None
    ) -> list[int]:
        """In-scope messages whose embedded chunks are nearest ``vector`` (cosine), best first;
        only those written by ``authors`` if given. Messages not embedded yet are absent."""
        where = self._where
        if authors is not None:
            where = and_(where, T.c.peer_name.in_(list(authors)))
        return await VectorRepository(self.db).nearest_messages(
            vector, where, self._workspace, n, index_only=True
        )

    async def rare_words(self, words: Sequence[str], n: int, cap: int) -> list[tuple[int, int]]:
        """Messages matching some of ``words``, each with the document frequency of its rarest
        matched word (stems; stop words dropped), rarest first, then newest.

        Each word's matches are read from the index up to ``cap`` + 1 rows (in no order), so
        the rows read are bounded whatever the size of the scope: a word with more than
        ``cap`` matches is common, and its matches are left out.
        """
        if not words:
            return []
        per_term = self._per_word_hits(words, cap=cap)
        df = func.min(per_term.c.df)
        stmt = (
            select(per_term.c.id, df)
            .where(per_term.c.df <= cap)
            .group_by(per_term.c.id, per_term.c.created_at)
            .order_by(df, per_term.c.created_at.desc(), per_term.c.id.desc())
            .limit(n)
        )
        return [(i, int(f)) for i, f in (await self.db.execute(stmt)).all()]

    async def named_peers(self, words: Sequence[str]) -> set[str]:
        """Peers of the workspace whose name, lowercased, is one of ``words`` (lowercase)."""
        if not words:
            return set()
        stmt = select(P.c.name).where(
            P.c.workspace_name == self._workspace,
            P.c.deleted_at.is_(None),
            func.lower(P.c.name).in_(list(words)),
        )
        return set((await self.db.scalars(stmt)).all())

    async def scored_rows(
        self, ids: Sequence[int], vector: list[float] | None
    ) -> list[ScoredMessage]:
        """The rows of ``ids`` (in no particular order), each with ``similarity``: the cosine
        similarity of its nearest embedded chunk to ``vector`` (None: not embedded, or no
        vector)."""
        if not ids:
            return []
        if vector is None:
            similarity: Any = literal_column("NULL::float8")
        else:
            nearest = func.min(cosine_distance(E.c.embedding, vector))
            similarity = select(1.0 - nearest).where(E.c.message_id == T.c.id).scalar_subquery()
        stmt = select(*COLUMNS, similarity.label("similarity")).where(T.c.id.in_(ids))
        return [
            ScoredMessage(
                id=r.id,
                peer_name=r.peer_name,
                content=r.content,
                created_at=r.created_at,
                similarity=None if r.similarity is None else float(r.similarity),
                row=MessageRow(*r[:_WIDTH]),
            )
            for r in (await self.db.execute(stmt)).all()
        ]

    async def newest(self, n: int) -> list[int]:
        stmt = self._base(T.c.id).order_by(*_NEWEST).limit(n)
        return list((await self.db.scalars(stmt)).all())

    async def rows(self, ids: Sequence[int]) -> list[MessageRow]:
        """The rows of ``ids`` (in no particular order)."""
        if not ids:
            return []
        stmt = select(*COLUMNS).where(T.c.id.in_(ids))
        return [MessageRow(*r) for r in (await self.db.execute(stmt)).all()]

    def _base(self, *columns: Any) -> Select[Any]:
        on = and_(S.c.workspace_name == T.c.workspace_name, S.c.name == T.c.session_name)
        return select(*columns).join(S, on).where(self._where)

    def _per_word_hits(
        self, words: Sequence[str], *, exclude: Sequence[int] = (), cap: int | None = None
    ) -> Any:
        """In-scope matches of each distinct stem of ``words`` (stop words dropped): a subquery
        of ``id``, ``created_at`` and ``df``, that stem's number of matches (read up to
        ``cap`` + 1 if given: any of them, in no order, so the heap is read for those only).

        One branch per word, each with its words as a constant: so every branch is one GIN
        scan of scope and word together. (With the words joined in from a list, the planner
        could read the scope from the index alone and parse each message against each word.)
        A word whose stem an earlier word has, or which is a stop word, leaves its branch
        empty when the statement is planned.
        """
        queries = [func.plainto_tsquery(_CONFIG, literal(w, Text)) for w in words]
        branches = []
        for i, query in enumerate(queries):
            new = and_(func.numnode(query) > 0, *[query != earlier for earlier in queries[:i]])
            hits = select(T.c.id, T.c.created_at).where(
                self._words_where, new, _TSVECTOR.op("@@")(query)
            )
            if exclude:
                hits = hits.where(T.c.id.not_in(list(exclude)))
            if cap is not None:
                hits = hits.limit(cap + 1)
            hit = hits.subquery(f"word{i}")
            df = func.count().over().label("df")
            branches.append(select(hit.c.id, hit.c.created_at, df))
        return union_all(*branches).subquery("per_term")

    def _newest_matching(
        self, where: ColumnElement[bool], match: ColumnElement[Any], window: int
    ) -> Any:
        """Ids of the newest ``window`` messages satisfying ``where`` (a text scope condition)
        and ``match`` (a subquery)."""
        stmt = select(T.c.id, T.c.created_at).where(where, match)
        return stmt.order_by(*_NEWEST).limit(window).subquery("newest")

    async def _best(self, newest: Any, order: tuple[Any, ...], n: int) -> list[int]:
        """The ``n`` best of the ``newest`` window by ``order`` (expressions over ``T``)."""
        stmt = (
            select(newest.c.id)
            .join(T, T.c.id == newest.c.id)
            .order_by(*order, newest.c.created_at.desc(), newest.c.id.desc())
            .limit(n)
        )
        return list((await self.db.scalars(stmt)).all())


def like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _whole_word_regex(text: str) -> str:
    """A Postgres regex matching ``text`` literally, not inside a longer word.

    In Postgres' advanced regexes a backslash before a non-alphanumeric character always means
    that character, and every metacharacter is ASCII: escaping ASCII punctuation is enough.
    """
    literal = "".join(f"\\{c}" if c.isascii() and not c.isalnum() else c for c in text)
    return f"(^|[^[:alnum:]_]){literal}([^[:alnum:]_]|$)"
