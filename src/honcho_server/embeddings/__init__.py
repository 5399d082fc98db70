"""Text embeddings: the :class:`Embedder` protocol, a local default and an OpenAI-compatible one.

``build_embedder(settings)`` gives the configured embedder; ``chunk_text`` splits long text into
pieces that fit it. The implementations live in ``local`` (all-MiniLM-L6-v2 on onnxruntime) and
``openai_compat`` and are imported only when built.
"""

from __future__ import annotations

from .chunking import chunk_spans, chunk_text, truncate_text
from .factory import build_embedder
from .protocol import Embedder, EmbedderUnavailable, EmbeddingError, Span, TextTokenizer

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "EmbeddingError",
    "Span",
    "TextTokenizer",
    "build_embedder",
    "chunk_spans",
    "chunk_text",
    "truncate_text",
]
