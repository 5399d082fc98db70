"""The ``conclusions`` table's owner: every statement that writes it, and the live filter.

Every insert (the API, the deriver, dreams, import), reinforcement, soft delete, supersede,
source rewrite, vector and hard delete of conclusions is a method of
:class:`ConclusionRepository` (``embeddings.EmbeddingRepository.resize`` only retypes the
vector column, for ``reembed``). A row is
*live* until soft-deleted (``deleted_at``): :func:`live` / :data:`LIVE_SQL`. It is *current*
while also not replaced by a newer one (``superseded_by``): :func:`current` /
:data:`CURRENT_SQL`. Soft-deleted rows are never read; superseded rows are left out of lists
and queries unless the filters name ``superseded`` (``{"superseded": true}`` shows only
them; ``false`` only current ones); :meth:`ConclusionRepository.get` reads them by id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..filters import CONCLUSION_FILTERS, build_filter
from ..models import Conclusion, Peer, Session, table
from ..models.base import Vector
from .conclusion_rows import (
    ConclusionRead,
    NearConclusion,
    NewConclusionRow,
    Paraphrase,
    PremiseMatch,
    Recent,
    StoredText,
    ToEmbed,
)
from .paging import fetch_page
from .transfer_rows import ConclusionRow
from .vectors import VectorRepository

T = table(Conclusion)
P = table(Peer)
S = table(Session)
COLUMNS = (
    T.c.id,
    T.c.workspace_name,
    T.c.observer,
    T.c.observed,
    T.c.session_name,
    T.c.level,
    T.c.content,
    T.c.source_ids,
    T.c.times_derived,
    T.c.created_at,
)
# What the model reads of a conclusion (``conclusion_rows.ConclusionDetail``, in order).
DETAIL_COLUMNS = (
    T.c.id,
    T.c.content,
    T.c.level,
    T.c.observer,
    T.c.observed,
    T.c.session_name,
    T.c.premises,
    T.c.source_message_ids,
    T.c.source_ids,
    T.c.internal_metadata,
    T.c.times_derived,
    T.c.created_at,
)

# Built once: executed with a list of parameter sets, which SQLAlchemy sends as one
# multi-row INSERT (for up to 1,000 rows) and returns in parameter order. ``vector`` is each
# row's embedding as a pgvector literal (text, cast in SQL), or None.
_INSERT = (
    insert(T)
    .values(embedding=cast(bindparam("vector", type_=Text()), Vector()))
    .returning(*COLUMNS, sort_by_parameter_order=True)
)


LIVE_SQL = "deleted_at IS NULL"
""":func:`live` for hand-written statements over an unaliased ``conclusions``."""
CURRENT_SQL = "deleted_at IS NULL AND superseded_by IS NULL"
""":func:`current` for hand-written statements over an unaliased ``conclusions``."""


def live() -> ColumnElement[bool]:
    """Not soft-deleted."""
    return T.c.deleted_at.is_(None)


def current() -> ColumnElement[bool]:
    """Live and not replaced by a newer conclusion."""
    return and_(live(), T.c.superseded_by.is_(None))


def _live(workspace: str) -> tuple[ColumnElement[bool], ...]:
    return (T.c.workspace_name == workspace, live())


def _in_collection(workspace: str, observer: str, observed: str) -> tuple[ColumnElement[bool], ...]:
    return (T.c.workspace_name == workspace, T.c.observer == observer, T.c.observed == observed)


def premise_key(column: ColumnElement[str]) -> ColumnElement[str]:
    """``deriver.dedupe.premise_key`` in SQL: lower-cased, whitespace collapsed, trailing
    punctuation (``.!?;:,`` and spaces) dropped."""
    collapsed = func.regexp_replace(func.lower(column), r"\s+", " ", "g")
    return func.rtrim(func.btrim(collapsed), ".!?;:, ")


_SET_VECTOR = text(
    "UPDATE conclusions SET embedding = CAST(CAST(:embedding AS real[]) AS vector) WHERE id = :id"
)
_REPOINT = text(
    "UPDATE conclusions SET source_ids = ARRAY("
    " SELECT s FROM (SELECT CASE WHEN x = ANY(:old) THEN :new ELSE x END AS s,"
    "   min(n) AS n FROM unnest(source_ids) WITH ORDINALITY AS u(x, n) GROUP BY 1) q"
    " ORDER BY n)"
    " WHERE workspace_name = :ws AND source_ids && :old"
).bindparams(bindparam("old", type_=ARRAY(Text)))

# Conclusions that cite any of ``:ids`` (public message ids): explicit ones whose every source
# is among them are soft-deleted; every other one loses only those references.
_FORGET_SOURCES = text(
    """
    WITH cited AS (
        SELECT id, level,
               ARRAY(SELECT x FROM unnest(source_message_ids) AS x
                     WHERE x <> ALL(CAST(:ids AS text[]))) AS kept
          FROM conclusions
         WHERE workspace_name = :workspace AND source_message_ids && CAST(:ids AS text[])
         FOR UPDATE
    )
    UPDATE conclusions c
       SET source_message_ids = cited.kept,
           deleted_at = CASE WHEN cited.level = 'explicit' AND cardinality(cited.kept) = 0
                             THEN coalesce(c.deleted_at, now()) ELSE c.deleted_at END
      FROM cited WHERE c.id = cited.id
    """
)

_ABSORB = text(
    "UPDATE conclusions SET times_derived = greatest(times_derived, :times),"
    " source_message_ids = :sources,"
    " internal_metadata = internal_metadata || jsonb_build_object('merged_from',"
    "   coalesce(internal_metadata->'merged_from', '[]'::jsonb) || CAST(:merged AS jsonb))"
    f" WHERE id = :id AND {LIVE_SQL}"
).bindparams(bindparam("sources", type_=ARRAY(Text)))

_TEXTS = "ARRAY(SELECT jsonb_array_elements_text(CAST({} AS jsonb)))"
# An import batch: one row per array index, JSON values as text (cast here), ragged text
# arrays as JSON arrays.
_IMPORT = text(
    f"""INSERT INTO conclusions (id, workspace_name, observer, observed, session_name, level,
                                content, premises, source_message_ids, source_ids,
                                times_derived, internal_metadata, created_at, superseded_by,
                                superseded_at, embedding)
    SELECT u.id, :w, u.observer, u.observed, u.session, u.level, u.content,
           {_TEXTS.format("u.premises")}, {_TEXTS.format("u.sources")},
           {_TEXTS.format("u.source_ids")}, u.times, CAST(u.internal AS jsonb), u.created,
           u.superseded_by, u.superseded_at, CAST(u.vector AS vector)
    FROM unnest(CAST(:ids AS text[]), CAST(:observers AS text[]), CAST(:observed AS text[]),
                CAST(:sessions AS text[]), CAST(:levels AS text[]), CAST(:contents AS text[]),
                CAST(:premises AS text[]), CAST(:sources AS text[]),
                CAST(:source_ids AS text[]), CAST(:times AS int[]), CAST(:internal AS text[]),
                CAST(:created AS timestamptz[]), CAST(:superseded_by AS text[]),
                CAST(:superseded_at AS timestamptz[]), CAST(:vectors AS text[]))
         WITH ORDINALITY AS u(id, observer, observed, session, level, content, premises,
                              sources, source_ids, times, internal, created, superseded_by,
                              superseded_at, vector, ord)
    ORDER BY u.ord"""
)


def filter_condition(filters: Mapping[str, Any] | None) -> ColumnElement[bool] | None:
    """The filters as SQL (pure: invalid filters raise before any statement runs), with
    superseded conclusions left out unless the filters name ``superseded``."""
    where = build_filter(filters, CONCLUSION_FILTERS)
    if names_superseded(filters):
        return where
    not_replaced = T.c.superseded_by.is_(None)
    return not_replaced if where is None else and_(where, not_replaced)


def names_superseded(filters: object) -> bool:
    """Whether ``superseded`` is a key anywhere in ``filters`` (inside AND/OR/NOT too)."""
    if isinstance(filters, Mapping):
        return any(k == "superseded" or names_superseded(v) for k, v in filters.items())
    if isinstance(filters, list):
        return any(names_superseded(v) for v in filters)
    return False


class ConclusionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def existing_peers(self, workspace: str, names: Iterable[str]) -> set[str]:
        """Which of ``names`` are peers (peers are only ever removed with their workspace)."""
        stmt = select(P.c.name).where(
            P.c.workspace_name == workspace, P.c.name.in_(sorted(set(names)))
        )
        return set((await self.db.execute(stmt)).scalars().all())

    async def active_sessions(self, workspace: str, names: Iterable[str]) -> set[str]:
        """Which of ``names`` are active sessions.

        SHARE-locked until commit, so a concurrent session delete cannot deactivate a session
        (and have its conclusions purged) before these rows are committed.
        """
        stmt = (
            select(S.c.name)
            .where(
                S.c.workspace_name == workspace,
                S.c.name.in_(sorted(set(names))),
                S.c.is_active,
            )
            .with_for_update(read=True)
        )
        return set((await self.db.execute(stmt)).scalars().all())

    async def insert(
        self, workspace: str, rows: Sequence[NewConclusionRow]
    ) -> list[ConclusionRead]:
        """Insert conclusions into ``workspace``; returns them in the order given."""
        if not rows:
            return []
        result = await self.db.execute(_INSERT, [r.params(workspace) for r in rows])
        return [ConclusionRead.of(r) for r in result.all()]

    async def import_rows(self, workspace: str, rows: Sequence[ConclusionRow]) -> None:
        """Insert one batch of an import in one statement (``unnest`` of column arrays)."""
        await self.db.execute(
            _IMPORT,
            {
                "w": workspace,
                "ids": [r.id for r in rows],
                "observers": [r.observer for r in rows],
                "observed": [r.observed for r in rows],
                "sessions": [r.session for r in rows],
                "levels": [r.level for r in rows],
                "contents": [r.content for r in rows],
                "premises": [r.premises for r in rows],
                "sources": [r.source_message_ids for r in rows],
                "source_ids": [r.source_ids for r in rows],
                "times": [r.times_derived for r in rows],
                "internal": [r.internal_metadata for r in rows],
                "created": [r.created_at for r in rows],
                "superseded_by": [r.superseded_by for r in rows],
                "superseded_at": [r.superseded_at for r in rows],
                "vectors": [r.vector for r in rows],
            },
        )

    async def get(self, workspace: str, conclusion_id: str) -> ConclusionRead | None:
        stmt = select(*COLUMNS).where(T.c.id == conclusion_id, *_live(workspace))
        row = (await self.db.execute(stmt)).first()
        return None if row is None else ConclusionRead.of(row)

    async def soft_delete(self, workspace: str, conclusion_id: str) -> bool:
        """Mark a live conclusion deleted; ``False`` if it is missing or already deleted."""
        stmt = (
            update(T)
            .where(T.c.id == conclusion_id, *_live(workspace))
            .values(deleted_at=func.now())
            .returning(T.c.id)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def list_page(
        self,
        workspace: str,
        filters: Mapping[str, Any] | None,
        *,
        page: int,
        size: int,
        reverse: bool,
    ) -> tuple[list[ConclusionRead], int]:
        """Newest first (id breaks ties: a batch shares one ``created_at``); ``reverse`` flips."""
        stmt = select(*COLUMNS).where(*_live(workspace))
        where = filter_condition(filters)
        if where is not None:
            stmt = stmt.where(where)
        order = (T.c.created_at, T.c.id) if reverse else (T.c.created_at.desc(), T.c.id.desc())
        rows, total = await fetch_page(self.db, stmt, order, page=page, size=size)
        return [ConclusionRead.of(r) for r in rows], total

    async def nearest(
        self,
        workspace: str,
        vector: list[float],
        where: ColumnElement[bool] | None,
        *,
        top_k: int,
        max_distance: float | None,
    ) -> list[NearConclusion]:
        """The ``top_k`` live conclusions nearest ``vector`` (cosine) satisfying ``where``,
        nearest first, within ``max_distance`` if given. Rows not embedded yet are absent."""
        conditions = [T.c.workspace_name == workspace]
        if where is not None:
            conditions.append(where)
        rows = await VectorRepository(self.db).nearest_conclusions(
            vector, COLUMNS, conditions, top_k, max_distance, superseded=True
        )  # ``where`` (from filter_condition) decides about superseded rows
        return [NearConclusion.near(r) for r in rows]

    async def supersede(
        self, workspace: str, observer: str, observed: str, pairs: Sequence[tuple[str, str]]
    ) -> None:
        """Mark each ``(outdated, current)`` pair's outdated conclusion of the collection as
        replaced by the current one (kept, left out of default reads). Live rows only."""
        if not pairs:
            return
        outdated = bindparam("outdated", [o for o, _ in pairs], ARRAY(Text))
        replacing = bindparam("current", [c for _, c in pairs], ARRAY(Text))
        replaced = (
            select(func.unnest(outdated).label("outdated"), func.unnest(replacing).label("current"))
        ).subquery("replaced")
        stmt = (
            update(T)
            .where(
                T.c.id == replaced.c.outdated,
                *_in_collection(workspace, observer, observed),
                current(),
            )
            .values(superseded_by=replaced.c.current, superseded_at=func.now())
        )
        await self.db.execute(stmt)

    async def reinforce(self, ids: Sequence[str], times: int = 1) -> None:
        """Count each of ``ids`` derived ``times`` more (a duplicate was found again)."""
        if ids:
            stmt = (
                update(T)
                .where(T.c.id.in_(list(ids)))
                .values(times_derived=T.c.times_derived + times)
            )
            await self.db.execute(stmt)

    async def absorb(
        self,
        keep: str,
        times_derived: int,
        source_message_ids: Sequence[str],
        merged_from: Sequence[Mapping[str, str]],
    ) -> None:
        """The kept row of merged duplicates: summed reinforcement, united sources, and the
        removed rows remembered in its internal metadata (``merged_from``)."""
        params = {
            "id": keep,
            "times": times_derived,
            "sources": list(source_message_ids),
            "merged": json.dumps([dict(m) for m in merged_from]),
        }
        await self.db.execute(_ABSORB, params)

    async def repoint_sources(self, workspace: str, old: Sequence[str], new: str) -> None:
        """Conclusions citing any of ``old`` (rows replaced or merged away) cite ``new``
        instead, each id once, in the order first cited."""
        if old:
            await self.db.execute(_REPOINT, {"ws": workspace, "old": list(old), "new": new})

    async def soft_delete_in(
        self, workspace: str, observer: str, observed: str, ids: Sequence[str]
    ) -> None:
        """Soft-delete the live conclusions of one collection among ``ids``."""
        if ids:
            stmt = (
                update(T)
                .where(
                    T.c.id.in_(list(ids)), *_in_collection(workspace, observer, observed), live()
                )
                .values(deleted_at=func.now())
            )
            await self.db.execute(stmt)

    async def forget_sources(self, workspace: str, message_ids: Sequence[str]) -> None:
        """Messages (public ids) are gone: conclusions citing them lose those references, and
        explicit ones left with no source are soft-deleted (as ``DELETE …/conclusions/{id}``
        does)."""
        if message_ids:
            await self.db.execute(
                _FORGET_SOURCES, {"workspace": workspace, "ids": list(message_ids)}
            )

    async def delete_for_session(self, workspace: str, session: str) -> None:
        """Hard-delete every conclusion stamped with a session being purged."""
        await self.db.execute(
            delete(T).where(T.c.workspace_name == workspace, T.c.session_name == session)
        )

    async def delete_about_peer(self, workspace: str, peer: str) -> None:
        """Hard-delete every conclusion by or about a peer being erased."""
        about = (T.c.observer == peer) | (T.c.observed == peer)
        await self.db.execute(delete(T).where(T.c.workspace_name == workspace, about))

    async def purge_deleted(self, older_than: timedelta) -> int:
        """Hard-delete conclusions soft-deleted more than ``older_than`` ago; how many."""
        stmt = delete(T).where(T.c.deleted_at < func.now() - older_than).returning(T.c.id)
        return len((await self.db.execute(stmt)).all())

    async def known_explicit(
        self, workspace: str, observer: str, observed: str, limit: int
    ) -> list[str]:
        """The newest ``limit`` current explicit conclusions of a collection, oldest first."""
        newest = (
            select(T.c.content, T.c.created_at)
            .where(*_in_collection(workspace, observer, observed), T.c.level == "explicit")
            .where(current())
            .order_by(T.c.created_at.desc())
            .limit(limit)
            .subquery()
        )
        stmt = select(newest.c.content).order_by(newest.c.created_at)
        return list((await self.db.scalars(stmt)).all())

    async def with_contents(
        self, workspace: str, observer: str, observed: str, contents: Sequence[str]
    ) -> list[StoredText]:
        """Live conclusions of a collection whose trimmed, lower-cased content is among
        ``contents`` (given trimmed and lower-cased); callers re-check the exact key."""
        stmt = select(T.c.id, T.c.level, T.c.content, T.c.session_name).where(
            *_in_collection(workspace, observer, observed),
            live(),
            func.lower(func.btrim(T.c.content)).in_(list(contents)),
        )
        return [StoredText(*r) for r in (await self.db.execute(stmt)).all()]

    async def by_premise_keys(
        self, workspace: str, observer: str, observed: str, keys: Sequence[str]
    ) -> list[PremiseMatch]:
        """Live conclusions of a collection whose text, read as a premise
        (:func:`premise_key`), is among ``keys``; oldest first."""
        if not keys:
            return []
        key = premise_key(T.c.content)
        stmt = (
            select(T.c.id, T.c.level, key)
            .where(*_in_collection(workspace, observer, observed), live(), key.in_(list(keys)))
            .order_by(T.c.created_at, T.c.id)
        )
        return [PremiseMatch(*r) for r in (await self.db.execute(stmt)).all()]

    async def to_embed(self, ids: Sequence[str]) -> list[ToEmbed]:
        """The live ones of ``ids`` with their text (the embedding job's read)."""
        stmt = select(T.c.id, T.c.content).where(T.c.id.in_(list(ids)), live())
        return [ToEmbed(*r) for r in (await self.db.execute(stmt)).all()]

    async def set_vectors(self, vectors: Mapping[str, list[float]]) -> None:
        """Store each conclusion's embedding (one statement, a parameter set per row)."""
        if vectors:
            params = [{"id": cid, "embedding": v} for cid, v in vectors.items()]
            await self.db.execute(_SET_VECTOR, params)

    async def live_ids(self) -> list[tuple[str, str]]:
        """Every live conclusion as (workspace, id), ordered by workspace then id (reembed)."""
        stmt = select(T.c.workspace_name, T.c.id).where(live())
        stmt = stmt.order_by(T.c.workspace_name, T.c.id)
        return [(r[0], str(r[1])) for r in (await self.db.execute(stmt)).all()]

    async def has_embedded(self, workspace: str, observer: str, observed: str) -> bool:
        """Whether the collection holds at least one live embedded conclusion."""
        embedded = select(T.c.id).where(
            *_in_collection(workspace, observer, observed), live(), T.c.embedding.is_not(None)
        )
        return bool(await self.db.scalar(select(embedded.exists())))

    async def paraphrases(
        self,
        workspace: str,
        observer: str,
        observed: str,
        vector: list[float],
        *,
        level: str,
        session: str | None,
        k: int,
        max_distance: float,
    ) -> list[Paraphrase]:
        """The ``k`` nearest current conclusions of a collection with ``level`` (and, for
        explicit ones, ``session``) within ``max_distance`` of ``vector``, nearest first."""
        where = [*_in_collection(workspace, observer, observed), T.c.level == level]
        if level == "explicit":
            where.append(T.c.session_name == session)
        columns = [T.c.id, T.c.content, T.c.times_derived]
        found = await VectorRepository(self.db).nearest_conclusions(
            vector, columns, where, k, max_distance=max_distance
        )
        return [Paraphrase(r.id, r.content, int(r.times_derived), float(r.distance)) for r in found]

    async def newest(
        self, workspace: str, observer: str, observed: str, limit: int
    ) -> list[Recent]:
        """The collection's newest ``limit`` current conclusions (every level), newest first."""
        stmt = (
            select(
                T.c.id,
                T.c.level,
                T.c.content,
                T.c.created_at,
                T.c.times_derived,
                T.c.source_message_ids,
            )
            .where(*_in_collection(workspace, observer, observed), current())
            .order_by(T.c.created_at.desc(), T.c.id.desc())
            .limit(limit)
        )
        return [
            Recent(
                r.id,
                r.level,
                r.content,
                r.created_at,
                int(r.times_derived),
                tuple(r.source_message_ids or ()),
            )
            for r in (await self.db.execute(stmt)).all()
        ]

    async def latest_explicit_session(
        self, workspace: str, observer: str, observed: str
    ) -> str | None:
        """The session of the collection's most recent live explicit conclusion."""
        stmt = (
            select(T.c.session_name)
            .where(*_in_collection(workspace, observer, observed), T.c.level == "explicit", live())
            .order_by(T.c.created_at.desc(), T.c.id.desc())
            .limit(1)
        )
        value = await self.db.scalar(stmt)
        return str(value) if value is not None else None
