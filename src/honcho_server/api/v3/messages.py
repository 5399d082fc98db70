from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...deriver.config import defaults_from
from ...schemas.messages import Message, MessageBatchCreate, MessageGet, MessageUpdate
from ...schemas.pagination import Page
from ...services import lifecycle, messages
from ..deps import DbSession, Listing, ReadDb, SettingsDep, read_session, request_unit_of_work
from ..idempotency import IdempotencyKey, create_once
from ..rendering import rendered

JSON = "application/json"

router = APIRouter(
    prefix="/workspaces/{workspace_id}/sessions/{session_id}/messages", tags=["messages"]
)


@router.post("", response_model=list[Message], status_code=201)
@router.post("/", response_model=list[Message], status_code=201, include_in_schema=False)
async def create_messages_for_session(
    workspace_id: str,
    session_id: str,
    body: MessageBatchCreate,
    request: Request,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> list[Message] | Response:
    if idempotency_key is None:  # two statements outside a transaction (services.messages)
        async with read_session(request) as direct:
            rows = await messages.store_batch(
                direct,
                workspace_id,
                session_id,
                body,
                embed=settings.embed_messages,
                defaults=defaults_from(settings),
            )
        return Response(messages.render_list(rows), status_code=201, media_type=JSON)

    async def create(db: AsyncSession) -> list[Message]:
        return await messages.create_batch(
            db,
            workspace_id,
            session_id,
            body,
            embed=settings.embed_messages,
            defaults=defaults_from(settings),
        )

    return await create_once(
        request_unit_of_work(request),  # built here: the common request (no key) needs none
        idempotency_key,
        create,
        workspace=workspace_id,
        route="messages.create",
        # what identifies the request, only needed (and only built) with a key
        request={"session": session_id, "body": body.model_dump(mode="json")}
        if idempotency_key is not None
        else None,
        response_type=list[Message],
        status=201,
    )


@router.post("/list", response_model=Page[Message])
async def get_messages(
    workspace_id: str,
    session_id: str,
    request: Request,
    paging: Listing,
    options: Annotated[MessageGet | None, Body()] = None,
) -> Response:
    filters = options.filters if options else None
    async with read_session(request) as db:  # ReadDb, opened here: cheaper than a dependency
        body = await messages.list_messages(db, workspace_id, session_id, filters, paging)
    return Response(body, media_type="application/json")  # rendered as Page[Message]


@router.get("/{message_id}", response_model=Message)
async def get_message(workspace_id: str, session_id: str, message_id: str, db: ReadDb) -> Response:
    return rendered(await messages.get(db, workspace_id, session_id, message_id))


@router.put("/{message_id}", response_model=Message)
async def update_message(
    workspace_id: str, session_id: str, message_id: str, body: MessageUpdate, db: DbSession
) -> Message:
    return await messages.update(db, workspace_id, session_id, message_id, body)


@router.delete("/{message_id}", status_code=204)
async def delete_message(
    workspace_id: str, session_id: str, message_id: str, db: DbSession, settings: SettingsDep
) -> Response:
    """Beyond upstream: removes the message at once (its embeddings, the explicit conclusions
    drawn from it alone, its place in summaries); the others keep their ``seq_in_session``."""
    await lifecycle.delete_message(
        db, workspace_id, session_id, message_id, defaults_from(settings)
    )
    return Response(status_code=204)
