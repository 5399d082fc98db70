"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint, through the ``openai`` client.

Inputs are measured with tiktoken's ``cl100k_base`` (the tokenizer of OpenAI's embedding
models), truncated to ``max_input_tokens`` and sent in batches bounded by count and by tokens.
The client retries timeouts, 408/409/429 and 5xx answers itself (``max_retries``, with backoff);
what still fails becomes an :class:`EmbeddingError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import openai
from openai.types import CreateEmbeddingResponse

from ..observability import metrics
from ..tokens import encoding
from .chunking import truncate_text
from .protocol import EmbedderUnavailable, EmbeddingError, Span

OPENAI_BASE_URL = "https://api.openai.com/v1"
# OpenAI caps one request at 2048 inputs and 300,000 tokens; stay well inside.
DEFAULT_MAX_BATCH_TOKENS = 100_000
_RETRIED = {408, 409, 429}  # and 5xx: the statuses the openai client retries


class OpenAICompatEmbedder:
    """:class:`~honcho_server.embeddings.Embedder` for an OpenAI-compatible HTTP endpoint."""

    def __init__(
        self,
        *,
        model: str,
        dimensions: int,
        base_url: str | None = None,
        api_key: str | None = None,
        send_dimensions: bool = True,
        max_input_tokens: int = 8191,
        batch_size: int = 32,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        self.name = model
        self.dimensions = dimensions
        self.max_input_tokens = max_input_tokens
        self.base_url = base_url or OPENAI_BASE_URL
        self._send_dimensions = send_dimensions
        self._max_retries = max_retries
        self._batch_size = batch_size
        self._max_batch_tokens = max_batch_tokens
        self._encoding = encoding("cl100k_base")
        # A keyless local server still needs *a* key for the client; never read the env.
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "none",
            timeout=timeout,
            max_retries=max_retries,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def token_spans(self, text: str) -> list[Span]:
        _, starts = self._encoding.decode_with_offsets(self._encoding.encode_ordinary(text))
        return list(zip(starts, [*starts[1:], len(text)], strict=False))  # [] for ""

    @metrics.embedding_call
    async def embed(self, texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        if any(not text for text in texts):
            raise ValueError("cannot embed an empty text")
        if not texts:
            return []
        # Tokenising a large batch takes a while: keep it off the event loop.
        inputs, counts = await asyncio.to_thread(self._fit, list(texts))
        vectors: list[list[float]] = []
        for start, end in plan_batches(counts, self._batch_size, self._max_batch_tokens):
            vectors.extend(await self._request(inputs[start:end]))
        return vectors

    async def aclose(self) -> None:
        await self._client.close()

    def _fit(self, texts: list[str]) -> tuple[list[str], list[int]]:
        """Texts truncated to ``max_input_tokens``, and their token counts."""
        fitted = [truncate_text(self, text, self.max_input_tokens) for text in texts]
        return fitted, [self.count_tokens(text) for text in fitted]

    async def _request(self, inputs: list[str]) -> list[list[float]]:
        create = self._client.embeddings.create
        try:
            if self._send_dimensions:
                response = await create(model=self.name, input=inputs, dimensions=self.dimensions)
            else:
                response = await create(model=self.name, input=inputs)
        except openai.APIStatusError as exc:
            retried = exc.status_code in _RETRIED or exc.status_code >= 500
            after = f" after {self._max_retries} retries" if retried else ""
            error = EmbedderUnavailable if retried else EmbeddingError
            raise error(
                f"embedding request to {self.base_url} failed{after}: {exc.message}"
            ) from exc
        except openai.APIConnectionError as exc:
            raise EmbedderUnavailable(
                f"embedding endpoint {self.base_url} unreachable after {self._max_retries} "
                f"retries: {exc}"
            ) from exc
        return self._vectors(response, len(inputs))

    def _vectors(self, response: CreateEmbeddingResponse, expected: int) -> list[list[float]]:
        items = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in items] != list(range(expected)):
            raise EmbeddingError(
                f"{self.base_url} answered {len(items)} embeddings for {expected} inputs"
            )
        sizes = {len(item.embedding) for item in items}
        if sizes != {self.dimensions}:
            raise EmbeddingError(
                f"{self.base_url} ({self.name}) returned vectors of {sorted(sizes)} dimensions, "
                f"but EMBEDDING_DIMENSIONS={self.dimensions}; set it to match (and "
                "EMBEDDING_SEND_DIMENSIONS=false if the model has a fixed size)"
            )
        matrix = np.asarray([item.embedding for item in items], dtype=np.float64)
        norms = np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
        vectors: list[list[float]] = (matrix / norms).tolist()
        return vectors


def plan_batches(counts: Sequence[int], max_items: int, max_tokens: int) -> list[tuple[int, int]]:
    """Consecutive ``[start, end)`` ranges of at most ``max_items`` texts and ``max_tokens``
    tokens each (a single text over ``max_tokens`` gets a batch of its own)."""
    batches: list[tuple[int, int]] = []
    start, tokens = 0, 0
    for index, count in enumerate(counts):
        if index > start and (index - start >= max_items or tokens + count > max_tokens):
            batches.append((start, index))
            start, tokens = index, 0
        tokens += count
    if start < len(counts):
        batches.append((start, len(counts)))
    return batches
