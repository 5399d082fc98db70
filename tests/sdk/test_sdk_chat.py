"""Dialectic chat through the official Python SDK against a real ``honcho-server serve``
whose LLM is the fake OpenAI server (with its embedded worker running the real deriver)."""

from __future__ import annotations

import json
import time

from honcho import Honcho
from honcho.api_types import PeerConfig, SessionPeerConfig
from pydantic import BaseModel

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer, calls, tool_call
from sdk.test_sdk_deriver import deriver_server  # noqa: F401 - fixture


def _wait(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def prompt_of(body: dict[str, object]) -> str:
    messages = body["messages"]
    assert isinstance(messages, list)
    return "\n".join(m.get("content") or "" for m in messages)


def test_a_fact_told_in_one_session_is_answered_in_another(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    """The acceptance: the real deriver turns a message into a conclusion; chat, asked from
    another session, finds it and the answer comes back."""
    fake_openai.state.queue_chat(
        json.dumps({"explicit": ["alice is allergic to peanuts"], "deductive": []})
    )
    honcho = Honcho(base_url=deriver_server, workspace_id="acceptance", max_retries=0)
    alice = honcho.peer("alice")
    bot = honcho.peer("bot", configuration=PeerConfig(observe_me=False))
    lunch = honcho.session("lunch", peers=[alice, (bot, SessionPeerConfig(observe_others=True))])
    lunch.add_messages([alice.message("Careful, I'm allergic to peanuts.")])
    _wait(lambda: alice.conclusions.list().total == 1)
    _wait(lambda: honcho.queue_status().pending_work_units == 0)
    dinner = honcho.session("dinner", peers=[alice, bot])
    fake_openai.state.queue_chat(json.dumps({"explicit": [], "deductive": []}))
    dinner.add_messages([alice.message("What should I order tonight?")])
    _wait(lambda: len(fake_openai.state.chat_bodies()) == 2)  # its extraction was answered
    _wait(lambda: honcho.queue_status().pending_work_units == 0)

    fake_openai.state.queue_chat(
        calls(tool_call("search_messages", {"query": "allergies"})),
        "Alice is allergic to peanuts.",
    )
    answer = alice.chat("Does alice have any allergies?", session=dinner)
    assert answer == "Alice is allergic to peanuts."
    chats = [b for b in fake_openai.state.chat_bodies() if "tools" in b]
    assert len(chats) == 2
    first, second = chats
    assert "alice is allergic to peanuts" in prompt_of(first)  # the fact reached the model
    assert "What should I order tonight?" in first["messages"][0]["content"]  # the session
    assert second["messages"][-1]["role"] == "tool"


class Allergy(BaseModel):
    allergen: str
    severe: bool | None = None


def test_chat_sync_async_streaming_and_structured(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    import asyncio

    honcho = Honcho(base_url=deriver_server, workspace_id="sdkchat", max_retries=0)
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    alice.conclusions.create([{"content": "alice likes green tea"}])
    bob.conclusions_of("alice").create([{"content": "alice was late twice"}])

    fake_openai.state.queue_chat("Green tea.")
    assert alice.chat("What does alice drink?") == "Green tea."
    assert "alice likes green tea" in prompt_of(fake_openai.state.chat_bodies()[-1])

    fake_openai.state.queue_chat("Often late.")
    response = bob.chat("Is alice punctual?", target="alice", include_evidence=True)
    assert response.content == "Often late."
    assert response.evidence is not None
    assert [c.content for c in response.evidence.conclusions] == ["alice was late twice"]
    assert response.evidence.conclusions[0].observer_id == "bob"

    fake_openai.state.queue_chat("Green tea, every morning.")
    stream = alice.chat_stream("Drink?", include_evidence=True)
    assert "".join(stream) == "Green tea, every morning."
    assert stream.get_final_response() == {"content": "Green tea, every morning."}
    assert stream.evidence is not None and stream.evidence.conclusions

    fake_openai.state.queue_chat('{"allergen": "peanuts", "severe": true}')
    parsed = alice.chat("Allergy?", response_format=Allergy, reasoning_level="minimal")
    assert parsed == Allergy(allergen="peanuts", severe=True)

    fake_openai.state.queue_chat("Everyone likes tea.")
    assert honcho.chat("What do people drink?") == "Everyone likes tea."
    workspace_prompt = prompt_of(fake_openai.state.chat_bodies()[-1])
    assert (
        "alice likes green tea" in workspace_prompt and "alice was late twice" in workspace_prompt
    )

    async def run_async() -> None:
        fake_openai.state.queue_chat("Tea (async).", "Tea, streamed.", "Workspace tea.")
        assert await alice.aio.chat("Drink?") == "Tea (async)."
        stream = await alice.aio.chat_stream("Drink?", reasoning_level="high")
        assert "".join([piece async for piece in stream]) == "Tea, streamed."
        assert await honcho.aio.chat("Drink?", reasoning_level="max") == "Workspace tea."

    asyncio.run(run_async())


LEVELS = ("minimal", "low", "medium", "high", "max")
MINIMAL_TOOLS = {"search_memory", "search_messages"}


def test_every_reasoning_level_streaming_or_not_with_tools_and_without(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    """5 levels x (whole, streamed) x (a model that calls tools, one that refuses them)."""
    honcho = Honcho(base_url=deriver_server, workspace_id="levels", max_retries=0)
    alice = honcho.peer("alice")
    alice.conclusions.create([{"content": "alice collects stamps"}])
    for mode in ("tools", "prompt"):
        if mode == "prompt":
            fake_openai.state.refuse_tools()  # noticed once, then no tools are sent
        for level in LEVELS:
            for streamed in (False, True):
                answer = f"{mode}/{level}/{'streamed' if streamed else 'whole'}: stamps."
                before = len(fake_openai.state.chat_bodies())
                if mode == "tools":
                    search = tool_call("search_memory", {"query": "hobbies"})
                    fake_openai.state.queue_chat(calls(search), answer)
                else:
                    fake_openai.state.queue_chat(answer)
                question = "What are alice's hobbies?"
                if streamed:
                    got = "".join(alice.chat_stream(question, reasoning_level=level))
                else:
                    got = alice.chat(question, reasoning_level=level)
                assert got == answer, (mode, level, streamed)
                bodies = fake_openai.state.chat_bodies()[before:]
                first = bodies[0]
                assert "alice collects stamps" in prompt_of(first)
                limit = first.get("max_completion_tokens") or first.get("max_tokens")
                assert (limit == 250) == (level == "minimal"), (level, limit)
                if mode == "tools":
                    offered = {t["function"]["name"] for t in first["tools"]}
                    if level == "minimal":
                        assert offered == MINIMAL_TOOLS
                    else:
                        assert offered > MINIMAL_TOOLS and len(offered) >= 5
                    assert len(bodies) == 2  # the tool's round, then the answer
                    assert "search_memory" in json.dumps(bodies[1]["messages"])
                else:
                    assert "tools" not in bodies[-1]
                    if (level, streamed) != ("minimal", False):  # the refusal is remembered
                        assert all("tools" not in b for b in bodies)
