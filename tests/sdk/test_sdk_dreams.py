"""Dreams through the official Python SDK: ``honcho.schedule_dream`` against a live server,
and a whole dream run by a server whose LLM is the fake OpenAI server."""

from __future__ import annotations

import json
import time

import pytest
from honcho import Honcho, NotFoundError

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer
from sdk.test_sdk_deriver import deriver_server  # noqa: F401 - fixture


def test_schedule_dream_queues_one_dream_per_collection(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session = honcho.session("s")
    session.add_peers([alice, bob])
    assert honcho.schedule_dream(alice) is None
    honcho.schedule_dream("alice", session=session, observed=bob)
    honcho.schedule_dream(alice)  # already waiting: nothing more
    # no LLM on this server: the dreams wait in the queue, counted by queue status
    status = honcho.queue_status(observer=alice)
    assert status.total_work_units == 2
    assert status.completed_work_units == 0
    assert honcho.queue_status(observer=alice, sender=bob).total_work_units == 1
    with pytest.raises(NotFoundError):
        honcho.schedule_dream("ghost")
    with pytest.raises(NotFoundError):
        honcho.schedule_dream(alice, session="no-such-session")


def test_a_scheduled_dream_adds_a_pattern_seen_through_the_sdk(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    honcho = Honcho(base_url=deriver_server, workspace_id="w", max_retries=0)
    alice = honcho.peer("alice")
    alice.conclusions.create(
        [{"content": "alice runs every morning"}, {"content": "alice swims at weekends"}]
    )
    fake_openai.state.queue_chat(
        json.dumps({"deductions": [], "duplicates": [], "updates": [], "contradictions": []}),
        json.dumps(
            {
                "patterns": [
                    {
                        "pattern": "alice exercises most days",
                        "pattern_type": "habit",
                        "confidence": "high",
                        "sources": ["c1", "c2"],
                    }
                ]
            }
        ),
    )
    honcho.schedule_dream(alice)
    deadline = time.monotonic() + 30
    while "inductive" not in {c.level for c in alice.conclusions.list()}:
        assert time.monotonic() < deadline, "the dream did not finish in time"
        time.sleep(0.2)
    assert len(fake_openai.state.requests_to(CHAT)) == 2
    text = alice.representation()
    assert " **Pattern** [high]: alice exercises most days" in text
    assert "   - alice runs every morning" in text
    status = honcho.queue_status(observer=alice)
    assert status.completed_work_units == 1 and status.pending_work_units == 0
