"""The embedding space: vectors from different models (or sizes) must never be mixed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.embeddings import EmbeddingRepository


class EmbeddingSpaceMismatch(RuntimeError):
    """The database holds vectors another embedder made; start-up stops with this."""


async def verify(db: AsyncSession, model: str, dimensions: int) -> None:
    """Claim the space for ``model`` on first use; refuse a different model or size later."""
    repo = EmbeddingRepository(db)
    column = await repo.column_dimensions()
    if column is not None and column != dimensions:
        raise EmbeddingSpaceMismatch(
            f"the database stores {column}-dimensional embeddings but EMBEDDING_DIMENSIONS is "
            f"{dimensions}; run `honcho-server reembed` to rebuild every embedding for the "
            f"configured embedder, or set EMBEDDING_DIMENSIONS={column}"
        )
    space = await repo.space()
    if space is None:
        await repo.set_space(model, dimensions)
    elif space.model != model:
        raise EmbeddingSpaceMismatch(
            f"the stored embeddings were made by {space.model!r} but the configured embedder is "
            f"{model!r}; their vectors are not comparable. Run `honcho-server reembed` to "
            "rebuild them, or configure the original embedder again"
        )
