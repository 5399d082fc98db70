"""Dialectic chat over HTTP (ASGI) with the fake LLM: checks before any output, the tool
loop against real data, reasoning levels, prompt mode, streaming, evidence, allowlists."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from honcho.api_types import Evidence

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer, ScriptedError, ScriptedReply, calls, tool_call
from honcho_server.app import create_app
from honcho_server.db.models import vector_literal
from honcho_server.db.repositories.conclusion_rows import NewConclusionRow
from honcho_server.db.repositories.conclusions import ConclusionRepository
from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work
from honcho_server.ids import new_id
from honcho_server.settings import Settings
from worker_support import drain

Client = httpx.AsyncClient
FULL_TOOLS = {
    "search_memory",
    "search_messages",
    "grep_messages",
    "get_messages_by_date_range",
    "get_observation_context",
    "get_reasoning_chain",
}


def chat_settings(database_url: str, base_url: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        embedded_worker=False,
        embed_messages=False,
        deriver_enabled=False,
        summary_enabled=False,
        llm_base_url=base_url,
        llm_model=extra.pop("llm_model", "chat-model"),
        llm_api_key="test",
        llm_max_retries=0,
        **extra,
    )


async def _serve(settings: Settings) -> AsyncIterator[tuple[FastAPI, Client, Settings]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client, settings


@pytest.fixture(scope="module")
async def chat_env(
    database_url: str,
    fake_openai_server: FakeOpenAIServer,  # noqa: F811
) -> AsyncIterator[tuple[FastAPI, Client, Settings]]:
    async for env in _serve(chat_settings(database_url, fake_openai_server.base_url)):
        yield env


@pytest.fixture
def chat(
    chat_env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> Client:
    return chat_env[1]


# ---- helpers --------------------------------------------------------------------------------


async def seed(client: Client, ws: str) -> None:
    """alice and bob talk in s1 and s2; two stated facts about alice, one per session."""
    for peer in ("alice", "bob", "carol"):
        r = await client.post(f"/v3/workspaces/{ws}/peers", json={"id": peer})
        assert r.status_code in (200, 201), r.text
    for session, line in (("s1", "I moved to Lisbon in May."), ("s2", "My dog is called Rex.")):
        r = await client.post(
            f"/v3/workspaces/{ws}/sessions",
            json={"id": session, "peers": {"alice": {}, "bob": {}}},
        )
        assert r.status_code in (200, 201), r.text
        r = await client.post(
            f"/v3/workspaces/{ws}/sessions/{session}/messages",
            json={
                "messages": [
                    {"peer_id": "alice", "content": line},
                    {"peer_id": "bob", "content": "Nice!"},
                ]
            },
        )
        assert r.status_code == 201, r.text
    facts = [
        ("alice lives in Lisbon", "s1"),
        ("alice has a dog named Rex", "s2"),
    ]
    r = await client.post(
        f"/v3/workspaces/{ws}/conclusions",
        json={
            "conclusions": [
                {"content": c, "observer_id": "alice", "observed_id": "alice", "session_id": s}
                for c, s in facts
            ]
        },
    )
    assert r.status_code in (200, 201), r.text


def url(ws: str, peer: str = "alice") -> str:
    return f"/v3/workspaces/{ws}/peers/{peer}/chat"


def tool_names(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools", [])}


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(m.get("content") or "" for m in body["messages"])


# ---- answers and the tool loop --------------------------------------------------------------


async def test_a_direct_answer_uses_prefetched_memory(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat("Alice lives in Lisbon.")
    r = await chat.post(url(ws), json={"query": "Where does alice live?"})
    assert r.status_code == 200, r.text
    assert r.json() == {"content": "Alice lives in Lisbon."}
    [body] = fake_openai.state.chat_bodies()
    assert tool_names(body) == FULL_TOOLS
    assert body["tool_choice"] == "auto"
    assert body["max_tokens"] == 8192
    system_prompt, question = body["messages"][0]["content"], body["messages"][1]["content"]
    assert "alice" in system_prompt
    assert "alice lives in Lisbon" in question and "alice has a dog named Rex" in question
    assert question.endswith("## Question\nWhere does alice live?")


async def test_tool_results_reach_the_next_request(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat(
        calls(tool_call("grep_messages", {"text": "lisbon", "context": 0})),
        "She moved to Lisbon in May.",
    )
    r = await chat.post(url(ws), json={"query": "When did alice move?", "include_evidence": True})
    assert r.status_code == 200, r.text
    assert r.json()["content"] == "She moved to Lisbon in May."
    _, second = fake_openai.state.chat_bodies()
    call_id = second["messages"][2]["tool_calls"][0]["id"]
    result = second["messages"][3]
    assert result["role"] == "tool" and result["tool_call_id"] == call_id
    assert "alice: I moved to Lisbon in May." in result["content"]
    assert "Rex" not in result["content"]
    evidence = Evidence.model_validate(r.json()["evidence"])
    assert [(c.tool_name, c.tool_input) for c in evidence.tool_calls] == [
        ("grep_messages", {"text": "lisbon", "context": 0})
    ]
    assert [m.session_id for m in evidence.messages] == ["s1"]
    assert {c.content for c in evidence.conclusions} == {
        "alice lives in Lisbon",
        "alice has a dog named Rex",
    }
    assert all(c.observer_id == "alice" and c.observed_id == "alice" for c in evidence.conclusions)


async def test_evidence_source_ids_are_the_premises(
    chat: Client,
    chat_env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    """An evidence conclusion's ``source_ids`` are the conclusions it was derived from (what
    the SDKs document and the dashboards follow), empty for explicit ones; never the ids of
    the messages it was extracted from."""
    app = chat_env[0]
    await seed(chat, ws)
    listed = (await chat.post(f"/v3/workspaces/{ws}/conclusions/list", json={})).json()
    lisbon = next(c["id"] for c in listed["items"] if c["content"] == "alice lives in Lisbon")
    derived = "alice lives in Portugal"
    [vector] = await app.state.embedder.embed([derived])
    async with unit_of_work(app.state.session_factory) as db:
        await ConclusionRepository(db).insert(
            ws,
            [
                NewConclusionRow(
                    id=new_id(),
                    observer="alice",
                    observed="alice",
                    session_name="s1",
                    level="deductive",
                    content=derived,
                    source_ids=[lisbon],
                    source_message_ids=["a-message-id"],
                    embedding=vector_literal(vector),
                )
            ],
        )
    fake_openai.state.queue_chat("In Portugal.")
    r = await chat.post(url(ws), json={"query": "Where does alice live?", "include_evidence": True})
    assert r.status_code == 200, r.text
    evidence = Evidence.model_validate(r.json()["evidence"])
    cited = {c.content: c.source_ids for c in evidence.conclusions}
    assert cited[derived] == [lisbon]
    assert cited["alice lives in Lisbon"] == []


async def test_a_bad_tool_call_is_told_to_the_model(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat(
        calls(tool_call("grep_messages", "{oops"), tool_call("delete_everything", {})),
        "Nothing found.",
    )
    r = await chat.post(url(ws), json={"query": "anything?"})
    assert r.json() == {"content": "Nothing found."}
    results = [m for m in fake_openai.state.chat_bodies()[1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in results] == [
        "Error: the arguments must be a JSON object.",
        "Error: there is no tool named 'delete_everything'.",
    ]


@pytest.mark.parametrize(
    ("level", "cap", "tools", "choice", "max_tokens"),
    [
        ("minimal", 1, {"search_memory", "search_messages"}, "auto", 250),
        ("low", 5, FULL_TOOLS, "auto", 8192),
        ("medium", 2, FULL_TOOLS, None, 8192),
        ("high", 4, FULL_TOOLS, None, 8192),
        ("max", 10, FULL_TOOLS, None, 8192),
    ],
)
async def test_each_level_caps_tool_iterations(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
    level: str,
    cap: int,
    tools: set[str],
    choice: str | None,
    max_tokens: int,
) -> None:
    await seed(chat, ws)
    search = calls(tool_call("search_messages", {"query": "dog"}))
    fake_openai.state.queue_chat(*[search] * cap, "Rex.")
    r = await chat.post(url(ws), json={"query": "Dog?", "reasoning_level": level})
    assert r.json() == {"content": "Rex."}, r.text
    bodies = fake_openai.state.chat_bodies()
    assert len(bodies) == cap + 1
    assert all(tool_names(b) == tools for b in bodies[:cap])
    assert all(b.get("tool_choice") == choice for b in bodies[:cap])
    assert all(b["max_tokens"] == max_tokens for b in bodies)
    final = bodies[-1]
    assert "tools" not in final  # the answer is asked for without tools
    assert "My dog is called Rex." in prompt_text(final)  # what the searches found


# ---- prompt mode ----------------------------------------------------------------------------


async def test_an_endpoint_refusing_tools_gets_prompt_mode_and_it_is_remembered(
    database_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    settings = chat_settings(database_url, fake_openai.base_url, llm_model=f"m-{uuid.uuid4()}")
    async for _, client, _ in _serve(settings):
        await seed(client, ws)
        fake_openai.state.refuse_tools()
        fake_openai.state.queue_chat("In Lisbon.", "Rex.")
        r = await client.post(url(ws), json={"query": "Where did alice move to"})
        assert r.json() == {"content": "In Lisbon."}, r.text
        r = await client.post(url(ws), json={"query": "The dog?"})
        assert r.json() == {"content": "Rex."}
    refused, answered, second = fake_openai.state.chat_bodies()
    assert "tools" in refused and "tools" not in answered and "tools" not in second
    assert "I moved to Lisbon in May." in prompt_text(answered)  # the server searched


async def test_prompt_mode_by_setting(
    database_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    settings = chat_settings(database_url, fake_openai.base_url, dialectic_tool_mode="prompt")
    async for _, client, _ in _serve(settings):
        await seed(client, ws)
        fake_openai.state.queue_chat("Rex.")
        r = await client.post(url(ws), json={"query": "dog", "stream": True})
        assert r.text.endswith('data: {"done": true}\n\n')
    [body] = fake_openai.state.chat_bodies()
    assert "tools" not in body and body["stream"] is True
    assert "My dog is called Rex." in prompt_text(body)


# ---- checks before any output ---------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_target_or_session_is_404_before_any_output(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
    stream: bool,
) -> None:
    await seed(chat, ws)
    r = await chat.post(url(ws), json={"query": "q", "target": "nobody", "stream": stream})
    assert r.status_code == 404
    assert r.json() == {"detail": f"Peer nobody not found in workspace {ws}"}
    r = await chat.post(url(ws), json={"query": "q", "session_id": "nope", "stream": stream})
    assert r.status_code == 404
    assert r.json() == {"detail": f"Session nope not found in workspace {ws}"}
    await chat.delete(f"/v3/workspaces/{ws}/sessions/s2")
    r = await chat.post(url(ws), json={"query": "q", "session_id": "s2", "stream": stream})
    assert r.status_code == 404
    assert fake_openai.state.chat_bodies() == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"query": ""}, None),
        ({"query": "x" * 10_001}, None),
        ({"query": "q", "reasoning_level": "extreme"}, None),
        ({"query": "q", "filters": {"peer_id": "alice"}}, "only the key 'session_id'"),
        ({"query": "q", "filters": {"session_id": ["s1"]}, "session_id": "s2"}, "must be one"),
        ({"query": "q", "filters": {"session_id": "*"}}, "filters.session_id"),
        ({"query": "q", "scope": "team", "session_id": "s1"}, "scope cannot be combined"),
        ({"query": "q", "response_format": {"type": "array"}}, "Invalid response_format"),
        (
            {"query": "q", "response_format": {"type": "object", "allOf": [{}]}},
            "Invalid response_format: #: 'allOf' is not supported",
        ),
        ({"query": "q", "target": "scope.team"}, "Invalid peer id"),
    ],
)
async def test_bad_input_is_422(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
    body: dict[str, Any],
    detail: str | None,
) -> None:
    r = await chat.post(url(ws), json=body)
    assert r.status_code == 422, r.text
    if detail is not None:
        assert detail in r.json()["detail"]
    assert fake_openai.state.chat_bodies() == []


@pytest.mark.parametrize("stream", [False, True])
async def test_no_llm_is_503_before_any_output(client: Client, ws: str, stream: bool) -> None:
    r = await client.post(url(ws), json={"query": "q", "stream": stream})
    assert r.status_code == 503
    assert r.json()["detail"].startswith("Dialectic chat needs an LLM: set LLM_BASE_URL/LLM_MODEL")
    r = await client.post(f"/v3/workspaces/{ws}/chat", json={"query": "q", "stream": stream})
    assert r.status_code == 503


async def test_an_llm_failure_is_a_clear_5xx(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    fake_openai.state.queue_chat(ScriptedError(500, "model crashed"))
    r = await chat.post(url(ws), json={"query": "q"})
    assert r.status_code == 503
    assert "The dialectic model is unavailable" in r.json()["detail"]
    assert "model crashed" in r.json()["detail"]


# ---- streaming ------------------------------------------------------------------------------


async def test_sse_framing_is_byte_exact(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat(
        calls(tool_call("search_messages", {"query": "dog"})),
        ScriptedReply("Héllo there", pieces=["Hé", "llo", " there"]),
    )
    r = await chat.post(url(ws), json={"query": "q", "stream": True, "reasoning_level": "minimal"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.content == (
        b'data: {"delta": {"content": "H\\u00e9"}, "done": false}\n\n'
        b'data: {"delta": {"content": "llo"}, "done": false}\n\n'
        b'data: {"delta": {"content": " there"}, "done": false}\n\n'
        b'data: {"done": true}\n\n'
    )
    assert fake_openai.state.chat_bodies()[-1]["stream"] is True  # the final answer streamed


async def test_a_direct_answer_streams_in_pieces_with_evidence_last(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat("Alice lives in Lisbon.")
    r = await chat.post(url(ws), json={"query": "q", "stream": True, "include_evidence": True})
    events = [json.loads(line[6:]) for line in r.text.split("\n\n") if line]
    assert "".join(e["delta"]["content"] for e in events[:-1]) == "Alice lives in Lisbon."
    assert len(events) > 2 and all(e["done"] is False for e in events[:-1])
    last = events[-1]
    assert last["done"] is True
    assert len(Evidence.model_validate(last["evidence"]).conclusions) == 2


async def test_a_failure_mid_stream_ends_the_stream_without_done(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat(
        calls(tool_call("search_messages", {"query": "dog"})), ScriptedError(500, "boom")
    )
    r = await chat.post(url(ws), json={"query": "q", "stream": True, "reasoning_level": "minimal"})
    assert r.status_code == 200
    [event] = [json.loads(line[6:]) for line in r.text.split("\n\n") if line]
    assert event["done"] is False and "boom" in event["error"]


# ---- memory ---------------------------------------------------------------------------------


async def test_session_history_and_summary_are_in_the_prompt(
    chat_env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    app, chat, _ = chat_env
    await seed(chat, ws)
    async with unit_of_work(app.state.session_factory) as db:
        await SummaryRepository(db).save(
            ws,
            "s2",
            "short",
            content="They talked pets.",
            message_id=1,
            message_public_id="m",
            token_count=4,
        )
    fake_openai.state.queue_chat("ok")
    r = await chat.post(url(ws), json={"query": "q", "session_id": "s2"})
    assert r.status_code == 200, r.text
    system_prompt = fake_openai.state.chat_bodies()[0]["messages"][0]["content"]
    assert "## Summary of session s2\nThey talked pets." in system_prompt
    history = system_prompt.split("## Recent messages of session s2\n")[1].splitlines()
    assert [line.split(" ", 2)[2] for line in history] == [
        "alice: My dog is called Rex.",
        "bob: Nice!",
    ]
    assert "Lisbon in May" not in system_prompt  # s1 is not this session


async def test_an_allowlist_limits_every_read(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat(calls(tool_call("grep_messages", {"text": "e"})), "ok")
    r = await chat.post(url(ws), json={"query": "q", "filters": {"session_id": ["s1"]}})
    assert r.status_code == 200, r.text
    first, second = fake_openai.state.chat_bodies()
    assert "alice lives in Lisbon" in prompt_text(first)
    assert "Rex" not in prompt_text(first)
    assert tool_names(first) == FULL_TOOLS - {"get_reasoning_chain"}
    grep = second["messages"][-1]["content"]
    assert "Lisbon" in grep and "Rex" not in grep
    fake_openai.state.queue_chat("nothing")
    r = await chat.post(url(ws), json={"query": "q", "filters": {"session_id": []}})
    assert "(none recorded yet)" in prompt_text(fake_openai.state.chat_bodies()[-1])


async def test_message_tools_only_see_the_observers_sessions(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    r = await chat.post(
        f"/v3/workspaces/{ws}/sessions/s3/messages",
        json={"messages": [{"peer_id": "carol", "content": "carol's secret is here"}]},
    )
    assert r.status_code == 201, r.text
    fake_openai.state.queue_chat(calls(tool_call("grep_messages", {"text": "secret"})), "no")
    await chat.post(url(ws), json={"query": "secret?"})
    assert "No message contains" in fake_openai.state.chat_bodies()[1]["messages"][-1]["content"]
    fake_openai.state.queue_chat(calls(tool_call("grep_messages", {"text": "secret"})), "yes")
    await chat.post(f"/v3/workspaces/{ws}/chat", json={"query": "secret?"})
    assert "carol's secret" in fake_openai.state.chat_bodies()[-1]["messages"][-1]["content"]


async def test_search_memory_reads_embedded_conclusions_of_the_pair_only(
    chat_env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    app, chat, settings = chat_env
    await seed(chat, ws)
    r = await chat.post(
        f"/v3/workspaces/{ws}/conclusions",
        json={
            "conclusions": [
                {"content": "bob thinks alice is shy", "observer_id": "bob", "observed_id": "alice"}
            ]
        },
    )
    assert r.status_code in (200, 201)
    await drain(app, settings)  # embed the conclusions
    fake_openai.state.queue_chat(calls(tool_call("search_memory", {"query": "pets"})), "Rex")
    await chat.post(url(ws), json={"query": "pets?"})
    found = fake_openai.state.chat_bodies()[1]["messages"][-1]["content"]
    assert "alice has a dog named Rex" in found and "shy" not in found
    fake_openai.state.queue_chat(calls(tool_call("search_memory", {"query": "shy"})), "shy")
    await chat.post(url(ws, "bob"), json={"query": "alice?", "target": "alice"})
    bodies = fake_openai.state.chat_bodies()
    assert "bob thinks alice is shy" in bodies[-1]["messages"][-1]["content"]
    assert "Rex" not in bodies[-1]["messages"][-1]["content"]
    assert "as bob knows them" in bodies[-2]["messages"][0]["content"]


async def test_workspace_chat_reads_every_collection(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    await chat.post(
        f"/v3/workspaces/{ws}/conclusions",
        json={
            "conclusions": [
                {"content": "bob likes jazz", "observer_id": "bob", "observed_id": "bob"}
            ]
        },
    )
    fake_openai.state.queue_chat("Lisbon, Rex and jazz.")
    r = await chat.post(f"/v3/workspaces/{ws}/chat", json={"query": "Summarise everyone"})
    assert r.json() == {"content": "Lisbon, Rex and jazz."}
    text = prompt_text(fake_openai.state.chat_bodies()[0])
    assert "bob likes jazz" in text and "alice lives in Lisbon" in text


async def test_the_path_peer_is_created(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    fake_openai.state.queue_chat("", "")  # no answer, then none when asked for one
    r = await chat.post(url(ws, "newcomer"), json={"query": "who?"})
    assert r.json() == {"content": None}  # an empty answer is null
    r = await chat.post(f"/v3/workspaces/{ws}/peers/list", json={})
    assert [p["id"] for p in r.json()["items"]] == ["newcomer"]


# ---- response_format ------------------------------------------------------------------------

CITY = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "since": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["city"],
}


async def test_a_conforming_answer_is_returned_as_json(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat('{"city": "Lisbon"}')
    r = await chat.post(url(ws), json={"query": "where?", "response_format": CITY})
    assert json.loads(r.json()["content"]) == {"city": "Lisbon"}
    assert len(fake_openai.state.chat_bodies()) == 1


async def test_a_prose_answer_is_turned_into_conforming_json(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    fake_openai.state.queue_chat("She lives in Lisbon.", '{"town": 1}', '{"city": "Lisbon"}')
    r = await chat.post(url(ws), json={"query": "where?", "response_format": CITY, "stream": True})
    events = [json.loads(line[6:]) for line in r.text.split("\n\n") if line]
    text = "".join(e["delta"]["content"] for e in events if not e["done"])
    assert json.loads(text) == {"city": "Lisbon"} and events[-1] == {"done": True}
    structured = fake_openai.state.chat_bodies()[1]
    assert structured["response_format"]["type"] == "json_schema"
    assert "city" in json.dumps(structured["response_format"]["json_schema"]["schema"])


async def test_scopes_observe_or_restrict(
    chat: Client,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    ws: str,
) -> None:
    await seed(chat, ws)
    r = await chat.post(f"/v3/workspaces/{ws}/scopes", json={"id": "home"})
    assert r.status_code in (200, 201), r.text
    r = await chat.post(f"/v3/workspaces/{ws}/scopes/home/sessions", json={"session_ids": ["s1"]})
    assert r.status_code == 204, r.text
    r = await chat.post(url(ws), json={"query": "q", "scope": "nowhere", "stream": True})
    assert r.status_code == 404
    assert r.json() == {"detail": "Scope nowhere not found"}

    fake_openai.state.queue_chat("a", "b")
    r = await chat.post(url(ws), json={"query": "q", "scope": ["home"]})  # an allowlist
    assert r.status_code == 200, r.text
    r = await chat.post(url(ws), json={"query": "q", "scope": "home"})  # the scope observes
    assert r.status_code == 200, r.text
    listed, observed = fake_openai.state.chat_bodies()
    assert "alice lives in Lisbon" in prompt_text(listed) and "Rex" not in prompt_text(listed)
    assert "(none recorded yet)" in prompt_text(observed)  # nothing derived for the scope
    assert "as scope.home knows them" in observed["messages"][0]["content"]
