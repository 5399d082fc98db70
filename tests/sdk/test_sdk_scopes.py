"""Scopes through the SDK: get-or-create, membership, listing, backfill status, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from honcho import Honcho, NotFoundError, Session
from honcho.api_types import MessageCreateParams


def _ids(sessions: list[Session]) -> list[str]:
    return [s.id for s in sessions]


def test_scope_flow(honcho: Honcho, make_client: Callable[[str], Honcho], ws: str) -> None:
    before = datetime.now(UTC)
    therapy = honcho.scope("therapy", metadata={"topic": "care"})
    assert therapy.id == "therapy" and therapy.workspace_id == ws
    assert therapy.metadata == {"topic": "care"}
    assert therapy.created_at is not None and abs(therapy.created_at - before) < timedelta(
        minutes=1
    )
    assert str(therapy) == "therapy"

    first = honcho.session("first")
    second = honcho.session("second")
    second.add_messages(MessageCreateParams(peer_id="alice", content="I feel stressed"))
    third = honcho.session("third")

    therapy.add_sessions([second])
    # second is already a member (a no-op); the two joining together keep session-age order
    therapy.add_sessions([third, first, "second"])
    assert _ids(list(therapy.sessions())) == ["second", "first", "third"]
    assert _ids(list(therapy.sessions(reverse=True))) == ["third", "first", "second"]
    page = therapy.sessions(page=1, size=2)
    assert page.total == 3 and page.pages == 2 and _ids(page.items) == ["second", "first"]
    assert _ids(list(therapy.sessions(size=2))) == ["second", "first", "third"]

    status = therapy.status()
    assert list(status) == ["second"]  # only a session with history had a backfill
    assert status["second"].state == "completed" and status["second"].docs_copied == 0
    assert status["second"].updated_at.tzinfo is not None

    therapy.remove_session(second)
    assert _ids(list(therapy.sessions())) == ["first", "third"]
    assert therapy.status() == {}

    # a fresh client sees the same scope, without creating it
    fetched = make_client(ws).get_scope("therapy")
    assert fetched.metadata == {"topic": "care"} and fetched.created_at == therapy.created_at
    # get-or-create with new metadata replaces it
    assert honcho.scope("therapy", metadata={"topic": "new"}).metadata == {"topic": "new"}


def test_list_scopes(honcho: Honcho) -> None:
    for name in ("b", "a", "c"):
        honcho.scope(name)
    assert [s.id for s in honcho.scopes()] == ["b", "a", "c"]
    assert [s.id for s in honcho.scopes(reverse=True)] == ["c", "a", "b"]
    page = honcho.scopes(size=2)
    assert page.total == 3 and [s.id for s in page.items] == ["b", "a"]
    assert [s.id for s in honcho.scopes(size=2)] == ["b", "a", "c"]
    assert all(s.metadata == {} and s.created_at is not None for s in honcho.scopes())


def test_scope_errors(honcho: Honcho) -> None:
    with pytest.raises(NotFoundError):
        honcho.get_scope("missing")
    scope = honcho.scope("sc")
    with pytest.raises(NotFoundError):
        scope.add_sessions(["no-such-session"])
    with pytest.raises(NotFoundError):
        scope.remove_session("no-such-session")
    with pytest.raises(ValueError):
        honcho.scope("scope.sc")  # the SDK refuses the reserved prefix itself


async def test_scope_async(honcho: Honcho) -> None:
    scope = await honcho.aio.scope("async-scope")
    await honcho.aio.session("s1", metadata={"k": 1})
    await scope.aio.add_sessions(["s1"])
    sessions = await scope.aio.sessions()
    assert [s.id for s in sessions.items] == ["s1"]
    assert await scope.aio.status() == {}
    await scope.aio.remove_session("s1")
    assert (await scope.aio.sessions()).items == []
    assert [s.id for s in (await honcho.aio.scopes()).items] == ["async-scope"]
    assert (await honcho.aio.get_scope("async-scope")).id == "async-scope"


def test_session_created_with_scopes(honcho: Honcho) -> None:
    honcho.session("s", scopes=["joined"])
    assert [s.id for s in honcho.get_scope("joined").sessions()] == ["s"]
