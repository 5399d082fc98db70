"""Export one workspace as a stream of lines (see :mod:`.format`), in bounded memory.

One read-only snapshot for the whole file: the rows come through server-side cursors, each
line is written as soon as its row arrives, and only a running SHA-256 and the counts are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .. import __version__
from ..db.repositories.embeddings import EmbeddingRepository
from ..db.repositories.transfer_export import TransferExportRepository
from ..db.session import unit_of_work
from ..errors import NotFound
from .format import (
    VERSION,
    ConclusionRecord,
    Counts,
    DreamStateRecord,
    Embedder,
    Header,
    MessageRecord,
    PeerCardRecord,
    PeerRecord,
    Record,
    ScopeRecord,
    SessionRecord,
    SummaryRecord,
    Trailer,
    WebhookRecord,
    WorkspaceRecord,
    dump,
)

#: The record type of each section (``Counts`` field → model).
MODELS: dict[str, type[Record]] = {
    "peers": PeerRecord,
    "sessions": SessionRecord,
    "scopes": ScopeRecord,
    "messages": MessageRecord,
    "summaries": SummaryRecord,
    "conclusions": ConclusionRecord,
    "peer_cards": PeerCardRecord,
    "dream_states": DreamStateRecord,
    "webhooks": WebhookRecord,
}

Progress = Callable[[str, int, int], None]
"""Called with a section's name, how many of its records have been written so far, and how
many the header announced."""


async def export_lines(
    factory: async_sessionmaker[AsyncSession],
    workspace: str,
    *,
    embeddings: bool = False,
    progress: Progress | None = None,
) -> AsyncGenerator[bytes]:
    """The file, line by line. Raises :class:`NotFound` before the first line when the
    workspace does not exist (or is being deleted)."""
    async with unit_of_work(factory) as db:
        repo = TransferExportRepository(db)
        await repo.snapshot()
        row = await repo.workspace(workspace)
        if row is None:
            raise NotFound(f"Workspace {workspace} not found")
        header = await _header(repo, workspace, embeddings)
        digest = hashlib.sha256()
        for line in (dump(header), dump(WorkspaceRecord.model_validate(row))):
            digest.update(line)
            yield line
        counts: dict[str, int] = {"embeddings": 0}
        for section, model in MODELS.items():
            written = 0
            async for found in repo.section(section, workspace, embeddings=header.embeddings):
                record = model.model_validate(found)
                counts["embeddings"] += _vectors(record)
                line = dump(record)
                digest.update(line)
                yield line
                written += 1
                if progress is not None and written % 1000 == 0:
                    progress(section, written, _total(header, section))
            counts[section] = written
            if progress is not None:
                progress(section, written, _total(header, section))
        yield dump(Trailer(counts=Counts(**counts), sha256=digest.hexdigest()))


async def _header(repo: TransferExportRepository, workspace: str, embeddings: bool) -> Header:
    space = await EmbeddingRepository(repo.db).space()
    embedder = None if space is None else Embedder(name=space.model, dimensions=space.dimensions)
    with_vectors = embeddings and embedder is not None
    counts = await repo.counts(workspace, embeddings=with_vectors)
    return Header(
        version=VERSION,
        workspace=workspace,
        exported_at=datetime.now(UTC),
        server_version=__version__,
        embedder=embedder,
        embeddings=with_vectors,
        counts=Counts(**counts),
    )


def _total(header: Header, section: str) -> int:
    return int(getattr(header.counts, section))


def _vectors(record: BaseModel) -> int:
    if isinstance(record, MessageRecord):
        return len(record.embeddings or ())
    if isinstance(record, ConclusionRecord):
        return 0 if record.embedding is None else 1
    return 0
