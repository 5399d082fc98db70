"""Route: upload a file into a session as messages (one per chunk of its text)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from ...deriver.config import defaults_from
from ...schemas.messages import Message
from ...services import uploads
from ..deps import SettingsDep, UnitOfWorkDep
from ..idempotency import IdempotencyKey, create_once

router = APIRouter(tags=["messages"])


@router.post(
    "/workspaces/{workspace_id}/sessions/{session_id}/messages/upload",
    response_model=list[Message],
    status_code=201,
    description=(
        "Create messages from uploaded files. "
        "Files are converted to text and split into multiple messages."
    ),
)
async def create_messages_with_file(
    workspace_id: str,
    session_id: str,
    file: Annotated[UploadFile, File()],
    peer_id: Annotated[str, Form()],
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    metadata: Annotated[str | None, Form()] = None,
    configuration: Annotated[str | None, Form()] = None,
    created_at: Annotated[str | None, Form()] = None,
    idempotency_key: IdempotencyKey = None,
) -> list[Message] | Response:
    fields = uploads.UploadFields(peer_id, metadata, configuration, created_at)
    template = uploads.message_template(fields)
    upload = uploads.UploadedFile(file.filename or "", file.content_type, await _read(file))
    split = await uploads.split_file(template, upload)

    async def store(db: AsyncSession) -> list[Message]:
        return await uploads.store(
            db,
            workspace_id,
            session_id,
            split,
            embed=settings.embed_messages,
            defaults=defaults_from(settings),
        )

    return await create_once(
        uow,
        idempotency_key,
        store,
        workspace=workspace_id,
        route="messages.upload",
        request={
            "session": session_id,
            "fields": [peer_id, metadata, configuration, created_at],
            "file": [upload.filename, upload.content_type],
        },
        files=(upload.data,),
        response_type=list[Message],
        status=201,
    )


async def _read(file: UploadFile) -> bytes:
    """The file's bytes, reading at most one byte past the limit whatever size was declared."""
    data = await file.read(uploads.MAX_FILE_SIZE + 1)
    if len(data) > uploads.MAX_FILE_SIZE:
        # ``file.size`` counts the bytes actually received, when the parser knows it.
        raise uploads.FileTooLarge(max(file.size or 0, len(data)))
    return data
