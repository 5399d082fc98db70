"""The query-vector cache of services.semantic: hits, keys, eviction, failures (pure, fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest

from honcho_server.embeddings import EmbeddingError
from honcho_server.services import semantic
from honcho_server.services.semantic import QueryCache


class Counting:
    """A deterministic embedder that counts calls and can be made to fail."""

    def __init__(self, name: str = "fake-model") -> None:
        self.name = name
        self.dimensions = 2
        self.max_input_tokens = 50
        self.calls: list[str] = []
        self.fail = False

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return []

    async def embed(self, texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        self.calls += list(texts)
        if self.fail:
            raise EmbeddingError("down")
        return [[float(len(t)), 1.0] for t in texts]

    async def aclose(self) -> None:
        return None


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    semantic.QUERY_CACHE.clear()
    yield
    semantic.QUERY_CACHE.clear()


async def test_the_same_query_runs_the_model_once() -> None:
    e = Counting()
    first = await semantic.embed_query(e, "where does maria live")
    first.append(99.0)  # callers get a copy: mutating it does not poison the cache
    again = await semantic.embed_query(e, "where does maria live")
    assert again == [21.0, 1.0] and e.calls == ["where does maria live"]
    assert await semantic.embed_optional(e, "where does maria live", too_long="skip") == again
    assert len(e.calls) == 1
    await semantic.embed_query(e, "where does maria live?")  # another text: another entry
    assert len(e.calls) == 2


async def test_embedders_never_share_entries() -> None:
    a, b = Counting(), Counting()  # same model name, different objects
    await semantic.embed_query(a, "q")
    await semantic.embed_query(b, "q")
    assert a.calls == ["q"] and b.calls == ["q"]


async def test_failures_and_refusals_are_not_cached() -> None:
    e = Counting()
    e.fail = True
    assert await semantic.embed_optional(e, "q", too_long="skip") is None
    e.fail = False
    assert await semantic.embed_query(e, "q") == [1.0, 1.0]
    assert e.calls == ["q", "q"]
    too_long = "word " * 60
    with pytest.raises(semantic.QueryTooLong):
        await semantic.embed_query(e, too_long)
    with pytest.raises(semantic.QueryTooLong):  # still refused: it never entered the cache
        await semantic.embed_query(e, too_long)


async def test_long_queries_are_not_kept() -> None:
    e = Counting()
    e.max_input_tokens = 10_000
    text = "x" * 3_000
    await semantic.embed_query(e, text)
    await semantic.embed_query(e, text)
    assert len(e.calls) == 2 and len(semantic.QUERY_CACHE) == 0


class Gated(Counting):
    """A model run that waits for the test to let it finish (``gate``)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def embed(self, texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        self.started.set()
        await self.gate.wait()
        return await super().embed(texts)


async def test_requests_asking_at_once_share_one_run_of_the_model() -> None:
    e = Gated()
    asked = [
        asyncio.create_task(semantic.embed_query(e, "trail for the weekend")) for _ in range(8)
    ]
    other = asyncio.create_task(semantic.embed_query(e, "another text"))
    await e.started.wait()
    await asyncio.sleep(0.01)
    e.gate.set()
    vectors = await asyncio.gather(*asked)
    assert vectors == [[21.0, 1.0]] * 8
    assert len({id(v) for v in vectors}) == 8  # each its own copy
    assert await other == [12.0, 1.0]
    assert sorted(e.calls) == ["another text", "trail for the weekend"]


async def test_a_failure_reaches_every_request_waiting_and_is_not_kept() -> None:
    e = Gated()
    e.fail = True
    asked = [asyncio.create_task(semantic.embed_query(e, "q")) for _ in range(4)]
    await e.started.wait()
    e.gate.set()
    outcomes = await asyncio.gather(*asked, return_exceptions=True)
    assert all(isinstance(o, semantic.EmbeddingUnavailable) for o in outcomes), outcomes
    assert e.calls == ["q"]  # one run of the model for the four
    e.fail = False
    assert await semantic.embed_query(e, "q") == [1.0, 1.0]  # tried again, not a kept failure


async def test_when_the_request_running_the_model_goes_away_a_waiting_one_runs_it() -> None:
    e = Gated()
    first = asyncio.create_task(semantic.embed_query(e, "q"))
    await e.started.wait()
    second = asyncio.create_task(semantic.embed_query(e, "q"))
    await asyncio.sleep(0.01)
    first.cancel()  # its client disconnected
    await asyncio.sleep(0.01)
    e.gate.set()
    assert await second == [1.0, 1.0]
    assert first.cancelled()
    assert e.calls == ["q"]  # the cancelled run never finished; the second one did


def test_least_recently_used_entry_is_evicted() -> None:
    cache = QueryCache(2)
    e = Counting()
    keys = [QueryCache.key(e, t) for t in ("a", "b", "c")]
    cache.put(keys[0], [1.0])
    cache.put(keys[1], [2.0])
    assert cache.get(keys[0]) == [1.0]  # "a" is now the most recent
    cache.put(keys[2], [3.0])
    assert cache.get(keys[1]) is None and cache.get(keys[0]) == [1.0] and len(cache) == 2
    off = QueryCache(0)
    off.put(keys[0], [1.0])
    assert off.get(keys[0]) is None
