"""Turn checked records into rows of this database, one batch at a time.

Under a new name (``--workspace``), the ids that are unique across the server — messages,
conclusions, webhooks — get new ones derived from the old id and the new name, applied to
every reference (summaries, conclusion sources), so a copy can sit beside its original.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.transfer_import import TransferImportRepository
from ..db.repositories.transfer_rows import (
    ChunkRow,
    ConclusionRow,
    MemberRow,
    MessageRow,
    NamedRow,
    PairRow,
    ScopeRow,
    ScopeSessionRow,
    SessionRow,
    SummaryRow,
    WebhookRow,
)
from ..errors import Conflict, Invalid
from ..queue import (
    JobPayload,
    QueueRepository,
    embed_conclusions_jobs,
    embed_messages_jobs,
    enqueue_all,
)
from .format import (
    Body,
    ConclusionRecord,
    DreamStateRecord,
    MessageRecord,
    PeerCardRecord,
    PeerRecord,
    ScopeRecord,
    SessionRecord,
    SummaryRecord,
    WebhookRecord,
    WorkspaceRecord,
)

if TYPE_CHECKING:
    from .importer import Target

T = TypeVar("T")

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def renamed_id(workspace: str, old: str) -> str:
    """The id ``old`` takes in a copy named ``workspace``: 21 nanoid characters, the same
    for every reference to it."""
    digest = hashlib.sha256(f"{workspace}\x00{old}".encode()).digest()
    return "".join(_ALPHABET[b & 63] for b in digest[:21])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _vector(values: list[float]) -> str:
    return json.dumps(values, separators=(",", ":"))


class Writer:
    def __init__(
        self,
        db: AsyncSession,
        workspace: str,
        *,
        renamed: bool,
        keep_vectors: bool,
        target: Target,
    ) -> None:
        self.db = db
        self.repo = TransferImportRepository(db)
        self.workspace = workspace
        self.renamed = renamed
        self.keep_vectors = keep_vectors
        self.target = target
        self.peers: set[str] = set()
        self.sessions: set[str] = set()
        self.embedding_jobs = 0

    def _id(self, old: str) -> str:
        return renamed_id(self.workspace, old) if self.renamed else old

    async def open(self, record: WorkspaceRecord) -> None:
        """Create the workspace row, replacing one of that name only if asked."""
        if await self.repo.workspace_exists(self.workspace):
            if not self.target.replace:
                raise Conflict(
                    f"Workspace {self.workspace} already exists: import it under another name, "
                    "or replace it (--replace, ?replace=true)"
                )
            await QueueRepository(self.db).cancel(self.workspace)
            await self.repo.delete_workspace(self.workspace)
        await self.repo.insert_workspace(
            NamedRow(
                self.workspace,
                _json(record.metadata),
                _json(record.configuration),
                _json(record.internal_metadata),
                record.created_at,
            )
        )

    async def finish(self) -> None:
        """Sessions hand out sequence numbers after the highest one imported."""
        await self.repo.settle_sequences(self.workspace)

    def check(self, record: Body, line: int) -> None:
        """Refuse a record naming a peer or session the file has not declared before it."""
        if isinstance(record, PeerRecord):
            self.peers.add(record.id)
        elif isinstance(record, SessionRecord):
            self._known(line, peers=[m.peer_id for m in record.members])
            self.sessions.add(record.id)
        elif isinstance(record, ScopeRecord):
            self._known(line, sessions=[s.session_id for s in record.sessions])
        elif isinstance(record, MessageRecord):
            self._known(line, peers=[record.peer_id], sessions=[record.session_id])
            self._vectors(line, [c.vector for c in record.embeddings or ()])
        elif isinstance(record, SummaryRecord):
            self._known(line, sessions=[record.session_id])
        elif isinstance(record, ConclusionRecord):
            self._known(line, sessions=[record.session_id] if record.session_id else [])
            self._vectors(line, [record.embedding] if record.embedding is not None else [])

    def _known(self, line: int, *, peers: Sequence[str] = (), sessions: Sequence[str] = ()) -> None:
        for peer in peers:
            if peer not in self.peers:
                raise Invalid(f"line {line}: peer {peer!r} is not among the file's peers")
        for session in sessions:
            if session not in self.sessions:
                raise Invalid(f"line {line}: session {session!r} is not among the file's sessions")

    def _vectors(self, line: int, vectors: Sequence[list[float]]) -> None:
        if not self.keep_vectors:
            return
        for vector in vectors:
            if not all(math.isfinite(v) for v in vector):
                raise Invalid(f"line {line}: an embedding holds a value that is not a number")
            if len(vector) != self.target.embedder.dimensions:
                raise Invalid(
                    f"line {line}: an embedding of {len(vector)} dimensions, but the header "
                    f"says {self.target.embedder.dimensions}"
                )

    async def write(self, batch: Sequence[Body]) -> None:
        """One batch, all of one section."""
        first = batch[0]
        w = self.workspace
        if isinstance(first, PeerRecord):
            await self.repo.insert_peers(w, [_named(r) for r in _all(batch, PeerRecord)])
        elif isinstance(first, SessionRecord):
            await self._sessions(_all(batch, SessionRecord))
        elif isinstance(first, ScopeRecord):
            await self._scopes(_all(batch, ScopeRecord))
        elif isinstance(first, MessageRecord):
            await self._messages(_all(batch, MessageRecord))
        elif isinstance(first, SummaryRecord):
            await self._summaries(_all(batch, SummaryRecord))
        elif isinstance(first, ConclusionRecord):
            await self._conclusions(_all(batch, ConclusionRecord))
        elif isinstance(first, PeerCardRecord):
            cards = [
                PairRow(r.observer, r.observed, r.updated_at, entries=_json(r.entries))
                for r in _all(batch, PeerCardRecord)
            ]
            await self.repo.insert_peer_cards(w, cards)
        elif isinstance(first, DreamStateRecord):
            dreams = [
                PairRow(r.observer, r.observed, r.last_dream_at, count=r.last_dream_count)
                for r in _all(batch, DreamStateRecord)
            ]
            await self.repo.insert_dream_states(w, dreams)
        elif isinstance(first, WebhookRecord):
            hooks = [
                WebhookRow(self._id(r.id), r.url, r.created_at) for r in _all(batch, WebhookRecord)
            ]
            await self.repo.insert_webhooks(w, hooks)

    async def _sessions(self, batch: list[SessionRecord]) -> None:
        rows = [
            SessionRow(
                r.id,
                _json(r.metadata),
                _json(r.configuration),
                _json(r.internal_metadata),
                r.created_at,
                r.last_seq,
            )
            for r in batch
        ]
        members = [
            MemberRow(r.id, m.peer_id, _json(m.configuration), m.joined_at, m.left_at)
            for r in batch
            for m in r.members
        ]
        await self.repo.insert_sessions(self.workspace, rows, members)

    async def _scopes(self, batch: list[ScopeRecord]) -> None:
        rows = [ScopeRow(r.id, _json(r.metadata), r.created_at) for r in batch]
        links = [
            ScopeSessionRow(
                r.id,
                s.session_id,
                s.joined_at,
                s.backfill_state,
                s.backfill_updated_at,
                s.docs_copied,
            )
            for r in batch
            for s in r.sessions
        ]
        await self.repo.insert_scopes(self.workspace, rows, links)

    async def _messages(self, batch: list[MessageRecord]) -> None:
        rows = [
            MessageRow(
                self._id(r.id),
                r.session_id,
                r.peer_id,
                r.seq,
                r.content,
                r.token_count,
                _json(r.metadata),
                _json(r.internal_metadata),
                r.created_at,
            )
            for r in batch
        ]
        chunks = [
            ChunkRow(self._id(r.id), c.index, _vector(c.vector))
            for r in batch
            if self.keep_vectors
            for c in r.embeddings or ()
        ]
        ids = await self.repo.insert_messages(self.workspace, rows, chunks)
        if self.target.embed_messages:
            unembedded = [i for i, r in zip(ids, batch, strict=True) if not self._has_chunks(r)]
            await self._enqueue(embed_messages_jobs(self.workspace, None, unembedded))

    def _has_chunks(self, record: MessageRecord) -> bool:
        return self.keep_vectors and bool(record.embeddings)

    async def _summaries(self, batch: list[SummaryRecord]) -> None:
        rows = [
            SummaryRow(
                r.session_id,
                r.kind,
                r.content,
                self._id(r.message_id),
                r.token_count,
                r.created_at,
            )
            for r in batch
        ]
        if await self.repo.insert_summaries(self.workspace, rows) != len(rows):
            raise Invalid("a summary names a message its session does not hold in the file")

    async def _conclusions(self, batch: list[ConclusionRecord]) -> None:
        rows = [
            ConclusionRow(
                id=self._id(r.id),
                observer=r.observer,
                observed=r.observed,
                session=r.session_id,
                level=r.level,
                content=r.content,
                premises=_json(r.premises),
                source_message_ids=_json([self._id(x) for x in r.source_message_ids]),
                source_ids=_json([self._id(x) for x in r.source_ids]),
                times_derived=r.times_derived,
                internal_metadata=_json(r.internal_metadata),
                created_at=r.created_at,
                superseded_by=self._id(r.superseded_by) if r.superseded_by else None,
                superseded_at=r.superseded_at,
                vector=_vector(r.embedding)
                if self.keep_vectors and r.embedding is not None
                else None,
            )
            for r in batch
        ]
        await self.repo.insert_conclusions(self.workspace, rows)
        unembedded = [row.id for row in rows if row.vector is None]
        await self._enqueue(embed_conclusions_jobs(self.workspace, unembedded))

    async def _enqueue(self, jobs: Sequence[JobPayload]) -> None:
        await enqueue_all(self.db, jobs)
        self.embedding_jobs += len(jobs)


def _named(r: PeerRecord) -> NamedRow:
    return NamedRow(
        r.id, _json(r.metadata), _json(r.configuration), _json(r.internal_metadata), r.created_at
    )


def _all(batch: Sequence[Body], kind: type[T]) -> list[T]:
    return [r for r in batch if isinstance(r, kind)]
