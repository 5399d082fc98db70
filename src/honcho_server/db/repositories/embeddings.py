"""SQL for stored vectors: message chunks and the embedding space.

A conclusion's vector is a column of its row, written by its owner
(:meth:`.conclusions.ConclusionRepository.set_vectors`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from .. import vector_codec
from ..models import EmbeddingSpace, Message, table

M = table(Message)
E = table(EmbeddingSpace)

# One statement per job: the earlier run's chunks deleted (a re-run replaces them) and the new
# ones inserted from arrays, their vectors a ``vector[]`` ($7) of packed elements
# (``db.vector_codec``, registered on every engine connection). As one flat ``real[]`` of
# floats asyncpg checked every float for nesting: 2.3 ms of the event loop for a batch of 20
# messages (7,680 floats), now 0.2 ms. (Formatting vector literals, before that, took ~80 us
# per chunk; a statement per chunk cost the worker a round of binding per row.)
_REPLACE_CHUNKS = """
    WITH gone AS (
        DELETE FROM message_embeddings WHERE message_id = ANY(CAST($1 AS bigint[]))
    )
    INSERT INTO message_embeddings (message_id, chunk_index, workspace_name, session_name,
                                    peer_name, embedding)
    SELECT c.message_id, c.chunk_index, c.workspace, c.session, c.peer, c.embedding
      FROM unnest(CAST($2 AS bigint[]), CAST($3 AS integer[]), CAST($4 AS text[]),
                  CAST($5 AS text[]), CAST($6 AS text[]), CAST($7 AS vector[]))
           AS c(message_id, chunk_index, workspace, session, peer, embedding)
"""
_COLUMN_TYPE = text(
    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = 'conclusions'::regclass AND attname = 'embedding'"
)


@dataclass(frozen=True)
class MessageText:
    """A message as the embedding job reads it: its text and where its chunks belong."""

    id: int
    content: str
    workspace_name: str
    session_name: str
    peer_name: str


@dataclass(frozen=True)
class Space:
    """The embedder the stored vectors came from (``embedding_space``)."""

    model: str
    dimensions: int


@dataclass(frozen=True)
class ChunkVector:
    message_id: int
    chunk_index: int
    workspace: str
    session: str
    peer: str
    vector: list[float]


class EmbeddingRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def messages(self, ids: Sequence[int]) -> list[MessageText]:
        stmt = select(
            M.c.id, M.c.content, M.c.workspace_name, M.c.session_name, M.c.peer_name
        ).where(M.c.id.in_(list(ids)))
        return [MessageText(*r) for r in (await self.db.execute(stmt.order_by(M.c.id))).all()]

    async def replace_message_chunks(
        self, message_ids: Sequence[int], chunks: list[ChunkVector]
    ) -> None:
        """Idempotent: a re-run of the same job replaces what an earlier run wrote."""
        connection = await self.db.connection()
        await connection.exec_driver_sql(
            _REPLACE_CHUNKS,
            (
                list(message_ids),
                [c.message_id for c in chunks],
                [c.chunk_index for c in chunks],
                [c.workspace for c in chunks],
                [c.session for c in chunks],
                [c.peer for c in chunks],
                [vector_codec.pack(c.vector) for c in chunks],
            ),
        )

    async def column_dimensions(self) -> int | None:
        spec = (await self.db.execute(_COLUMN_TYPE)).scalar_one_or_none()
        if spec is None or "(" not in spec:
            return None
        return int(spec.split("(")[1].rstrip(")"))

    async def space(self) -> Space | None:
        row = (await self.db.execute(select(E.c.model, E.c.dimensions))).first()
        return None if row is None else Space(row.model, row.dimensions)

    async def set_space(self, model: str, dimensions: int) -> None:
        await self.db.execute(
            text(
                "INSERT INTO embedding_space (id, model, dimensions) VALUES (1, :m, :d) "
                "ON CONFLICT (id) DO UPDATE SET model = :m, dimensions = :d, updated_at = now()"
            ),
            {"m": model, "d": dimensions},
        )

    async def resize(self, dimensions: int) -> None:
        """Drop every stored vector and make the columns ``dimensions`` wide (reembed)."""
        for stmt in (
            "DELETE FROM message_embeddings",
            "DROP INDEX IF EXISTS ix_message_embeddings_hnsw",
            "DROP INDEX IF EXISTS ix_conclusions_embedding_hnsw",
            f"ALTER TABLE message_embeddings ALTER COLUMN embedding TYPE vector({int(dimensions)})"
            " USING NULL",
            f"ALTER TABLE conclusions ALTER COLUMN embedding TYPE vector({int(dimensions)})"
            " USING NULL",
            "CREATE INDEX ix_message_embeddings_hnsw ON message_embeddings"
            " USING hnsw (embedding vector_cosine_ops)",
            "CREATE INDEX ix_conclusions_embedding_hnsw ON conclusions"
            " USING hnsw (embedding vector_cosine_ops)",
        ):
            await self.db.execute(text(stmt))

    async def message_ids(self) -> list[tuple[str, int]]:
        """Every message as (workspace, id), ordered by workspace then id (for reembed)."""
        stmt = select(M.c.workspace_name, M.c.id).order_by(M.c.workspace_name, M.c.id)
        return [(r[0], int(r[1])) for r in (await self.db.execute(stmt)).all()]
