"""The OpenAI-compatible embedder, through the real ``openai`` client, against a fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import numpy as np
import openai
import pytest
from pydantic import SecretStr, ValidationError

from fakes.fixtures import fake_openai, fake_openai_server
from fakes.openai_server import CHAT, EMBEDDINGS, FakeOpenAIServer, ScriptedError, fake_embedding
from honcho_server.embeddings import EmbeddingError, build_embedder
from honcho_server.embeddings.openai_compat import OpenAICompatEmbedder, plan_batches
from honcho_server.settings import Settings
from honcho_server.tokens import encoding
from servers import free_port

__all__ = ["fake_openai", "fake_openai_server"]  # fixtures, used by name

MODEL = "text-embedding-3-small"


@pytest.fixture
async def embedder(fake_openai: FakeOpenAIServer) -> AsyncIterator[OpenAICompatEmbedder]:
    model = OpenAICompatEmbedder(
        model=MODEL,
        dimensions=64,
        base_url=fake_openai.base_url,
        api_key="sk-test",
        batch_size=8,
        max_retries=2,
    )
    yield model
    await model.aclose()


def assert_vectors(got: list[list[float]], texts: list[str], dimensions: int = 64) -> None:
    expected = [fake_embedding(t, dimensions) for t in texts]
    assert np.abs(np.array(got) - np.array(expected)).max() < 1e-6  # float32 on the wire


async def test_sends_model_inputs_and_dimensions_and_returns_the_vectors(
    fake_openai: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    texts = ["I adopted a golden retriever", "the tax report is due"]
    assert_vectors(await embedder.embed(texts), texts)
    (request,) = fake_openai.state.requests
    assert (request.method, request.path) == ("POST", EMBEDDINGS)
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == MODEL
    assert request.body["input"] == texts
    assert request.body["dimensions"] == 64


async def test_vectors_follow_the_index_not_the_listing_order(
    fake_openai: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    fake_openai.state.reverse_embeddings = True
    texts = ["first", "second", "third"]
    assert_vectors(await embedder.embed(texts), texts)


async def test_large_inputs_are_split_into_batches_in_order(
    fake_openai: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    texts = [f"message number {i}" for i in range(19)]
    assert_vectors(await embedder.embed(texts), texts)
    sent = [r.body["input"] for r in fake_openai.state.requests_to(EMBEDDINGS)]
    assert [len(batch) for batch in sent] == [8, 8, 3]
    assert [t for batch in sent for t in batch] == texts


async def test_batches_are_also_bounded_by_tokens(fake_openai: FakeOpenAIServer) -> None:
    model = OpenAICompatEmbedder(
        model=MODEL, dimensions=16, base_url=fake_openai.base_url, max_batch_tokens=25
    )
    texts = ["one two three four five six seven eight nine ten"] * 5  # 10 tokens each
    assert len(await model.embed(texts)) == 5
    await model.aclose()
    assert [len(r.body["input"]) for r in fake_openai.state.requests] == [2, 2, 1]


def test_plan_batches() -> None:
    assert plan_batches([], 4, 100) == []
    assert plan_batches([1] * 9, 4, 100) == [(0, 4), (4, 8), (8, 9)]
    assert plan_batches([60, 60, 30, 20], 10, 100) == [(0, 1), (1, 3), (3, 4)]
    assert plan_batches([500, 1], 10, 100) == [(0, 1), (1, 2)]  # too big alone: still sent


async def test_a_server_error_is_retried(
    fake_openai: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    fake_openai.state.fail_next(times=2)
    assert_vectors(await embedder.embed(["hello"]), ["hello"])
    assert len(fake_openai.state.requests) == 3


async def test_a_persistent_server_error_raises_a_clear_error_after_the_retries(
    fake_openai: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    fake_openai.state.fail_next(times=5)
    with pytest.raises(EmbeddingError, match=r"after 2 retries: Error code: 500") as info:
        await embedder.embed(["hello"])
    assert fake_openai.base_url in str(info.value)
    assert len(fake_openai.state.requests) == 3  # the first try and two retries


async def test_a_rejected_request_is_not_retried(fake_openai: FakeOpenAIServer) -> None:
    model = OpenAICompatEmbedder(
        model="text-embedding-ada-002", dimensions=64, base_url=fake_openai.base_url
    )
    with pytest.raises(EmbeddingError, match="does not support specifying dimensions") as info:
        await model.embed(["hello"])
    await model.aclose()
    assert "retries" not in str(info.value)
    assert len(fake_openai.state.requests) == 1


async def test_dimensions_can_be_left_to_the_model(fake_openai: FakeOpenAIServer) -> None:
    model = OpenAICompatEmbedder(
        model="text-embedding-ada-002",
        dimensions=1536,
        base_url=fake_openai.base_url,
        send_dimensions=False,
    )
    assert_vectors(await model.embed(["hello"]), ["hello"], dimensions=1536)
    await model.aclose()
    assert "dimensions" not in fake_openai.state.requests[0].body


async def test_vectors_of_the_wrong_size_are_refused(fake_openai: FakeOpenAIServer) -> None:
    model = OpenAICompatEmbedder(
        model="some-local-model",
        dimensions=64,
        base_url=fake_openai.base_url,
        send_dimensions=False,
    )
    with pytest.raises(EmbeddingError, match=r"\[1536\] dimensions.*EMBEDDING_DIMENSIONS=64"):
        await model.embed(["hello"])
    await model.aclose()


async def test_inputs_over_the_token_limit_are_truncated(fake_openai: FakeOpenAIServer) -> None:
    model = OpenAICompatEmbedder(
        model=MODEL, dimensions=8, base_url=fake_openai.base_url, max_input_tokens=20
    )
    long = " ".join(f"word{i}" for i in range(100))
    await model.embed([long, "short"])
    await model.aclose()
    sent = fake_openai.state.requests[0].body["input"]
    assert model.count_tokens(sent[0]) == 20 and long.startswith(sent[0])
    assert sent[1] == "short"


async def test_empty_texts_are_refused_and_no_texts_cost_nothing(
    fake_openai: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    with pytest.raises(ValueError, match="empty"):
        await embedder.embed(["fine", ""])
    assert await embedder.embed([]) == []
    assert fake_openai.state.requests == []


async def test_an_unreachable_endpoint_raises_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAICompatEmbedder(model=MODEL, dimensions=8, base_url=url, max_retries=0)
    with pytest.raises(EmbeddingError, match=f"{url} unreachable"):
        await model.embed(["hello"])
    await model.aclose()


def test_tokens_are_cl100k_base(embedder: OpenAICompatEmbedder) -> None:
    text = "Héllo wörld 😀 日本語.\n\nThe end."
    assert embedder.count_tokens(text) == len(encoding("cl100k_base").encode_ordinary(text))
    spans = embedder.token_spans(text)
    assert len(spans) == embedder.count_tokens(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert embedder.token_spans("") == []


async def test_settings_build_an_openai_embedder(fake_openai: FakeOpenAIServer) -> None:
    settings = Settings(
        _env_file=None,
        embedding_provider="openai",
        embedding_base_url=fake_openai.base_url,
        embedding_api_key=SecretStr("sk-settings"),
        embedding_dimensions=32,
        embedding_batch_size=2,
    )
    model = build_embedder(settings)
    assert (model.name, model.dimensions, model.max_input_tokens) == (MODEL, 32, 8191)
    texts = ["a", "b", "c"]
    assert_vectors(await model.embed(texts), texts, dimensions=32)
    await model.aclose()
    requests = fake_openai.state.requests
    assert [len(r.body["input"]) for r in requests] == [2, 1]
    assert requests[0].headers["authorization"] == "Bearer sk-settings"


def test_openai_settings_need_a_key_or_a_server() -> None:
    with pytest.raises(ValidationError, match="EMBEDDING_API_KEY"):
        Settings(_env_file=None, embedding_provider="openai", embedding_dimensions=1536)
    keyless = Settings(
        _env_file=None, embedding_provider="openai", embedding_base_url="http://localhost:11434/v1"
    )
    assert keyless.embedding_api_key is None


# ---- the fake server itself -----------------------------------------------------------------


async def test_fake_embeddings_answer_in_openais_shape(fake_openai: FakeOpenAIServer) -> None:
    async with httpx.AsyncClient(base_url=fake_openai.base_url) as client:
        answer = await client.post("/embeddings", json={"model": MODEL, "input": "hi there"})
        bad = await client.post("/embeddings", json={"model": MODEL, "input": [""]})
    body = answer.json()
    assert set(body) == {"object", "data", "model", "usage"}
    assert body["object"] == "list" and body["model"] == MODEL
    assert body["data"][0]["object"] == "embedding" and body["data"][0]["index"] == 0
    assert len(body["data"][0]["embedding"]) == 1536  # the model's native size
    assert body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert bad.status_code == 400
    assert set(bad.json()["error"]) == {"message", "type", "param", "code"}


async def test_fake_chat_completions_play_back_a_script(fake_openai: FakeOpenAIServer) -> None:
    client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-chat", max_retries=0)
    fake_openai.state.queue_chat("Hello!", ScriptedError(429, "slow down", "rate_limit_error"))
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "Hi"}
    ]
    reply = await client.chat.completions.create(model="gpt-test", messages=messages)
    assert reply.choices[0].message.content == "Hello!"
    assert reply.model == "gpt-test"
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model="gpt-test", messages=messages)
    with pytest.raises(openai.InternalServerError, match="no chat reply was queued"):
        await client.chat.completions.create(model="gpt-test", messages=messages)
    await client.close()
    assert fake_openai.state.requests_to(CHAT)[0].body["messages"] == messages
