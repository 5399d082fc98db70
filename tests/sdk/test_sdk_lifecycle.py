"""Session clone, session delete and workspace delete through the SDK.

Deletion hides a session at once and purges it in a background job (the server's embedded
worker). Tests that check what a hidden-but-not-yet-purged session looks like hold the purge
back with a row lock on one of the session's conclusions (the purge deletes them first); tests
that need the purge poll for it with a short deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from honcho import ConflictError, Honcho, Message, NotFoundError, Session
from honcho.api_types import SessionConfiguration, SessionPeerConfig, SummaryConfiguration
from sqlalchemy import text

from honcho_server.db.engine import create_engine, create_session_factory
from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work
from honcho_server.settings import Settings

NANOID = re.compile(r"^[A-Za-z0-9_-]{21}$")
PURGE_DEADLINE = 15.0
CUSTOM_TIME = datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)


async def _seed_short_summary(settings: Settings, ws: str, session: str, message: Message) -> None:
    """Store a short summary as the deriver would."""
    assert settings.database_url is not None
    engine = create_engine(settings, settings.database_url)
    try:
        async with unit_of_work(create_session_factory(engine)) as db:
            internal = await db.scalar(
                text("SELECT id FROM messages WHERE public_id = :p"), {"p": message.id}
            )
            await SummaryRepository(db).save(
                ws,
                session,
                "short",
                content="The story so far.",
                message_id=int(internal),
                message_public_id=message.id,
                token_count=5,
            )
    finally:
        await engine.dispose()


@asynccontextmanager
async def _purge_on_hold(settings: Settings, ws: str, session: str) -> AsyncIterator[None]:
    """Hold back the session's purge job until the block exits.

    The purge deletes the session's conclusions before anything else it could block on (the
    session row, whose lock requests for the hidden session would then wait for), so a row lock
    on one of those conclusions parks the job harmlessly.
    """
    assert settings.database_url is not None
    engine = create_engine(settings, settings.database_url)
    try:
        async with engine.connect() as conn, conn.begin():
            locked = await conn.execute(
                text(
                    "SELECT id FROM conclusions WHERE workspace_name = :w AND session_name = :s "
                    "FOR UPDATE"
                ),
                {"w": ws, "s": session},
            )
            assert locked.all(), "the session needs a conclusion to hold its purge"
            yield
    finally:
        await engine.dispose()


def _source_session(honcho: Honcho) -> tuple[Session, list[Message]]:
    """A session with metadata, configuration, configured members (one of whom left)."""
    alice, bob, carol = honcho.peer("alice"), honcho.peer("bob"), honcho.peer("carol")
    session = honcho.session(
        "src",
        metadata={"topic": "cloning", "nested": {"n": 1}},
        configuration=SessionConfiguration(
            summary=SummaryConfiguration(messages_per_short_summary=15)
        ),
        peers=[
            (alice, SessionPeerConfig(observe_others=True)),
            (bob, SessionPeerConfig(observe_me=False)),
            carol,
        ],
    )
    created = session.add_messages(
        [
            alice.message("Hello Bob", metadata={"n": 0}),
            bob.message("Hi Alice, how was the weekend?"),
            alice.message("Back in 2021 we went hiking.", created_at=CUSTOM_TIME),
            carol.message("Count me in next time!", metadata={"n": 3, "tags": ["x"]}),
            bob.message("Deal."),
        ]
    )
    session.remove_peers(carol)
    return session, created


def _copy_of(original: Message, copy: Message, clone_id: str) -> None:
    assert copy.id != original.id and NANOID.match(copy.id), copy.id
    assert copy.session_id == clone_id
    assert (copy.peer_id, copy.content, copy.metadata) == (
        original.peer_id,
        original.content,
        original.metadata,
    )
    assert copy.token_count == original.token_count
    assert copy.created_at == original.created_at
    assert copy.workspace_id == original.workspace_id


# --- clone ------------------------------------------------------------------------------------


def test_clone_copies_session_messages_and_members(honcho: Honcho, ws: str) -> None:
    source, created = _source_session(honcho)
    before = datetime.now(UTC)
    clone = source.clone()
    assert isinstance(clone, Session)
    assert clone.id != "src" and NANOID.match(clone.id), clone.id
    assert clone.workspace_id == ws and clone.is_active is True
    assert clone.metadata == {"topic": "cloning", "nested": {"n": 1}}
    assert clone.configuration is not None
    assert clone.configuration.model_dump() == source.get_configuration().model_dump()
    assert clone.configuration.summary is not None
    assert clone.configuration.summary.messages_per_short_summary == 15
    assert clone.created_at is not None
    assert abs(clone.created_at - before) < timedelta(minutes=1)

    copies = list(clone.messages())
    assert len(copies) == len(created)
    for original, copy in zip(created, copies, strict=True):
        _copy_of(original, copy, clone.id)
    assert clone.get_message(copies[2].id).created_at == CUSTOM_TIME

    # Members and their configurations come along; the member who had left stays gone.
    assert sorted(p.id for p in clone.peers()) == ["alice", "bob"]
    assert clone.get_peer_configuration("alice") == source.get_peer_configuration("alice")
    assert clone.get_peer_configuration("bob") == SessionPeerConfig(observe_me=False)

    # Both are listed; the source is untouched; the clone lives on independently.
    assert sorted(s.id for s in honcho.sessions()) == sorted(["src", clone.id])
    assert clone.id in {s.id for s in honcho.peer("alice").sessions()}
    (extra,) = clone.add_messages([honcho.peer("alice").message("only in the clone")])
    assert [m.id for m in clone.messages()] == [*(m.id for m in copies), extra.id]
    assert [m.id for m in source.messages()] == [m.id for m in created]
    fetched = honcho.session(clone.id)
    assert fetched.metadata == clone.metadata and fetched.created_at == clone.created_at


def test_clone_up_to_a_message(honcho: Honcho) -> None:
    source, created = _source_session(honcho)
    clone = source.clone(message_id=created[2].id)
    copies = list(clone.messages())
    assert len(copies) == 3  # up to and including the given message
    for original, copy in zip(created[:3], copies, strict=True):
        _copy_of(original, copy, clone.id)
    assert sorted(p.id for p in clone.peers()) == ["alice", "bob"]

    first_only = source.clone(message_id=created[0].id)
    assert [m.content for m in first_only.messages()] == ["Hello Bob"]

    # A clone of a clone, cut at one of the clone's own messages.
    again = clone.clone(message_id=copies[1].id)
    assert [m.content for m in again.messages()] == [m.content for m in created[:2]]
    assert len({source.id, clone.id, first_only.id, again.id}) == 4


def test_clone_errors(honcho: Honcho) -> None:
    source, created = _source_session(honcho)
    other = honcho.session("other")
    (foreign,) = other.add_messages([honcho.peer("alice").message("elsewhere")])
    with pytest.raises(NotFoundError):
        source.clone(message_id=foreign.id)  # a message of another session
    with pytest.raises(NotFoundError):
        source.clone(message_id="AAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(NotFoundError):
        Session("never-created", honcho).clone()
    with pytest.raises(NotFoundError):
        Session("never-created", honcho).clone(message_id=created[0].id)
    assert sorted(s.id for s in honcho.sessions()) == ["other", "src"]  # nothing was created


async def test_clone_leaves_summaries_and_conclusions_behind(
    honcho: Honcho, settings: Settings, ws: str
) -> None:
    source, created = _source_session(honcho)
    await _seed_short_summary(settings, ws, "src", created[1])
    alice = honcho.peer("alice")
    alice.conclusions.create([{"content": "Alice hikes", "session_id": "src"}])
    assert source.summaries().short_summary is not None

    clone = await source.aio.clone()
    assert NANOID.match(clone.id) and clone.is_active is True
    summaries = clone.summaries()
    assert (summaries.id, summaries.short_summary, summaries.long_summary) == (clone.id, None, None)
    ctx = clone.context(tokens=10_000)
    assert ctx.summary is None
    assert [m.content for m in ctx.messages] == [m.content for m in created]
    assert list(alice.conclusions.list(session=clone)) == []
    assert [c.content for c in alice.conclusions.list(session=source)] == ["Alice hikes"]

    partial = await source.aio.clone(message_id=created[1].id)
    assert [m.content for m in partial.messages()] == [m.content for m in created[:2]]


# --- session delete ---------------------------------------------------------------------------


def _poll_recreate(honcho: Honcho, session_id: str) -> Session:
    """Get-or-create answers 404 while the deleted session awaits its purge; then it creates."""
    deadline = time.monotonic() + PURGE_DEADLINE
    while True:
        try:
            return honcho.session(session_id)
        except NotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def test_delete_session_hides_it_then_purges_it(
    honcho: Honcho, settings: Settings, ws: str
) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    doomed, kept = honcho.session("doomed"), honcho.session("kept")
    created = doomed.add_messages([alice.message("goodbye"), bob.message("so long")])
    kept_messages = kept.add_messages([alice.message("still here")])
    await _seed_short_summary(settings, ws, "doomed", created[0])
    in_doomed, in_kept, global_fact = alice.conclusions.create(
        [
            {"content": "said in doomed", "session_id": "doomed"},
            {"content": "said in kept", "session_id": "kept"},
            {"content": "workspace-level"},
        ]
    )

    async with _purge_on_hold(settings, ws, "doomed"):
        assert doomed.delete() is None

        # Hidden at once from every read of the session ...
        assert [s.id for s in honcho.sessions()] == ["kept"]
        assert list(doomed.messages()) == []
        with pytest.raises(NotFoundError):
            doomed.get_message(created[0].id)
        ctx = doomed.context(tokens=10_000)
        assert ctx.messages == [] and ctx.summary is None
        summaries = doomed.summaries()
        assert (summaries.short_summary, summaries.long_summary) == (None, None)
        # ... and from every write.
        with pytest.raises(NotFoundError):
            doomed.add_messages([alice.message("too late")])
        with pytest.raises(NotFoundError):
            doomed.clone()
        with pytest.raises(NotFoundError):
            doomed.delete()
        with pytest.raises(NotFoundError):
            honcho.session("doomed")  # get-or-create does not resurrect it

    # The other session and the peers are untouched.
    assert [m.id for m in kept.messages()] == [m.id for m in kept_messages]
    assert sorted(p.id for p in honcho.peers()) == ["alice", "bob"]

    # Once purged the name is free again: a brand-new, empty session.
    reborn = _poll_recreate(honcho, "doomed")
    assert reborn.is_active is True and list(reborn.messages()) == []
    assert reborn.summaries().short_summary is None
    assert reborn.peers() == []
    # Conclusions stamped with the deleted session went with it; the others remain.
    remaining = {c.id for c in alice.conclusions.list()}
    assert remaining == {in_kept.id, global_fact.id}
    assert in_doomed.id not in remaining


async def test_async_delete_session(honcho: Honcho) -> None:
    session = honcho.session("s1")
    session.add_messages([honcho.peer("alice").message("hi")])
    await session.aio.delete()
    assert [s.id for s in honcho.sessions()] == []
    with pytest.raises(NotFoundError):
        await session.aio.delete()
    with pytest.raises(NotFoundError):
        await session.aio.clone()


async def test_deleted_session_leaves_peer_session_lists(
    honcho: Honcho, settings: Settings, ws: str
) -> None:
    """A deleted session awaiting its purge reads as absent everywhere, `peer.sessions()` too."""
    alice = honcho.peer("alice")
    gone, kept = honcho.session("gone"), honcho.session("kept")
    gone.add_messages([alice.message("bye")])
    kept.add_messages([alice.message("hi")])
    alice.conclusions.create([{"content": "said before leaving", "session_id": "gone"}])
    async with _purge_on_hold(settings, ws, "gone"):
        gone.delete()
        assert [s.id for s in honcho.sessions()] == ["kept"]
        assert [s.id for s in alice.sessions()] == ["kept"]


# --- workspace delete -------------------------------------------------------------------------


def _poll_until_recreated(make_client: Callable[[str], Honcho], ws: str) -> Honcho:
    """Get-or-create answers 409 while the deleted workspace awaits its purge."""
    deadline = time.monotonic() + PURGE_DEADLINE
    while True:
        client = make_client(ws)
        try:
            client.get_metadata()
            return client
        except ConflictError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_delete_workspace(honcho: Honcho, make_client: Callable[[str], Honcho], ws: str) -> None:
    alice = honcho.peer("alice")
    honcho.set_metadata({"doomed": True})
    first, second = honcho.session("first"), honcho.session("second")
    first.add_messages([alice.message("one"), honcho.peer("bob").message("two")])
    second.add_messages([alice.message("three")])
    alice.conclusions.create([{"content": "Alice exists", "session_id": "first"}])
    alice.conclusions_of("bob").create([{"content": "Bob exists"}])
    alice.set_card(["IDENTITY: Alice"])
    observer = make_client(f"{ws}-observer")  # a bystander client for admin listings

    # Active sessions block the delete; nothing is touched.
    with pytest.raises(ConflictError):
        honcho.delete_workspace(ws)
    first.delete()
    with pytest.raises(ConflictError):
        honcho.delete_workspace(ws)
    assert [m.content for m in second.messages()] == ["three"]
    assert list(observer.workspaces(filters={"id": ws})) == [ws]

    second.delete()
    assert honcho.delete_workspace(ws) is None
    # Hidden from the workspace listing at once; a second delete finds nothing.
    assert list(observer.workspaces(filters={"id": ws})) == []
    with pytest.raises(NotFoundError):
        honcho.delete_workspace(ws)

    # After the purge the id can be used again, and it starts from scratch.
    fresh = _poll_until_recreated(make_client, ws)
    assert fresh.get_metadata() == {}
    assert list(fresh.peers()) == []
    assert list(fresh.sessions()) == []
    assert list(fresh.conclusions.list()) == []
    assert list(observer.workspaces(filters={"id": ws})) == [ws]


def test_delete_unknown_workspace(honcho: Honcho, ws: str) -> None:
    with pytest.raises(NotFoundError):
        honcho.delete_workspace(f"{ws}-missing")


async def test_async_delete_workspace(make_client: Callable[[str], Honcho], ws: str) -> None:
    client = make_client(ws)
    await client.aio.peer("alice")  # a workspace without sessions can go at once
    assert await client.aio.delete_workspace(ws) is None
    with pytest.raises(NotFoundError):
        await client.aio.delete_workspace(ws)
    busy = make_client(f"{ws}-busy")
    await busy.aio.session("s1")
    with pytest.raises(ConflictError):
        await busy.aio.delete_workspace(f"{ws}-busy")
