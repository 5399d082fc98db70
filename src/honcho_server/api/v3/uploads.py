"""Route: upload a file into a session as messages (one per chunk of its text)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from ...deriver.config import defaults_from
from ...schemas.messages import Message
from ...services import uploads
from ..deps import DbSession, SettingsDep

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
    db: DbSession,
    settings: SettingsDep,
    metadata: Annotated[str | None, Form()] = None,
    configuration: Annotated[str | None, Form()] = None,
    created_at: Annotated[str | None, Form()] = None,
) -> list[Message]:
    fields = uploads.UploadFields(peer_id, metadata, configuration, created_at)
    template = uploads.message_template(fields)
    upload = uploads.UploadedFile(file.filename or "", file.content_type, await _read(file))
    return await uploads.create_from_file(
        db,
        workspace_id,
        session_id,
        template,
        upload,
        embed=settings.embed_messages,
        defaults=defaults_from(settings),
    )


async def _read(file: UploadFile) -> bytes:
    """The file's bytes, reading at most one byte past the limit whatever size was declared."""
    data = await file.read(uploads.MAX_FILE_SIZE + 1)
    if len(data) > uploads.MAX_FILE_SIZE:
        # ``file.size`` counts the bytes actually received, when the parser knows it.
        raise uploads.FileTooLarge(max(file.size or 0, len(data)))
    return data
