"""Routes: export a workspace as a stream of lines, import one from a streamed body (beyond
upstream; the format is :mod:`honcho_server.transfer.format`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ...db.session import unit_of_work
from ...ids import require_valid_name
from ...schemas.transfer import ImportResult
from ...transfer import Embedder, Target, export_lines, import_lines, split_lines
from ..deps import EmbedderDep, SessionFactory, SettingsDep

router = APIRouter(tags=["transfer"])

MEDIA_TYPE = "application/x-ndjson"
#: Marks an operation upstream Honcho's API does not have, in the served document.
ADDITION = "x-honcho-server-addition"
_BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}
_FILE: dict[str, Any] = {MEDIA_TYPE: _BINARY}
# The body is read as raw bytes whatever its content type (application/x-ndjson suits it); the
# document names the generic binary type, which every OpenAPI client can send.
_UPLOAD: dict[str, Any] = {"application/octet-stream": _BINARY}


def _error(description: str) -> dict[str, Any]:
    """A response with Honcho's error body (the schema ``api/openapi_doc.py`` adds)."""
    schema = {"$ref": "#/components/schemas/HonchoError"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@router.get(
    "/workspaces/{workspace_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": _FILE, "description": "The export file (JSON Lines)"},
        404: _error("No such workspace (or it is being deleted)"),
    },
    openapi_extra={ADDITION: True},
    description=(
        "Beyond upstream: the workspace as a honcho-server.workspace export (JSON Lines: a "
        "header, one record per line, a trailer with counts and a SHA-256), streamed from one "
        "consistent snapshot. An admin or workspace key."
    ),
)
async def export_workspace(
    workspace_id: str,
    factory: SessionFactory,
    embeddings: Annotated[bool, Query(description="Include the stored embedding vectors")] = False,
) -> StreamingResponse:
    lines = export_lines(factory, workspace_id, embeddings=embeddings)
    first = await anext(lines)  # a missing workspace is a 404 before the response starts
    return StreamingResponse(
        _chain(first, lines),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{workspace_id}.jsonl"'},
    )


async def _chain(first: bytes, rest: AsyncGenerator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for line in rest:
            yield line
    finally:
        await rest.aclose()  # ends the snapshot's transaction when the client goes away


@router.post(
    "/workspaces/import",
    status_code=201,
    response_model=ImportResult,
    responses={409: _error("The workspace exists (replace=true overwrites it), or an id is taken")},
    openapi_extra={ADDITION: True, "requestBody": {"required": True, "content": _UPLOAD}},
    description=(
        "Beyond upstream: create a workspace from an export file sent as the request body "
        "(raw bytes, e.g. application/x-ndjson; streamed, any size). All or nothing: a "
        "truncated or altered file, or a workspace that already exists (unless "
        "replace=true), leaves the database as it was. Admin key."
    ),
)
async def import_workspace(
    request: Request,
    factory: SessionFactory,
    settings: SettingsDep,
    embedder: EmbedderDep,
    workspace_id: Annotated[
        str | None, Query(description="Import under this name instead of the file's")
    ] = None,
    replace: Annotated[bool, Query(description="Overwrite a workspace of the same name")] = False,
) -> ImportResult:
    if workspace_id is not None:
        require_valid_name(workspace_id, "workspace")
    target = Target(
        embedder=Embedder(name=embedder.name, dimensions=embedder.dimensions),
        embed_messages=settings.embed_messages,
        workspace=workspace_id,
        replace=replace,
    )
    async with unit_of_work(factory) as db:
        outcome = await import_lines(db, split_lines(request.stream()), target)
    return ImportResult(
        workspace_id=outcome.workspace,
        counts=outcome.counts,
        embeddings="kept" if outcome.vectors_kept else "queued",
        embedding_jobs=outcome.embedding_jobs,
    )
