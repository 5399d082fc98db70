"""Peer cards and session summaries through the SDK."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from honcho import Honcho, NotFoundError, Peer, UnprocessableEntityError
from sqlalchemy import text

from honcho_server.db.engine import create_engine, create_session_factory
from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work
from honcho_server.settings import Settings


def test_own_card_round_trip(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    assert alice.get_card() is None
    stored = alice.set_card(["IDENTITY: Alice", "ATTRIBUTE: likes tea"])
    assert stored == ["IDENTITY: Alice", "ATTRIBUTE: likes tea"]
    assert alice.get_card() == stored
    assert alice.set_card(["IDENTITY: Alice Smith"]) == ["IDENTITY: Alice Smith"]
    assert honcho.peer("alice").get_card() == ["IDENTITY: Alice Smith"]


def test_card_of_target(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    alice.set_card(["self"])
    assert alice.set_card(["RELATIONSHIP: friend"], target=bob) == ["RELATIONSHIP: friend"]
    assert alice.get_card(target="bob") == ["RELATIONSHIP: friend"]
    assert alice.get_card(target=bob) == ["RELATIONSHIP: friend"]
    assert alice.get_card() == ["self"]
    assert bob.get_card() is None
    assert bob.get_card(target=alice) is None
    assert alice.get_card(target="stranger") is None  # the target need not exist


def test_card_limits(honcho: Honcho) -> None:
    carol = honcho.peer("carol")
    with pytest.raises(UnprocessableEntityError):
        carol.set_card(["x" * 2_001])
    assert carol.get_card() is None  # nothing stored
    assert carol.set_card(["nul\x00 stripped"]) == ["nul stripped"]


def test_long_card_round_trip(honcho: Honcho) -> None:
    """No limit on the number of entries (upstream has none either): 500 entries go in and
    come back, in order, for a peer's own card and for its card of another peer."""
    carol, dave = honcho.peer("carol"), honcho.peer("dave")
    card = [f"ATTRIBUTE: fact number {i}" for i in range(500)]
    assert carol.set_card(card) == card
    assert carol.get_card() == card
    about_dave = [f"RELATIONSHIP: {i}" for i in range(500)]
    assert carol.set_card(about_dave, target=dave) == about_dave
    assert carol.get_card(target="dave") == about_dave
    assert carol.get_card() == card


def test_card_of_unknown_peer(honcho: Honcho) -> None:
    honcho.peer("someone")  # the workspace exists
    unknown = Peer("unknown-peer", honcho)  # built locally: the server has no such peer
    with pytest.raises(NotFoundError):
        unknown.get_card()
    assert unknown.set_card(["created by set_card"]) == ["created by set_card"]
    assert unknown.get_card() == ["created by set_card"]
    assert [p.id for p in honcho.peers()] == ["someone", "unknown-peer"]


# --- session summaries (written by the deriver; seeded straight into the database here) ------


async def _seed_short_summary(settings: Settings, ws: str, session: str, public_id: str) -> None:
    assert settings.database_url is not None
    engine = create_engine(settings, settings.database_url)
    try:
        async with unit_of_work(create_session_factory(engine)) as db:
            internal = await db.scalar(
                text("SELECT id FROM messages WHERE public_id = :p"), {"p": public_id}
            )
            await SummaryRepository(db).save(
                ws,
                session,
                "short",
                content="Alice greeted everyone.",
                message_id=int(internal),
                message_public_id=public_id,
                token_count=5,
                created_at=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
            )
    finally:
        await engine.dispose()


async def test_session_summaries(honcho: Honcho, settings: Settings, ws: str) -> None:
    # The sync SDK blocks this test's event loop, which is fine: the server is another process.
    alice = honcho.peer("alice")
    session = honcho.session("chat")
    empty = session.summaries()
    assert (empty.id, empty.short_summary, empty.long_summary) == ("chat", None, None)

    messages = session.add_messages([alice.message("hello everyone")])
    await _seed_short_summary(settings, ws, "chat", messages[0].id)
    summaries = session.summaries()
    assert summaries.id == "chat" and summaries.long_summary is None
    short = summaries.short_summary
    assert short is not None
    assert short.content == "Alice greeted everyone."
    assert short.message_id == messages[0].id
    assert short.summary_type == "honcho_chat_summary_short"
    assert short.created_at == "2025-06-01T12:00:00Z"
    assert short.token_count == 5
    assert (await session.aio.summaries()).short_summary == short
