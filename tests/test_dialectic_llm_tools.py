"""Tool calling in the LLM client, through the real ``openai`` client, against the fake
server: calls come back parsed, results go back as ``tool`` messages, a refusal is
remembered, and a JSON Schema given as data gets structured output."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer, calls, tool_call
from honcho_server.llm import (
    EndpointMemory,
    LLMConfig,
    Tool,
    ToolsUnsupported,
    assistant,
    parse_arguments,
    schema_model,
    system,
    tool_result,
    user,
)
from honcho_server.llm.client import OpenAICompatClient

LOOKUP = Tool(
    "lookup",
    "Look a word up.",
    {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
)
ASK = [system("You answer questions."), user("What is a wug?")]


@pytest.fixture
async def client(
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> AsyncIterator[OpenAICompatClient]:
    config = LLMConfig(
        feature="dialectic",
        base_url=fake_openai.base_url,
        api_key=SecretStr("sk"),
        model="tool-model",
        max_retries=0,
        timeout=10.0,
    )
    llm = OpenAICompatClient(config, memory=EndpointMemory())
    yield llm
    await llm.aclose()


async def test_a_tool_call_round_trip(
    client: OpenAICompatClient,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    fake_openai.state.queue_chat(calls(tool_call("lookup", {"word": "wug"})), "A small bird.")
    first = await client.complete_with_tools(ASK, [LOOKUP], tool_choice="auto")
    assert first.text == "" and first.finish_reason == "tool_calls"
    [call] = first.tool_calls
    assert (call.name, parse_arguments(call)) == ("lookup", {"word": "wug"})
    assert client.tools_supported is True

    follow_up = [*ASK, assistant("", first.tool_calls), tool_result(call.id, "a made-up bird")]
    second = await client.complete_with_tools(follow_up, [LOOKUP])
    assert (second.text, second.tool_calls) == ("A small bird.", ())

    sent = fake_openai.state.chat_bodies()
    assert sent[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": LOOKUP.parameters,
            },
        }
    ]
    assert sent[0]["tool_choice"] == "auto"
    assert "tool_choice" not in sent[1]  # None: the model's default
    assistant_sent, result_sent = sent[1]["messages"][2:]
    assert assistant_sent["tool_calls"][0]["function"] == {
        "name": "lookup",
        "arguments": json.dumps({"word": "wug"}),
    }
    assert result_sent == {"role": "tool", "content": "a made-up bird", "tool_call_id": call.id}


async def test_a_refusal_of_tools_is_remembered(
    client: OpenAICompatClient,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    fake_openai.state.refuse_tools()
    with pytest.raises(ToolsUnsupported, match="tools are not supported"):
        await client.complete_with_tools(ASK, [LOOKUP])
    assert client.tools_supported is False
    fake_openai.state.queue_chat("plain")
    assert (await client.complete(ASK)).text == "plain"  # without tools it still works


async def test_malformed_arguments_are_the_callers_to_report(
    client: OpenAICompatClient,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    fake_openai.state.queue_chat(calls(tool_call("lookup", "{not json")))
    turn = await client.complete_with_tools(ASK, [LOOKUP])
    with pytest.raises(ValueError):
        parse_arguments(turn.tool_calls[0])


async def test_streaming_a_tool_call_reply_yields_no_text(
    client: OpenAICompatClient,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    fake_openai.state.queue_chat(calls(tool_call("lookup", {"word": "wug"})))
    stream = client.stream(ASK)
    assert await stream.text() == ""
    assert stream.finish_reason == "tool_calls"


async def test_a_schema_given_as_data_gets_a_checked_answer(
    client: OpenAICompatClient,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    def check(value: object) -> list[str]:
        ok = isinstance(value, dict) and isinstance(value.get("n"), int)
        return [] if ok else ["n must be an integer"]

    fake_openai.state.queue_chat('{"n": "three"}', '{"n": 3}')
    answer = await client.structured(ASK, schema_model("Count", schema, check))
    assert (answer.value.root, answer.attempts) == ({"n": 3}, 2)
    first, second = fake_openai.state.requests_to(CHAT)
    assert first.body["response_format"]["json_schema"]["schema"]["properties"] == {
        "n": {"type": "integer"}
    }
    assert "n must be an integer" in second.body["messages"][-1]["content"]
