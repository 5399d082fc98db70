"""Semantic search through the official SDK, against a real server that embeds messages (the
default set-up, no keys): hybrid message search, conclusion query, representation share."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from honcho import Honcho
from honcho.http.exceptions import UnprocessableEntityError

DOG = "I adopted a golden retriever last spring."
UNRELATED = [
    "The quarterly budget review is scheduled for Thursday.",
    "Please remember to water the tomatoes in the greenhouse.",
    "My laptop battery drains really fast lately.",
]
PETS = "what pets does she have"
DOG_FACT = "Alice has a golden retriever named Max."


@pytest.fixture
def honcho(semantic_server: str, ws: str) -> Honcho:
    return Honcho(base_url=semantic_server, workspace_id=ws, max_retries=0)


def _eventually(ready: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll ``ready`` until it holds. The server's queue is shared with every other test (and
    embedding runs at bulk priority, after derivation), so waiting on the queue as a whole
    could take long: each fixture waits for its own rows to become searchable instead."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def messages(honcho: Honcho) -> dict[str, str]:
    """``DOG`` by alice in "home", unrelated messages by bob there and in "work"; embedded."""
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    home = honcho.session("home").add_messages([alice.message(DOG), bob.message(UNRELATED[0])])
    work = honcho.session("work").add_messages([bob.message(c) for c in UNRELATED[1:]])
    # No word of PETS (the rest are stop words) occurs in any message: only embedded messages
    # can be found, so the count tells how many are embedded so far.
    _eventually(lambda: len(honcho.search(PETS)) == 4, "the 4 messages to be embedded")
    return {m.content: m.id for m in home + work}


def test_search_finds_a_message_by_meaning(honcho: Honcho, messages: dict[str, str]) -> None:
    """Acceptance: no word of the query occurs in the message."""
    found = honcho.search(PETS)
    assert found[0].id == messages[DOG] and found[0].content == DOG
    assert found[0].peer_id == "alice" and found[0].session_id == "home"
    assert honcho.search(PETS, limit=1)[0].content == DOG


def test_session_and_peer_search_by_meaning(honcho: Honcho, messages: dict[str, str]) -> None:
    assert honcho.session("home").search(PETS)[0].content == DOG
    assert DOG not in [m.content for m in honcho.session("work").search(PETS)]
    assert [m.content for m in honcho.peer("alice").search(PETS)] == [DOG]
    assert DOG not in [m.content for m in honcho.peer("bob").search(PETS)]
    assert DOG not in [m.content for m in honcho.search(PETS, filters={"peer_id": "bob"})]


def test_keywords_still_rank_exact_matches_first(honcho: Honcho, messages: dict[str, str]) -> None:
    assert honcho.search("tomatoes")[0].content == UNRELATED[1]
    assert honcho.search("golden retriever")[0].content == DOG


def test_over_long_query_is_rejected(honcho: Honcho, messages: dict[str, str]) -> None:
    with pytest.raises(UnprocessableEntityError, match="Query exceeds maximum token limit"):
        honcho.search("pets " * 300)


async def test_async_search_by_meaning(honcho: Honcho, messages: dict[str, str]) -> None:
    found = await honcho.aio.search(PETS)
    assert found[0].content == DOG


@pytest.fixture
def facts(honcho: Honcho) -> None:
    """alice's oldest fact about herself is ``DOG_FACT``; newer unrelated facts follow."""
    alice = honcho.peer("alice")
    honcho.peer("bob")
    alice.conclusions.create([{"content": DOG_FACT}])
    alice.conclusions.create(
        [
            {"content": "Alice works night shifts as a nurse."},
            {"content": "Alice loves hiking in the mountains."},
            {"content": "Alice's favourite food is sushi."},
            {"content": "Alice is learning to play chess."},
        ]
    )
    alice.conclusions_of("bob").create([{"content": "Bob owns a tabby cat."}])
    _eventually(  # only embedded conclusions can be found
        lambda: (
            len(alice.conclusions.query(PETS)) == 5
            and len(alice.conclusions_of("bob").query(PETS)) == 1
        ),
        "the 6 conclusions to be embedded",
    )


def test_conclusions_query(honcho: Honcho, facts: None) -> None:
    alice = honcho.peer("alice")
    found = alice.conclusions.query(PETS)
    assert found[0].content == DOG_FACT and len(found) == 5
    assert all(c.observer_id == c.observed_id == "alice" for c in found)
    assert [c.content for c in alice.conclusions.query(PETS, top_k=1)] == [DOG_FACT]
    assert alice.conclusions.query(PETS, distance=0.0) == []
    assert alice.conclusions.query(PETS, filters={"level": "deductive"}) == []
    assert [c.content for c in alice.conclusions_of("bob").query(PETS)] == ["Bob owns a tabby cat."]


async def test_async_conclusions_query(honcho: Honcho, facts: None) -> None:
    found = await honcho.peer("alice").conclusions.aio.query(PETS, top_k=2)
    assert len(found) == 2 and found[0].content == DOG_FACT


def test_representation_and_context_semantic_share(honcho: Honcho, facts: None) -> None:
    alice = honcho.peer("alice")
    assert DOG_FACT not in alice.representation(max_conclusions=2)
    shared = alice.representation(search_query=PETS, search_top_k=1, max_conclusions=2)
    assert DOG_FACT in shared
    context = alice.context(search_query=PETS, search_top_k=1, max_conclusions=2)
    assert DOG_FACT in (context.representation or "")
    session = honcho.session("home")
    session.add_peers([alice])
    ctx = session.context(peer_target="alice", search_query=PETS, search_top_k=1)
    assert DOG_FACT in (ctx.peer_representation or "")
