"""The SDK's async surface (``honcho.aio`` / ``peer.aio`` / ``session.aio``) on the live server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from honcho import AsyncPage, Honcho, Message, NotFoundError, UnprocessableEntityError
from honcho.api_types import (
    MessageCreateParams,
    PeerConfig,
    ReasoningConfiguration,
    SessionConfiguration,
    SessionPeerConfig,
    SummaryConfiguration,
    WorkspaceConfiguration,
)


async def test_async_conversation_flow(honcho: Honcho, ws: str) -> None:
    aio = honcho.aio
    alice = await aio.peer("alice", metadata={"role": "user"})
    assistant = await aio.peer("assistant", configuration=PeerConfig(observe_me=False))
    assert alice.metadata == {"role": "user"} and alice.workspace_id == ws
    assert assistant.configuration == PeerConfig(observe_me=False)

    session = await aio.session(
        "async-chat",
        metadata={"channel": "web"},
        peers=[alice, (assistant, SessionPeerConfig(observe_others=True))],
    )
    assert session.is_active is True and session.metadata == {"channel": "web"}

    created = await session.aio.add_messages(
        [
            alice.message("What's the weather like today?", metadata={"turn": 1}),
            assistant.message("It's sunny!", created_at=datetime(2024, 7, 4, 9, 0, tzinfo=UTC)),
        ]
    )
    assert [type(m) for m in created] == [Message, Message]
    assert [m.peer_id for m in created] == ["alice", "assistant"]
    assert created[1].created_at == datetime(2024, 7, 4, 9, 0, tzinfo=UTC)
    assert created[1].token_count > 0

    page = await session.aio.messages()
    assert isinstance(page, AsyncPage)
    assert [m.content async for m in page] == ["What's the weather like today?", "It's sunny!"]
    only_alice = await session.aio.messages(filters={"peer_id": "alice"})
    assert [m.id async for m in only_alice] == [created[0].id]

    fetched = await session.aio.get_message(created[0].id)
    assert fetched.content == "What's the weather like today?" and fetched.metadata == {"turn": 1}
    updated = await session.aio.update_message(created[0], {"turn": 1, "reviewed": True})
    assert updated.metadata == {"turn": 1, "reviewed": True}
    assert (await session.aio.get_message(created[0].id)).metadata == {
        "turn": 1,
        "reviewed": True,
    }

    assert sorted(p.id for p in await session.aio.peers()) == ["alice", "assistant"]
    assert await session.aio.get_peer_configuration(assistant) == SessionPeerConfig(
        observe_others=True
    )
    await session.aio.set_peer_configuration("alice", SessionPeerConfig(observe_me=False))
    assert await session.aio.get_peer_configuration("alice") == SessionPeerConfig(observe_me=False)

    assert [s.id async for s in await alice.aio.sessions()] == ["async-chat"]
    assert [s.id async for s in await aio.sessions(filters={"metadata": {"channel": "web"}})] == [
        "async-chat"
    ]

    with pytest.raises(NotFoundError):
        await session.aio.get_message("AAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(UnprocessableEntityError):
        await aio.peer("bad id!")


async def test_async_metadata_and_configuration(honcho: Honcho) -> None:
    aio = honcho.aio
    await aio.set_metadata({"env": "test"})
    assert await aio.get_metadata() == {"env": "test"}
    await aio.set_configuration(
        WorkspaceConfiguration(reasoning=ReasoningConfiguration(enabled=False))
    )
    await aio.set_configuration(WorkspaceConfiguration(summary=SummaryConfiguration(enabled=True)))
    config = await aio.get_configuration()
    assert config.reasoning == ReasoningConfiguration(enabled=False)
    assert config.summary == SummaryConfiguration(enabled=True)

    peer = await aio.peer("alice")
    await peer.aio.set_metadata({"a": 1})
    assert await peer.aio.get_metadata() == {"a": 1}
    await peer.aio.set_configuration(PeerConfig(observe_me=False))
    assert await peer.aio.get_configuration() == PeerConfig(observe_me=False)

    session = await aio.session("s1")
    await session.aio.set_metadata({"b": 2})
    await session.aio.set_configuration(
        SessionConfiguration(reasoning=ReasoningConfiguration(custom_instructions="hi"))
    )
    await session.aio.set_configuration(
        SessionConfiguration(summary=SummaryConfiguration(enabled=False))
    )
    assert await session.aio.get_metadata() == {"b": 2}
    session_config = await session.aio.get_configuration()
    assert session_config.reasoning == ReasoningConfiguration(custom_instructions="hi")
    assert session_config.summary == SummaryConfiguration(enabled=False)

    # The sync view of the same objects sees what the async calls wrote.
    assert honcho.get_metadata() == {"env": "test"}
    assert honcho.peer("alice").get_metadata() == {"a": 1}


async def test_async_membership_changes(honcho: Honcho) -> None:
    session = await honcho.aio.session("s1", peers=["alice", "bob", "carol"])
    await session.aio.remove_peers("alice")
    assert sorted(p.id for p in await session.aio.peers()) == ["bob", "carol"]
    await session.aio.set_peers([("dave", SessionPeerConfig(observe_me=False)), "bob"])
    assert sorted(p.id for p in await session.aio.peers()) == ["bob", "dave"]
    await session.aio.add_peers("erin")
    assert sorted(p.id for p in await session.aio.peers()) == ["bob", "dave", "erin"]
    assert await session.aio.get_peer_configuration("dave") == SessionPeerConfig(observe_me=False)


async def test_async_pagination_across_pages(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    session = await honcho.aio.session("bulk")
    alice = await honcho.aio.peer("alice")
    await session.aio.add_messages([alice.message(f"m{i:03d}") for i in range(100)])
    await session.aio.add_messages([alice.message(f"m{i:03d}") for i in range(100, 120)])
    page = await session.aio.messages(size=50)
    assert (page.total, page.pages, len(page)) == (120, 3, 50)
    assert [m.content async for m in page] == [f"m{i:03d}" for i in range(120)]
    assert [m.content async for m in await session.aio.messages(reverse=True, size=100)] == [
        f"m{i:03d}" for i in reversed(range(120))
    ]

    await session.aio.add_peers([f"p{i:02d}" for i in range(60)])
    peers = await honcho.aio.peers(size=25)
    assert peers.total == 61 and peers.pages == 3
    assert sorted([p.id async for p in peers]) == sorted(
        ["alice", *[f"p{i:02d}" for i in range(60)]]
    )

    await honcho.aio.set_metadata({"marker": ws})
    assert [w async for w in await honcho.aio.workspaces(filters={"metadata": {"marker": ws}})] == [
        ws
    ]


async def test_concurrent_writes_succeed(honcho: Honcho) -> None:
    aio = honcho.aio
    # Racing get-or-creates of one peer and one session all succeed and agree.
    peers = await asyncio.gather(*(aio.peer("racer") for _ in range(8)))
    assert {p.created_at for p in peers} == {peers[0].created_at}
    sessions = await asyncio.gather(*(aio.session("arena") for _ in range(8)))
    assert {s.created_at for s in sessions} == {sessions[0].created_at}
    assert [p.id async for p in await aio.peers()] == ["racer"]

    # Concurrent batches into one session keep every message, each batch contiguous.
    session = sessions[0]
    batches = [
        [MessageCreateParams(peer_id=f"writer-{b}", content=f"{b}:{i}") for i in range(20)]
        for b in range(5)
    ]
    results = await asyncio.gather(*(session.aio.add_messages(batch) for batch in batches))
    assert [len(r) for r in results] == [20] * 5
    listed = [m.content async for m in await session.aio.messages(size=100)]
    assert sorted(listed) == sorted(f"{b}:{i}" for b in range(5) for i in range(20))
    for b in range(5):
        positions = [listed.index(f"{b}:{i}") for i in range(20)]
        assert positions == list(range(positions[0], positions[0] + 20))
    assert sorted(p.id for p in await session.aio.peers()) == [f"writer-{b}" for b in range(5)]
