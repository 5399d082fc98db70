"""File uploads: form fields → a message template, file → text → chunks → messages."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ..deriver.config import Defaults
from ..errors import HonchoError, Invalid
from ..ids import new_id, require_valid_name
from ..schemas.common import strip_nul
from ..schemas.messages import MAX_BATCH, Message, MessageBatchCreate, MessageCreate
from . import messages
from .chunking import Span, chunk_spans
from .text_extraction import extract_text

MAX_FILE_SIZE = 5 * 1024 * 1024


class FileTooLarge(HonchoError):
    status = 413

    def __init__(self, size: int) -> None:
        super().__init__(
            f"File size ({size} bytes) exceeds maximum allowed size ({MAX_FILE_SIZE} bytes)"
        )


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class UploadFields:
    """The upload form's text fields, as sent."""

    peer_id: str
    metadata: str | None = None
    configuration: str | None = None
    created_at: str | None = None


def message_template(fields: UploadFields) -> MessageCreate:
    """Validate the form fields (422 with a string detail) into a content-less message."""
    peer_id = require_valid_name(fields.peer_id, "peer")
    metadata = _json_object(fields.metadata, "metadata")
    configuration = _json_object(fields.configuration, "configuration")
    created_at = _timestamp(fields.created_at)
    try:
        return MessageCreate(
            content="",
            peer_id=peer_id,
            metadata=metadata,
            configuration=configuration,
            created_at=created_at,
        )
    except ValidationError as exc:
        raise Invalid(_describe(exc)) from exc


@dataclass(frozen=True)
class SplitUpload:
    """A file's text as message batches (at most ``MAX_BATCH`` each), every message with its
    hidden per-chunk metadata: all the work done before a transaction is opened."""

    batches: list[tuple[MessageBatchCreate, list[dict[str, Any]]]]


async def split_file(template: MessageCreate, file: UploadedFile) -> SplitUpload:
    """One message per chunk of the file's text."""
    # CPU-bound (PDF parsing), so off the event loop; no DB connection is checked out yet.
    text, spans = await asyncio.to_thread(_text_and_spans, file)
    file_info = _file_info(file, spans)
    batch = [template.model_copy(update={"content": text[start:end]}) for start, end in spans]
    return SplitUpload(
        [
            (MessageBatchCreate(messages=batch[i : i + MAX_BATCH]), file_info[i : i + MAX_BATCH])
            for i in range(0, len(batch), MAX_BATCH)
        ]
    )


async def store(
    db: AsyncSession,
    workspace: str,
    session: str,
    upload: SplitUpload,
    *,
    embed: bool = True,
    defaults: Defaults = Defaults(),
) -> list[Message]:
    """Store the messages as the batch route stores them, in this one transaction (so the
    sequence numbers stay contiguous)."""
    require_valid_name(workspace, "workspace")
    require_valid_name(session, "session")
    created: list[Message] = []
    for body, file_info in upload.batches:
        created += await messages.create_batch(
            db,
            workspace,
            session,
            body,
            internal_metadata=file_info,
            embed=embed,
            defaults=defaults,
        )
    return created


def _text_and_spans(file: UploadedFile) -> tuple[str, list[Span]]:
    text = extract_text(file.data, file.content_type).replace("\x00", "")  # Postgres refuses NUL
    return text, chunk_spans(text)


def _file_info(file: UploadedFile, spans: list[Span]) -> list[dict[str, Any]]:
    """Hidden per-chunk metadata tying each message back to the upload."""
    shared = strip_nul(
        {
            "file_id": new_id(),
            "filename": file.filename,
            "total_chunks": len(spans),
            "original_file_size": len(file.data),
            "content_type": file.content_type,
        }
    )
    return [
        {**shared, "chunk_index": index, "chunk_character_range": [start, end]}
        for index, (start, end) in enumerate(spans)
    ]


def _json_object(raw: str | None, field: str) -> dict[str, Any] | None:
    """A JSON-object form field; empty text or ``null`` means absent."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"Invalid {field}: not valid JSON") from exc
    if value is not None and not isinstance(value, dict):
        raise Invalid(f"Invalid {field}: expected a JSON object")
    return value


def _timestamp(raw: str | None) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise Invalid(f"Invalid created_at {raw[:80]!r}: expected an ISO 8601 timestamp") from exc


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"Invalid {where}: {error['msg']}"
