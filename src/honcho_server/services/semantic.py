"""Embedding a search query: the one place request handlers call the embedder.

Call these *before* the request's first database statement: the session has no connection
yet, so none is held while the model runs (a slow or unreachable embedder must not drain the
connection pool).

* :func:`embed_query` — the query is required (conclusion search): too long → 422, the
  embedder failing → 503 :class:`EmbeddingUnavailable`.
* :func:`embed_optional` — the semantic part is an extra (message search, representations):
  no query → ``None``; the embedder failing → a logged warning and ``None``. What a too-long
  query does is the caller's choice (``too_long``).

Query vectors are kept in a small LRU cache (:data:`QUERY_CACHE`, keyed by the embedder, its
model and the exact text): an agent asking the same thing again, or paging through results,
does not run the model again. Failures are not cached. Requests that ask for the same text
while it is being embedded wait for that one run of the model and share its outcome (at the
start of a load of 4 queries over 16 clients, each ran the model up to 16 times, one after
another, before the first vector was cached: 10 of the first second's searches took
100-240 ms).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from ..embeddings import Embedder
from ..errors import HonchoError, Invalid
from ..lru import Lru

log = logging.getLogger("honcho_server.semantic")

Vector = list[float]
TooLong = Literal["reject", "skip"]

# Tokenising a very long text takes a while: off the event loop beyond this many characters.
_THREAD_CHARS = 20_000
QUERY_CACHE_SIZE = 512  # query vectors kept (384 floats each with the local model: ~1.6 MB)
_CACHED_CHARS = 2_000  # longer queries are not kept (rarely repeated, and big keys)

CacheKey = tuple[int, str, int, str]


class QueryCache:
    """Least-recently-used query vectors, keyed by (embedder object, model name, dimensions,
    text). The embedder object is part of the key: two embedders never share vectors, even of
    one model (a test's failing probe embedder must not be answered from another's cache)."""

    def __init__(self, size: int) -> None:
        self._vectors: Lru[CacheKey, Vector] = Lru(size)

    @property
    def size(self) -> int:
        return self._vectors.size

    @size.setter
    def size(self, size: int) -> None:
        self._vectors.size = size

    @staticmethod
    def key(embedder: Embedder, text: str) -> CacheKey | None:
        if len(text) > _CACHED_CHARS:
            return None
        return (id(embedder), embedder.name, embedder.dimensions, text)

    def get(self, key: CacheKey | None) -> Vector | None:
        vector = None if key is None else self._vectors.get(key)
        return None if vector is None else list(vector)

    def put(self, key: CacheKey | None, vector: Vector) -> None:
        if key is not None:
            self._vectors.put(key, list(vector))

    def clear(self) -> None:
        self._vectors.clear()

    def __len__(self) -> int:
        return len(self._vectors)


QUERY_CACHE = QueryCache(QUERY_CACHE_SIZE)


class EmbeddingUnavailable(HonchoError):
    """The embedder could not embed the query (model failure, endpoint down)."""

    status = 503


class QueryTooLong(Invalid):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Query exceeds maximum token limit of {limit}.")


async def embed_query(embedder: Embedder, text: str) -> Vector:
    """The query's vector. ``text`` must not be blank (callers check, with their own wording).

    Raises :class:`QueryTooLong` (422) or :class:`EmbeddingUnavailable` (503, cause logged).
    """
    try:
        return await _embed(embedder, text)
    except _Failed as failed:
        log.error("embedding a query failed: %s", failed.cause, exc_info=failed.cause)
        raise EmbeddingUnavailable(
            "The embedding model is unavailable, so semantic search cannot run; "
            "try again later (the server log has the cause)."
        ) from failed.cause


async def embed_optional(
    embedder: Embedder | None, text: str | None, *, too_long: TooLong
) -> Vector | None:
    """The query's vector, or ``None`` when there is nothing to embed or embedding fails
    (logged as a warning: the caller carries on without its semantic part).

    ``too_long="reject"`` raises :class:`QueryTooLong` (422); ``"skip"`` returns ``None``.
    """
    if embedder is None or text is None or not text.strip():
        return None
    try:
        return await _embed(embedder, text)
    except QueryTooLong:
        if too_long == "reject":
            raise
        return None
    except _Failed as failed:
        log.warning("semantic results left out: the query could not be embedded: %s", failed.cause)
        return None


class _Failed(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


# the texts being embedded now, by cache key: one run of the model each (see the docstring)
_IN_FLIGHT: dict[CacheKey, asyncio.Future[Vector]] = {}


async def _embed(embedder: Embedder, text: str) -> Vector:
    key = QUERY_CACHE.key(embedder, text)
    cached = QUERY_CACHE.get(key)
    if cached is not None:  # it passed the length check when it was embedded
        return cached
    if key is None:
        return await _run(embedder, text, None)
    running = _IN_FLIGHT.get(key)
    if running is not None:
        try:
            return list(await asyncio.shield(running))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not running.cancelled() or (task is not None and task.cancelling()):
                raise  # this request was cancelled, not the one embedding the text
            return await _embed(embedder, text)  # that request went away: embed it here
    outcome: asyncio.Future[Vector] = asyncio.get_running_loop().create_future()
    outcome.add_done_callback(_retrieved)
    _IN_FLIGHT[key] = outcome
    try:
        vector = await _run(embedder, text, key)
    except Exception as exc:  # the same refusal or failure for every request waiting on it
        outcome.set_exception(exc)
        raise
    except BaseException:  # cancelled: the waiting requests embed it themselves
        outcome.cancel()
        raise
    else:
        outcome.set_result(vector)
        return vector
    finally:
        del _IN_FLIGHT[key]


def _retrieved(outcome: asyncio.Future[Vector]) -> None:
    """No "exception never retrieved" warning when no other request waited on a failure."""
    if not outcome.cancelled():
        outcome.exception()


async def _run(embedder: Embedder, text: str, key: CacheKey | None) -> Vector:
    await _check_length(embedder, text)
    try:
        (vector,) = await embedder.embed([text])
    except Exception as exc:  # any failure of the model or the endpoint
        raise _Failed(exc) from exc
    QUERY_CACHE.put(key, vector)
    return vector


async def _check_length(embedder: Embedder, text: str) -> None:
    limit = embedder.max_input_tokens
    # Every token covers at least one UTF-8 byte: short texts need no counting.
    if len(text.encode()) <= limit:
        return
    if len(text) > _THREAD_CHARS:
        tokens = await asyncio.to_thread(embedder.count_tokens, text)
    else:
        tokens = embedder.count_tokens(text)
    if tokens > limit:
        raise QueryTooLong(limit)
