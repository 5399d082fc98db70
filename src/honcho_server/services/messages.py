"""Messages: batch create (with implicit workspace/session/peer creation), list, get, update."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.ingest import Batch, IngestRepository, Seen, Stored
from ..db.repositories.message_json import join_rendered
from ..db.repositories.messages import MessageRepository, MessageRow
from ..db.repositories.workspaces import WorkspaceDeleting
from ..deriver.config import Defaults
from ..errors import NotFound
from ..ids import new_ids, require_valid_name
from ..lru import Lru
from ..queue.payloads import MAX_IDS_PER_JOB
from ..schemas.configuration import SessionPeerConfig
from ..schemas.messages import Message, MessageBatchCreate, MessageUpdate
from ..tokens import count_many
from . import ingest_jobs
from .paging import PageRequest

# Above this many characters, token counting moves off the event loop.
_INLINE_TOKENIZE_CHARS = 20_000
_DEFAULT_MEMBER_CONFIG = to_json(SessionPeerConfig().model_dump()).decode()  # JSON text
_KEPT_STATES = 4096  # sessions (with one set of authors each) whose state a process keeps

StateKey = tuple[str, str, tuple[str, ...]]

# The state each session's last batch was planned from, per (workspace, session, authors). A
# batch planned from a kept state is written only if the session's state still has its
# fingerprint (the write checks it in the same statement), so a kept state is never trusted:
# it saves the read before the write, one of the two round trips of an ingest, whenever
# nothing changed. Per process; any number of processes, each with its own, stay correct.
_SEEN: Lru[StateKey, Seen] = Lru(_KEPT_STATES)


def message_of(row: MessageRow) -> Message:
    """The wire model of a message row."""
    return Message(
        id=row.public_id,
        content=row.content,
        peer_id=row.peer_name,
        session_id=row.session_name,
        metadata=row.metadata,
        created_at=row.created_at,
        workspace_id=row.workspace_name,
        token_count=row.token_count,
    )


def message_wire(m: MessageRow) -> dict[str, Any]:
    """``Message`` as its JSON renders (its fields, in its order), without a model: for
    long lists and contexts, where a model per message cost more than the query."""
    return {
        "id": m.public_id,
        "content": m.content,
        "peer_id": m.peer_name,
        "session_id": m.session_name,
        "metadata": m.metadata,
        "created_at": m.created_at,
        "workspace_id": m.workspace_name,
        "token_count": m.token_count,
    }


def _json(value: Any) -> str:
    return to_json(value).decode()


def render_list(rows: list[MessageRow]) -> bytes:
    """``list[Message]`` as its JSON renders, straight from the rows."""
    return to_json([message_wire(r) for r in rows])


async def _token_counts(contents: list[str]) -> list[int]:
    if sum(len(c) for c in contents) <= _INLINE_TOKENIZE_CHARS:
        return count_many(contents)
    return await asyncio.to_thread(count_many, contents)


async def create_batch(
    db: AsyncSession,
    workspace: str,
    session: str,
    body: MessageBatchCreate,
    *,
    internal_metadata: list[dict[str, Any]] | None = None,
    embed: bool = True,
    defaults: Defaults = Defaults(),
) -> list[Message]:
    """Store a batch in request order with contiguous ``seq_in_session`` numbers.

    Creates the workspace, the session and every author (as an active member) if needed.
    ``internal_metadata`` (one object per message) is stored but never returned. With
    ``embed``, the messages' embedding is queued with them. Two statements, the second
    atomic on its own (``repositories.ingest``): on a session outside a transaction
    (``api.deps.read_session``) no BEGIN or COMMIT is sent, in a unit of work they run in its
    transaction. A workspace being deleted answers 409, an inactive session 404; nothing is
    written then.
    """
    return [
        message_of(r)
        for r in await store_batch(
            db,
            workspace,
            session,
            body,
            internal_metadata=internal_metadata,
            embed=embed,
            defaults=defaults,
        )
    ]


async def store_batch(
    db: AsyncSession,
    workspace: str,
    session: str,
    body: MessageBatchCreate,
    *,
    internal_metadata: list[dict[str, Any]] | None = None,
    embed: bool = True,
    defaults: Defaults = Defaults(),
) -> list[MessageRow]:
    """:func:`create_batch`, the stored rows (for a route that renders them itself)."""
    if internal_metadata is not None and len(internal_metadata) != len(body.messages):
        raise ValueError("internal_metadata needs exactly one object per message")
    require_valid_name(workspace, "workspace")
    require_valid_name(session, "session")
    authors = sorted({require_valid_name(m.peer_id, "peer") for m in body.messages})
    counts = await _token_counts([m.content for m in body.messages])  # before touching the DB

    repo = IngestRepository(db)
    key = (workspace, session, tuple(authors))
    cached = _SEEN.get(key)
    seen = cached or await repo.state(workspace, session, authors, _DEFAULT_MEMBER_CONFIG)
    public_ids = new_ids(len(body.messages))

    async def write(seen: Seen, *, check: bool) -> Stored:
        planned = ingest_jobs.plan(seen.state, workspace, session, body.messages, defaults)
        batch = Batch(
            public_ids=public_ids,
            senders=[m.peer_id for m in body.messages],
            contents=[m.content for m in body.messages],
            token_counts=counts,
            metadata=[_json(m.metadata or {}) for m in body.messages],
            internal=[
                _json({**internal_metadata[i], **flags} if internal_metadata else flags)
                for i, flags in enumerate(planned.flags)
            ],
            created_at=[m.created_at for m in body.messages],
        )
        return await repo.write(
            workspace,
            session,
            authors,
            _DEFAULT_MEMBER_CONFIG,
            batch,
            planned.derive,
            embed_per_job=MAX_IDS_PER_JOB if embed else None,
            summary=planned.summary,
            seen=seen.fingerprint if check else None,
        )

    stored = await write(seen, check=cached is not None)
    if stored.stale:  # the session changed since its state was kept: read it again
        seen = await repo.state(workspace, session, authors, _DEFAULT_MEMBER_CONFIG)
        stored = await write(seen, check=False)
    _SEEN.put(key, seen)
    if stored.workspace_deleting:
        raise WorkspaceDeleting(workspace)
    if stored.last is None:
        raise NotFound(f"Session {session} not found")
    return stored.rows


async def list_messages(
    db: AsyncSession,
    workspace: str,
    session: str,
    filters: dict[str, Any] | None,
    req: PageRequest,
) -> bytes:
    """The ``Page[Message]`` response body (rendered as the model would be): without filters
    (the common listing) its messages rendered by Postgres, else from their rows."""
    page, size = req.page, req.size
    found = await MessageRepository(db).list_page(
        workspace, session, filters, page=page, size=size, reverse=req.reverse
    )
    if found.rendered is not None:
        items = join_rendered(b"[", found.rendered, b"]")
    else:
        items = render_list(found.rows)
    pages = math.ceil(found.total / size)
    return b'{"items":%b,"total":%d,"page":%d,"size":%d,"pages":%d}' % (
        items,
        found.total,
        page,
        size,
        pages,
    )


async def get(db: AsyncSession, workspace: str, session: str, message_id: str) -> Message:
    row = await MessageRepository(db).get(workspace, session, message_id)
    if row is None:
        raise NotFound(f"Message with ID {message_id} not found")
    return message_of(row)


async def update(
    db: AsyncSession, workspace: str, session: str, message_id: str, body: MessageUpdate
) -> Message:
    repo = MessageRepository(db)
    if body.metadata is None:
        return await get(db, workspace, session, message_id)
    row = await repo.update_metadata(workspace, session, message_id, body.metadata)
    if row is None:
        raise NotFound(f"Message with ID {message_id} not found")
    return message_of(row)
