"""Conclusions: manual batch creation, listing, semantic query, lookup and soft deletion."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import vector_literal
from ..db.repositories.conclusion_rows import ConclusionRead, NearConclusion, NewConclusionRow
from ..db.repositories.conclusions import ConclusionRepository, filter_condition
from ..db.repositories.workspaces import WorkspaceRepository
from ..embeddings import Embedder
from ..errors import Invalid, NotFound
from ..ids import new_id
from ..queue import embed_conclusions_jobs, enqueue_all
from ..schemas.conclusions import (
    Conclusion,
    ConclusionBatchCreate,
    ConclusionCreate,
    ConclusionQuery,
)
from ..schemas.pagination import Page
from . import ranking, semantic
from .paging import PageRequest, to_page
from .ranking import Evidence, hybrid_rank
from .search_query import tense_of

log = logging.getLogger(__name__)

EMBED_BUDGET_SECONDS = 5.0
"""How long a create request waits for its conclusions' embeddings (local model or remote
endpoint) before storing them unembedded and queueing them for the worker instead."""

Vectors = list[list[float] | None]

_PAIR_KEYS = (("observer", "observer_id"), ("observed", "observed_id"))
PAIR_REQUIRED = (
    "filters must name the collection to search: an observer and an observed peer, e.g. "
    '{"filters": {"observer_id": "alice", "observed_id": "bob"}} '
    '(the keys "observer" and "observed" work too)'
)


def conclusion(row: ConclusionRead) -> Conclusion:
    return Conclusion(
        id=row.id,
        content=row.content,
        observer_id=row.observer,
        observed_id=row.observed,
        session_id=row.session_name,
        level=row.level,
        source_ids=list(row.source_ids),
        times_derived=row.times_derived,
        created_at=row.created_at,
    )


async def embed_batch(embedder: Embedder, workspace: str, body: ConclusionBatchCreate) -> Vectors:
    """The embedding of every conclusion of a create request (None for a blank one), so that
    they are stored with the rows and a query right after the create finds them.

    Call it before the request's first statement: no connection is held while the model (or
    the endpoint) runs. Within :data:`EMBED_BUDGET_SECONDS`; when embedding fails or takes
    longer, every vector is None and the reason is logged: the rows are then stored as before
    and embedded by a queued job (a query finds them once it has run).
    """
    texts = [item.content for item in body.conclusions]
    wanted = [n for n, t in enumerate(texts) if t.strip()]
    vectors: Vectors = [None] * len(texts)
    if not wanted:
        return vectors
    started = time.monotonic()
    try:
        found = await asyncio.wait_for(
            embedder.embed([texts[n] for n in wanted]), timeout=EMBED_BUDGET_SECONDS
        )
    except Exception as exc:  # the model or the endpoint failing, or too slow
        reason = (
            f"no answer within {EMBED_BUDGET_SECONDS:g}s"
            if isinstance(exc, TimeoutError)
            else f"{type(exc).__name__}: {exc}"
        )
        log.warning(
            "workspace %s: embedding %d new conclusions in the request failed after %.2fs "
            "(%s); they are queued for the worker instead, and conclusions/query finds them "
            "once it has embedded them",
            workspace,
            len(wanted),
            time.monotonic() - started,
            reason,
        )
        return vectors
    for n, vector in zip(wanted, found, strict=True):
        vectors[n] = vector
    return vectors


async def create_batch(
    db: AsyncSession, workspace: str, body: ConclusionBatchCreate, vectors: Vectors | None = None
) -> list[Conclusion]:
    """Store manual conclusions (level ``explicit``) in request order; nothing is created
    implicitly: every peer must exist and every session must exist and be active (else 404).

    ``vectors`` (from :func:`embed_batch`, one per conclusion) are stored with the rows, so a
    semantic query right after this transaction finds them; a conclusion without one gets an
    embedding job, queued in this transaction.

    Manual creation is deliberately permissive: no de-duplication and no session-purity rule
    (the deriver applies both to what it writes).

    Nothing is written into a workspace or session being deleted (404): the sessions named are
    held until commit, or, when none is named, the workspace (an active session in it is
    enough, as a workspace with one cannot be deleted).
    """
    items = body.conclusions
    repo = ConclusionRepository(db)
    await _require_peers(repo, workspace, items)
    if any(item.session_id is not None for item in items):
        await _require_sessions(repo, workspace, items)
    elif not await WorkspaceRepository(db).hold(workspace):
        raise NotFound(f"Workspace {workspace} not found")
    given = vectors if vectors is not None else [None] * len(items)
    rows = await repo.insert(
        workspace, [_row(item, vector) for item, vector in zip(items, given, strict=True)]
    )
    unembedded = [r.id for r, vector in zip(rows, given, strict=True) if vector is None]
    if unembedded:
        await enqueue_all(db, embed_conclusions_jobs(workspace, unembedded))
    return [conclusion(r) for r in rows]


def _row(item: ConclusionCreate, vector: list[float] | None) -> NewConclusionRow:
    return NewConclusionRow(
        id=new_id(),
        observer=item.observer_id,
        observed=item.observed_id,
        session_name=item.session_id,
        level="explicit",
        content=item.content,
        embedding=vector_literal(vector) if vector is not None else None,
    )


async def _require_peers(
    repo: ConclusionRepository, workspace: str, items: list[ConclusionCreate]
) -> None:
    wanted = [name for item in items for name in (item.observer_id, item.observed_id)]
    found = await repo.existing_peers(workspace, wanted)
    missing = next((name for name in wanted if name not in found), None)
    if missing is not None:
        raise NotFound(f"Peer {missing} not found in workspace {workspace}")


async def _require_sessions(
    repo: ConclusionRepository, workspace: str, items: list[ConclusionCreate]
) -> None:
    wanted = [item.session_id for item in items if item.session_id is not None]
    if not wanted:
        return
    found = await repo.active_sessions(workspace, wanted)
    missing = next((name for name in wanted if name not in found), None)
    if missing is not None:
        raise NotFound(f"Session {missing} not found in workspace {workspace}")


async def list_conclusions(
    db: AsyncSession, workspace: str, filters: dict[str, Any] | None, req: PageRequest
) -> Page[Conclusion]:
    result = await ConclusionRepository(db).list_page(
        workspace, filters, page=req.page, size=req.size, reverse=req.reverse
    )
    return to_page(result, conclusion, req)


async def query(
    db: AsyncSession, embedder: Embedder, workspace: str, body: ConclusionQuery
) -> list[Conclusion]:
    """The ``top_k`` conclusions of one (observer, observed) collection nearest the query.

    Everything is checked, then the query embedded, before the first statement: no
    connection is held while the model runs. Conclusions not embedded yet are absent (manual
    ones are embedded by their create request unless that failed; see :func:`embed_batch`).
    """
    _require_pair(body.filters)
    where = filter_condition(body.filters)  # the whole object applies (e.g. ``level``)
    if not body.query.strip():
        raise Invalid("query must not be empty")
    vector = await semantic.embed_query(embedder, body.query)  # 422 too long, 503 failing
    wanted = max(RERANKED_PER_TOP_K * body.top_k, MIN_RERANKED)
    rows = await ConclusionRepository(db).nearest(
        workspace, vector, where, top_k=wanted, max_distance=body.distance
    )
    return [conclusion(r) for r in rerank(rows, body.query, body.top_k)]


RERANKED_PER_TOP_K, MIN_RERANKED = 3, 30


def rerank(rows: list[NearConclusion], query: str, top_k: int) -> list[NearConclusion]:
    """The ``top_k`` best of the nearest ``rows`` (which carry ``distance``), by similarity
    with a recency prior that depends on the query's tense: when two conclusions say nearly
    the same thing, the newer wins, decisively when the query asks about "now"."""
    evidence = [
        Evidence(
            key=n,
            similarity=1.0 - r.distance,
            keyword=0.0,
            created_at=r.created_at,
            words=len(r.content.split()),
        )
        for n, r in enumerate(rows)
    ]
    order = hybrid_rank(
        evidence, tense=tense_of(query), weights=ranking.CONCLUSION_WEIGHTS, limit=top_k
    )
    return [rows[n] for n in order]


def _require_pair(filters: dict[str, Any] | None) -> None:
    for keys in _PAIR_KEYS:
        values = [(filters or {}).get(key) for key in keys]
        if not any(isinstance(v, str) and v and v != "*" for v in values):
            raise Invalid(PAIR_REQUIRED)


async def get(db: AsyncSession, workspace: str, conclusion_id: str) -> Conclusion:
    row = await ConclusionRepository(db).get(workspace, conclusion_id)
    if row is None:
        raise NotFound(f"Conclusion {conclusion_id} not found")
    return conclusion(row)


async def delete(db: AsyncSession, workspace: str, conclusion_id: str) -> None:
    """Soft delete: the row disappears from every read at once (purged later)."""
    if not await ConclusionRepository(db).soft_delete(workspace, conclusion_id):
        raise NotFound(f"Conclusion {conclusion_id} not found")
