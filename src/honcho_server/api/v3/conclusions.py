"""Routes: conclusions (create, list, semantic query, get, soft delete)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...schemas.conclusions import (
    Conclusion,
    ConclusionBatchCreate,
    ConclusionGet,
    ConclusionQuery,
)
from ...schemas.pagination import Page
from ...services import conclusions
from ..deps import DbSession, EmbedderDep, Listing, UnitOfWorkDep
from ..idempotency import IdempotencyKey, create_once

router = APIRouter(prefix="/workspaces/{workspace_id}/conclusions", tags=["conclusions"])


@router.post("", response_model=list[Conclusion], status_code=201)
async def create_conclusions(
    workspace_id: str,
    body: ConclusionBatchCreate,
    uow: UnitOfWorkDep,
    embedder: EmbedderDep,
    idempotency_key: IdempotencyKey = None,
) -> list[Conclusion] | Response:
    # Embedded before the transaction opens (no connection held meanwhile), so that a query
    # sent right after this answer finds them; on failure they are queued for the worker.
    vectors = await conclusions.embed_batch(embedder, workspace_id, body)

    async def create(db: AsyncSession) -> list[Conclusion]:
        return await conclusions.create_batch(db, workspace_id, body, vectors)

    return await create_once(
        uow,
        idempotency_key,
        create,
        workspace=workspace_id,
        route="conclusions.create",
        request={"body": body.model_dump(mode="json")},
        response_type=list[Conclusion],
        status=201,
    )


@router.post("/list", response_model=Page[Conclusion])
async def list_conclusions(
    workspace_id: str,
    db: DbSession,
    paging: Listing,
    options: Annotated[ConclusionGet | None, Body()] = None,
) -> Page[Conclusion]:
    filters = options.filters if options else None
    return await conclusions.list_conclusions(db, workspace_id, filters, paging)


# Before the `/{conclusion_id}` routes, which would otherwise match `/query` (and answer 405).
@router.post("/query", response_model=list[Conclusion])
async def query_conclusions(
    workspace_id: str, body: ConclusionQuery, db: DbSession, embedder: EmbedderDep
) -> list[Conclusion]:
    """Query Conclusions using semantic search. Use `top_k` to control the number of results
    returned."""
    return await conclusions.query(db, embedder, workspace_id, body)


@router.get("/{conclusion_id}", response_model=Conclusion)
async def get_conclusion(workspace_id: str, conclusion_id: str, db: DbSession) -> Conclusion:
    return await conclusions.get(db, workspace_id, conclusion_id)


@router.delete("/{conclusion_id}", status_code=204, response_class=Response)
async def delete_conclusion(workspace_id: str, conclusion_id: str, db: DbSession) -> Response:
    await conclusions.delete(db, workspace_id, conclusion_id)
    return Response(status_code=204)
