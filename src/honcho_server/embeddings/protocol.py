"""What the rest of the server needs from an embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

# ``[start, end)`` character offsets of one token in the text it came from.
Span = tuple[int, int]


class EmbeddingError(RuntimeError):
    """Embedding failed: a bad model file, an unreachable endpoint or an unusable answer."""


class EmbedderUnavailable(EmbeddingError):
    """The embedding endpoint is unreachable, timing out or answering 429/5xx (after the
    client's own retries): a job should wait for it, not spend an attempt."""


class TextTokenizer(Protocol):
    """Counts and locates tokens the way the embedding model sees them."""

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (no special tokens)."""
        ...

    def token_spans(self, text: str) -> list[Span]:
        """Character span of every token of ``text``, in order (no special tokens)."""
        ...


class Embedder(TextTokenizer, Protocol):
    """A text embedding model.

    Build one per process (see :func:`honcho_server.embeddings.build_embedder`) and share it.
    ``embed`` never blocks the event loop, but it is slow (tens of texts per second for the
    local model): stored texts are embedded by background jobs; a request embeds at most its
    one search query, before it touches the database.
    """

    #: Identifies the vector space: vectors from different names must not be compared.
    name: str
    #: Length of every vector ``embed`` returns.
    dimensions: int
    #: Longest input in tokens; ``embed`` truncates longer texts, so chunk them first
    #: (:func:`honcho_server.embeddings.chunk_text`).
    max_input_tokens: int

    async def embed(self, texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        """One unit-length vector per text, in order. Texts must not be empty.
        ``background``: nobody is waiting (worker jobs); a model with a queue lets
        foreground calls (queries) go first."""
        ...

    async def aclose(self) -> None:
        """Release threads and connections; the embedder is unusable afterwards."""
        ...
