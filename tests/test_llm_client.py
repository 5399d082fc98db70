"""The LLM client, through the real ``openai`` client, against the fake OpenAI server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from pydantic import BaseModel, Field, SecretStr

from fakes.fixtures import fake_openai, fake_openai_server
from fakes.openai_server import (
    CHAT,
    FakeOpenAIServer,
    RecordedRequest,
    ScriptedError,
    ScriptedReply,
)
from honcho_server.llm import (
    Completion,
    EndpointMemory,
    LLMConfig,
    LLMNotConfigured,
    LLMOutputInvalid,
    LLMRegistry,
    LLMRequestRejected,
    LLMUnavailable,
    StructuredMode,
    Usage,
    is_configured,
    llm_status,
    log_llm_configuration,
    resolve_llm_config,
    system,
    user,
)
from honcho_server.llm.client import OpenAICompatClient
from honcho_server.llm.structured import prompt_schema, strict_schema
from honcho_server.settings import Settings
from honcho_server.tokens import encoding
from servers import free_port

__all__ = ["fake_openai", "fake_openai_server"]  # fixtures, used by name

MODEL = "local-model"
GOOD = '{"facts": [{"text": "likes green tea", "confidence": 0.9}]}'


class Fact(BaseModel):
    text: str = Field(description="One thing learnt about the user")
    confidence: float = Field(ge=0, le=1)


class Facts(BaseModel):
    facts: list[Fact]
    note: str | None = None


EXPECTED = Facts(facts=[Fact(text="likes green tea", confidence=0.9)])
ASK = [system("You extract facts."), user("I drink green tea every morning.")]

MakeClient = Callable[..., OpenAICompatClient]


@pytest.fixture
def memory() -> EndpointMemory:
    return EndpointMemory()


@pytest.fixture
async def make_client(
    fake_openai: FakeOpenAIServer, memory: EndpointMemory
) -> AsyncIterator[MakeClient]:
    clients: list[OpenAICompatClient] = []

    def make(**overrides: Any) -> OpenAICompatClient:
        fields: dict[str, Any] = {
            "feature": "deriver",
            "base_url": fake_openai.base_url,
            "api_key": SecretStr("sk-llm"),
            "model": MODEL,
            "max_retries": 2,
            "timeout": 10.0,
            "max_output_tokens": 512,
        }
        client = OpenAICompatClient(LLMConfig(**(fields | overrides)), memory=memory)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def chats(fake: FakeOpenAIServer) -> list[RecordedRequest]:
    return fake.state.requests_to(CHAT)


def tokens(text: str) -> int:
    return len(encoding("cl100k_base").encode_ordinary(text))


def usage_of(request: RecordedRequest, answer: str) -> Usage:
    """What the fake server reports for ``request`` answered with ``answer``."""
    prompt = sum(tokens(m["content"]) for m in request.body["messages"])
    return Usage(prompt, tokens(answer), 1)


# ---- plain completions ----------------------------------------------------------------------


async def test_complete_sends_the_request_and_returns_text_and_usage(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat("Green tea, every morning.")
    result = await make_client().complete(ASK)
    assert result == Completion(
        "Green tea, every morning.", result.usage, "stop", "Green tea, every morning."
    )
    (request,) = chats(fake_openai)
    assert request.headers["authorization"] == "Bearer sk-llm"
    assert request.body["model"] == MODEL
    assert request.body["messages"] == [
        {"role": "system", "content": "You extract facts."},
        {"role": "user", "content": "I drink green tea every morning."},
    ]
    assert request.body["max_tokens"] == 512
    assert "temperature" not in request.body and "response_format" not in request.body
    assert result.usage == usage_of(request, "Green tea, every morning.")
    assert result.usage.prompt_tokens > 0 and result.usage.requests == 1


async def test_complete_strips_thinking_and_passes_limits(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    raw = "<think>\nThey asked about tea.\n</think>\n\nGreen tea."
    fake_openai.state.queue_chat(raw)
    result = await make_client(temperature=0.3).complete(ASK, max_tokens=64)
    assert (result.text, result.raw) == ("Green tea.", raw)
    body = chats(fake_openai)[0].body
    assert (body["max_tokens"], body["temperature"]) == (64, 0.3)


async def test_a_reply_that_is_all_thinking_says_to_raise_the_limit(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat(ScriptedReply("<think>on and on", finish_reason="length"))
    with pytest.raises(LLMOutputInvalid, match="LLM_MAX_OUTPUT_TOKENS") as caught:
        await make_client().complete(ASK)
    assert caught.value.usage.requests == 1


async def test_a_refusal_is_invalid_output(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat(ScriptedReply("", refusal="I can't help with that."))
    with pytest.raises(LLMOutputInvalid, match="refused: I can't help"):
        await make_client().structured(ASK, Facts)


# ---- structured output, each mode -----------------------------------------------------------


async def test_json_schema_mode_sends_a_strict_schema(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat(GOOD)
    result = await make_client(structured_mode="json_schema").structured(ASK, Facts)
    assert (result.value, result.mode_used, result.attempts) == (EXPECTED, "json_schema", 1)
    (request,) = chats(fake_openai)
    fmt = request.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Facts" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == strict_schema(Facts)[0]
    # the endpoint enforces the schema: the prompt is left alone
    assert [m["content"] for m in request.body["messages"]] == [m.content for m in ASK]
    assert result.usage == usage_of(request, GOOD)


async def test_json_object_mode_puts_the_schema_in_the_system_prompt(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat(GOOD)
    result = await make_client(structured_mode="json_object").structured(ASK, Facts)
    assert (result.value, result.mode_used) == (EXPECTED, "json_object")
    body = chats(fake_openai)[0].body
    assert body["response_format"] == {"type": "json_object"}
    first, second = body["messages"]
    assert first["role"] == "system" and first["content"].startswith("You extract facts.\n\n")
    assert "JSON Schema" in first["content"] and '"confidence"' in first["content"]
    assert second == {"role": "user", "content": "I drink green tea every morning."}


async def test_text_mode_reads_a_chatty_local_model(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    chatty = (
        '<think>\nThe user drinks tea. I\'ll write {"facts": []}? No, one fact.\n</think>\n'
        "Here is the JSON you asked for:\n\n```json\n"
        "{'facts': [{'text': 'likes green tea', 'confidence': 0.9,},],}\n```\n"
        "Let me know if you need anything else!"
    )
    fake_openai.state.queue_chat(chatty)
    result = await make_client(structured_mode="text").structured([user("Tea?")], Facts)
    assert (result.value, result.mode_used, result.attempts) == (EXPECTED, "text", 1)
    body = chats(fake_openai)[0].body
    assert "response_format" not in body
    instruction, question = body["messages"]  # no system message given: one is added first
    assert instruction["role"] == "system" and "JSON Schema" in instruction["content"]
    assert question == {"role": "user", "content": "Tea?"}


# ---- auto-detection -------------------------------------------------------------------------


async def test_auto_falls_back_when_json_schema_is_refused_and_remembers(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, memory: EndpointMemory
) -> None:
    fake_openai.state.reject_response_format("json_schema")
    fake_openai.state.queue_chat(GOOD, GOOD)
    client = make_client()
    first = await client.structured(ASK, Facts)
    assert (first.value, first.mode_used, first.attempts) == (EXPECTED, "json_object", 1)
    formats = [r.body.get("response_format", {}).get("type") for r in chats(fake_openai)]
    assert formats == ["json_schema", "json_object"]
    assert memory.profile(fake_openai.base_url, MODEL).structured_mode == "json_object"
    # the rejected request cost nothing; only the answered one counts
    assert first.usage == usage_of(chats(fake_openai)[1], GOOD)

    second = await make_client().structured(ASK, Facts)  # another client, same endpoint
    assert second.mode_used == "json_object"
    formats = [r.body.get("response_format", {}).get("type") for r in chats(fake_openai)]
    assert formats == ["json_schema", "json_object", "json_object"]


async def test_auto_ends_at_plain_text_when_no_response_format_is_accepted(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, memory: EndpointMemory
) -> None:
    fake_openai.state.reject_response_format()
    fake_openai.state.queue_chat(f"Sure:\n```json\n{GOOD}\n```", GOOD)
    client = make_client()
    assert (await client.structured(ASK, Facts)).mode_used == "text"
    assert [("response_format" in r.body) for r in chats(fake_openai)] == [True, True, False]
    assert memory.profile(fake_openai.base_url, MODEL).structured_mode == "text"
    assert (await client.structured(ASK, Facts)).value == EXPECTED
    assert len(chats(fake_openai)) == 4


async def test_auto_keeps_json_schema_where_only_json_object_is_refused(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, memory: EndpointMemory
) -> None:
    fake_openai.state.reject_response_format("json_object")  # LM Studio does this
    fake_openai.state.queue_chat(GOOD)
    assert (await make_client().structured(ASK, Facts)).mode_used == "json_schema"
    assert memory.profile(fake_openai.base_url, MODEL).structured_mode == "json_schema"


async def test_auto_notices_a_server_that_accepts_but_ignores_json_schema(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, memory: EndpointMemory
) -> None:
    fake_openai.state.queue_chat("The user likes green tea, I'd say with high confidence.", GOOD)
    result = await make_client().structured(ASK, Facts)
    assert (result.value, result.mode_used, result.attempts) == (EXPECTED, "json_object", 2)
    first, retry = chats(fake_openai)
    assert first.body["response_format"]["type"] == "json_schema"
    assert retry.body["response_format"] == {"type": "json_object"}
    assert "JSON Schema" in retry.body["messages"][0]["content"]
    assert memory.profile(fake_openai.base_url, MODEL).structured_mode == "json_object"


async def test_a_forced_mode_is_never_changed(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.reject_response_format("json_schema")
    with pytest.raises(LLMRequestRejected, match="LLM_STRUCTURED_MODE=json_schema") as caught:
        await make_client(structured_mode="json_schema").structured(ASK, Facts)
    assert caught.value.status_code == 400
    assert len(chats(fake_openai)) == 1


async def test_a_request_refused_in_every_mode_is_rejected(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, memory: EndpointMemory
) -> None:
    for _ in range(3):
        fake_openai.state.fail_next(
            CHAT, error=ScriptedError(400, "prompt is too long", "invalid_request_error")
        )
    with pytest.raises(LLMRequestRejected, match="prompt is too long"):
        await make_client().structured(ASK, Facts)
    assert len(chats(fake_openai)) == 3
    assert memory.profile(fake_openai.base_url, MODEL).structured_mode is None


# ---- invalid output: one corrective retry ---------------------------------------------------


async def test_invalid_output_gets_one_corrective_retry(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    bad = '{"facts": [{"text": "likes green tea", "confidence": 9}]}'
    fake_openai.state.queue_chat(bad, GOOD)
    result = await make_client(structured_mode="json_object").structured(ASK, Facts)
    assert (result.value, result.attempts, result.mode_used) == (EXPECTED, 2, "json_object")
    first, retry = chats(fake_openai)
    messages = retry.body["messages"]
    assert messages[: len(first.body["messages"])] == first.body["messages"]
    echoed, correction = messages[-2:]
    assert echoed == {"role": "assistant", "content": bad}
    assert correction["role"] == "user"
    assert "facts.0.confidence: Input should be less than or equal to 1" in correction["content"]
    assert result.usage == usage_of(first, bad) + usage_of(retry, GOOD)
    assert result.usage.requests == 2


async def test_still_invalid_after_the_retry_is_output_invalid(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat("I don't know.", "Still no idea, sorry.")
    with pytest.raises(LLMOutputInvalid, match="Facts") as caught:
        await make_client(structured_mode="text").structured(ASK, Facts)
    error = caught.value
    assert (error.attempts, error.raw) == (2, "Still no idea, sorry.")
    first, retry = chats(fake_openai)
    assert "holds no JSON object" in retry.body["messages"][-1]["content"]
    assert error.usage == usage_of(first, "I don't know.") + usage_of(
        retry, "Still no idea, sorry."
    )


async def test_a_cut_off_answer_is_told_to_be_shorter(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    cut = ScriptedReply('{"facts": [{"text": "likes gr', finish_reason="length")
    fake_openai.state.queue_chat(cut, GOOD)
    result = await make_client(structured_mode="json_schema").structured(ASK, Facts)
    assert result.attempts == 2 and result.mode_used == "json_schema"  # not a sign of ignoring
    correction = chats(fake_openai)[1].body["messages"][-1]["content"]
    assert "cut off" in correction and "shorter" in correction


async def test_an_outage_during_the_retry_keeps_the_usage_spent(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat("nothing useful")
    with pytest.raises(LLMUnavailable) as caught:
        # the first answer is consumed, then every later request fails
        await make_client(structured_mode="text", max_retries=0).structured(ASK, Facts)
    assert caught.value.usage == usage_of(chats(fake_openai)[0], "nothing useful")


# ---- endpoint failures ----------------------------------------------------------------------


async def test_server_errors_are_retried_then_succeed(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.fail_next(CHAT, times=2)
    fake_openai.state.queue_chat("ok")
    assert (await make_client(max_retries=2).complete(ASK)).text == "ok"
    assert len(chats(fake_openai)) == 3


async def test_persistent_server_errors_are_unavailable(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.fail_next(CHAT, times=3)
    with pytest.raises(LLMUnavailable, match="2 retries") as caught:
        await make_client(max_retries=2).complete(ASK)
    assert caught.value.status_code == 500
    assert len(chats(fake_openai)) == 3


@pytest.mark.parametrize(
    ("status", "kind", "hint"),
    [
        (429, LLMUnavailable, "retries"),
        (401, LLMUnavailable, "DERIVER_API_KEY or LLM_API_KEY"),
        (404, LLMUnavailable, "DERIVER_MODEL or LLM_MODEL"),
        (400, LLMRequestRejected, "refused the request"),
    ],
)
async def test_error_statuses_map_to_what_the_job_should_do(
    fake_openai: FakeOpenAIServer,
    make_client: MakeClient,
    status: int,
    kind: type[Exception],
    hint: str,
) -> None:
    fake_openai.state.queue_chat(ScriptedError(status, f"error {status}", "some_error"))
    with pytest.raises(kind, match=hint):
        await make_client(max_retries=0).complete(ASK)


async def test_a_slow_endpoint_times_out_as_unavailable(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.latency_seconds = 1.0
    with pytest.raises(LLMUnavailable, match="LLM_TIMEOUT_SECONDS"):
        await make_client(timeout=0.2, max_retries=0).complete(ASK)


async def test_an_unreachable_endpoint_is_unavailable(make_client: MakeClient) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    with pytest.raises(LLMUnavailable, match="unreachable"):
        await client.complete(ASK)


async def test_max_completion_tokens_is_used_where_max_tokens_is_refused(
    fake_openai: FakeOpenAIServer, make_client: MakeClient, memory: EndpointMemory
) -> None:
    fake_openai.state.reject_max_tokens = True
    fake_openai.state.queue_chat("one", "two")
    client = make_client()
    assert (await client.complete(ASK)).text == "one"
    assert (await client.complete(ASK, max_tokens=32)).text == "two"
    bodies = [r.body for r in chats(fake_openai)]
    assert [("max_tokens" in b, b.get("max_completion_tokens")) for b in bodies] == [
        (True, None),
        (False, 512),
        (False, 32),
    ]
    assert memory.profile(fake_openai.base_url, MODEL).token_param == "max_completion_tokens"


def test_first_guesses_for_known_hosts() -> None:
    memory = EndpointMemory()
    assert memory.profile("https://api.openai.com/v1", "gpt-5").token_param == (
        "max_completion_tokens"
    )
    # Anthropic's OpenAI-compatible endpoint ignores response_format
    assert memory.profile("https://api.anthropic.com/v1/", "claude").structured_mode == "text"
    assert memory.profile("http://localhost:11434/v1", "qwen3").structured_mode is None


# ---- streaming ------------------------------------------------------------------------------


async def test_streaming_yields_the_pieces_in_order_with_usage(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    pieces = ["The user ", "likes ", "green", " tea", "."]
    fake_openai.state.queue_chat(ScriptedReply("".join(pieces), pieces=pieces))
    stream = make_client().stream(ASK)
    assert [piece async for piece in stream] == pieces
    (request,) = chats(fake_openai)
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert stream.usage == usage_of(request, "".join(pieces))
    assert stream.finish_reason == "stop"


async def test_streaming_hides_thinking(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    pieces = ["<thi", "nk>The user", " asked.</th", "ink>\n\n", "Green", " tea."]
    fake_openai.state.queue_chat(ScriptedReply("".join(pieces), pieces=pieces))
    fake_openai.state.chunk_delay_seconds = 0.01
    assert await make_client().stream(ASK).text() == "Green tea."


async def test_streaming_failures_are_unavailable(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.fail_next(CHAT, times=2)
    with pytest.raises(LLMUnavailable):
        await make_client(max_retries=1).stream(ASK).text()


async def test_the_fake_streams_in_openais_format(
    fake_openai: FakeOpenAIServer,
) -> None:
    client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk", max_retries=0)
    fake_openai.state.queue_chat("Hello there")
    chunks = [
        chunk
        async for chunk in await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    ]
    await client.close()
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks)  # not asked for


# ---- schemas --------------------------------------------------------------------------------


class Titled(BaseModel):
    title: str
    fact: Fact = Field(description="A nested model beside a description")
    tags: list[str] = []


class Free(BaseModel):
    scores: dict[str, float]


def test_strict_schema_closes_objects_and_requires_everything() -> None:
    schema, strict = strict_schema(Titled)
    assert strict
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["title", "fact", "tags"]
    assert "default" not in schema["properties"]["tags"]
    fact = schema["properties"]["fact"]  # the $ref beside a description is inlined
    assert "$ref" not in fact and fact["description"].startswith("A nested model")
    assert fact["additionalProperties"] is False and fact["required"] == ["text", "confidence"]
    assert strict_schema(Free)[1] is False  # a free-form mapping cannot be strict


def test_prompt_schema_drops_title_keywords_but_not_a_title_field() -> None:
    schema = prompt_schema(Titled)
    assert "title" not in schema and "title" not in schema["properties"]["tags"]
    assert set(schema["properties"]) == {"title", "fact", "tags"}


async def test_non_strict_schemas_are_sent_with_strict_false(
    fake_openai: FakeOpenAIServer, make_client: MakeClient
) -> None:
    fake_openai.state.queue_chat('{"scores": {"tea": 0.9}}')
    result = await make_client(structured_mode="json_schema").structured(ASK, Free)
    assert result.value == Free(scores={"tea": 0.9})
    assert chats(fake_openai)[0].body["response_format"]["json_schema"]["strict"] is False


# ---- configuration --------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


async def test_not_configured_raises_without_any_request(
    fake_openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    empty = settings()
    registry = LLMRegistry(empty)
    for feature in ("deriver", "summary", "dialectic", "dream"):
        with pytest.raises(LLMNotConfigured, match="no LLM configured"):
            registry.client(feature)
    assert not is_configured(empty)
    assert all(not s.configured and "no LLM configured" in s.describe() for s in llm_status(empty))
    with caplog.at_level(logging.WARNING):
        log_llm_configuration(empty)
    assert "no LLM configured" in caplog.text
    assert fake_openai.state.requests == []
    await registry.aclose()


def test_half_configurations_say_what_is_missing() -> None:
    with pytest.raises(LLMNotConfigured, match="set DERIVER_MODEL or LLM_MODEL"):
        resolve_llm_config(settings(llm_base_url="http://localhost:11434/v1"), "deriver")
    with pytest.raises(LLMNotConfigured, match="needs a key"):
        resolve_llm_config(settings(llm_model="gpt-4.1-mini"), "summary")
    local = resolve_llm_config(settings(llm_model="qwen3", llm_base_url="http://h:1/v1"), "dream")
    assert local.api_key is None  # keyless local servers are fine


async def test_per_feature_settings_beat_the_llm_defaults(
    fake_openai: FakeOpenAIServer, memory: EndpointMemory
) -> None:
    configured = settings(
        llm_base_url=fake_openai.base_url,
        llm_api_key="sk-shared",
        llm_model="general-model",
        llm_structured_mode="text",
        llm_timeout_seconds=5,
        llm_max_retries=1,
        deriver_model="deriver-model",
        dialectic_api_key="sk-dialectic",
    )
    registry = LLMRegistry(configured, memory=memory)
    fake_openai.state.queue_chat(GOOD, "plain", "plain")
    assert (await registry.client("deriver").structured(ASK, Facts)).value == EXPECTED
    await registry.client("summary").complete(ASK)
    await registry.client("dialectic").complete(ASK)
    sent = [(r.body["model"], r.headers["authorization"]) for r in chats(fake_openai)]
    assert sent == [
        ("deriver-model", "Bearer sk-shared"),
        ("general-model", "Bearer sk-shared"),
        ("general-model", "Bearer sk-dialectic"),
    ]
    config = registry.client("deriver").config
    assert (config.structured_mode, config.timeout, config.max_retries) == ("text", 5, 1)
    assert registry.client("deriver") is registry.client("deriver")
    await registry.aclose()


def test_a_feature_on_its_own_endpoint_does_not_get_the_shared_key() -> None:
    base = {"llm_base_url": "https://api.example.com/v1", "llm_api_key": "sk-shared"}
    base |= {"llm_model": "big"}
    own = settings(**base, dream_base_url="http://localhost:11434/v1", dream_model="small")
    dream = resolve_llm_config(own, "dream")
    assert (dream.base_url, dream.model, dream.api_key) == (
        "http://localhost:11434/v1",
        "small",
        None,
    )
    same = settings(**base, dream_base_url="https://api.example.com/v1/")
    shared_key = resolve_llm_config(same, "dream").api_key
    assert shared_key is not None and shared_key.get_secret_value() == "sk-shared"


def test_settings_come_from_upper_case_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "http://localhost:1234/v1")
    monkeypatch.setenv("LLM_MODEL", "qwen3:8b")
    monkeypatch.setenv("LLM_STRUCTURED_MODE", "json_object")
    monkeypatch.setenv("SUMMARY_MODEL", "qwen3:1.7b")
    monkeypatch.setenv("DERIVER_MODEL", "  ")  # blank = unset
    loaded = Settings(_env_file=None)
    assert resolve_llm_config(loaded, "deriver").model == "qwen3:8b"
    summary = resolve_llm_config(loaded, "summary")
    assert (summary.model, summary.structured_mode) == ("qwen3:1.7b", "json_object")
    assert [s.configured for s in llm_status(loaded)] == [True] * 4


def test_structured_modes_are_the_documented_ones() -> None:
    modes: list[StructuredMode] = ["auto", "json_schema", "json_object", "text"]
    for mode in modes:
        assert settings(llm_structured_mode=mode).llm_structured_mode == mode
    with pytest.raises(ValueError, match="llm_structured_mode"):
        settings(llm_structured_mode="grammar")


def test_a_blank_api_key_is_no_key() -> None:
    """``LLM_API_KEY=`` copied from an example ``.env``: status and the start-up log agree
    that no LLM is configured (it used to count as a key without a model)."""
    from honcho_server.llm.config import NO_LLM, describe_llm

    settings = Settings(_env_file=None, llm_api_key="", embedding_api_key="  ")
    assert settings.llm_api_key is None and settings.embedding_api_key is None
    assert describe_llm(settings) == [NO_LLM]
