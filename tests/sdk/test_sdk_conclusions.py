"""Conclusions through the SDK: `peer.conclusions`, `peer.conclusions_of`, the workspace view."""

from __future__ import annotations

import pytest
from honcho import Conclusion, Honcho, NotFoundError, UnprocessableEntityError
from honcho.conclusions import ConclusionCreateParams


def _contents(conclusions: list[Conclusion]) -> list[str]:
    return sorted(c.content for c in conclusions)


def test_self_conclusions_create_list_get_delete(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("s1")
    created = alice.conclusions.create(
        [
            {"content": "Alice likes tea"},
            ConclusionCreateParams(content="Alice mentioned Paris", session_id=session.id),
        ]
    )
    assert [c.content for c in created] == ["Alice likes tea", "Alice mentioned Paris"]
    assert all(c.observer_id == "alice" and c.observed_id == "alice" for c in created)
    assert all(c.level == "explicit" and c.created_at.tzinfo is not None for c in created)
    assert [c.session_id for c in created] == [None, "s1"]

    page = alice.conclusions.list()
    assert page.total == 2 and _contents(page.items) == _contents(created)
    assert _contents(list(alice.conclusions.list(session=session))) == ["Alice mentioned Paris"]

    fetched = alice.conclusions.get(created[0].id)
    assert (fetched.id, fetched.content, fetched.session_id) == (
        created[0].id,
        "Alice likes tea",
        None,
    )

    alice.conclusions.delete(created[0].id)
    assert [c.id for c in alice.conclusions.list()] == [created[1].id]
    with pytest.raises(NotFoundError):
        alice.conclusions.get(created[0].id)
    with pytest.raises(NotFoundError):
        alice.conclusions.delete(created[0].id)


def test_conclusions_of_another_peer(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    about_bob = alice.conclusions_of(bob)
    created = about_bob.create([{"content": "Bob plays chess"}, {"content": "Bob is tall"}])
    assert all(c.observer_id == "alice" and c.observed_id == "bob" for c in created)
    alice.conclusions.create([{"content": "Alice herself"}])
    bob.conclusions_of("alice").create([{"content": "Bob about Alice"}])

    assert _contents(list(about_bob.list())) == ["Bob is tall", "Bob plays chess"]
    assert _contents(list(alice.conclusions.list())) == ["Alice herself"]
    assert _contents(list(bob.conclusions.list())) == []
    assert _contents(list(alice.conclusions_of("bob").list(filters={"level": "explicit"}))) == [
        "Bob is tall",
        "Bob plays chess",
    ]
    # a view only answers for its own pair
    assert about_bob.get(created[0].id).content == "Bob plays chess"
    with pytest.raises(NotFoundError):
        alice.conclusions.get(created[0].id)
    assert _contents(about_bob.get_many([c.id for c in created] + ["missing"])) == [
        "Bob is tall",
        "Bob plays chess",
    ]
    assert alice.conclusions.get_many([c.id for c in created]) == []

    about_bob.delete(created[1].id)
    assert _contents(list(about_bob.list())) == ["Bob plays chess"]


def test_workspace_conclusions_view(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    honcho.peer("bob")
    session = honcho.session("s1")
    alice.conclusions.create([{"content": "self"}])
    alice.conclusions_of("bob").create([{"content": "of bob", "session_id": session.id}])

    everything = honcho.conclusions.list()
    assert everything.total == 2
    assert _contents(list(honcho.conclusions.list(filters={"observed_id": "bob"}))) == ["of bob"]
    assert _contents(list(honcho.conclusions.list(filters={"session_id": "s1"}))) == ["of bob"]
    ids = [c.id for c in everything]
    assert _contents(honcho.conclusions.get_many(ids)) == ["of bob", "self"]
    assert honcho.conclusions.get(ids[0]).id == ids[0]
    with pytest.raises(NotFoundError):
        honcho.conclusions.get("missing")


def test_list_pagination_and_order(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    for i in range(3):  # separate requests: strictly increasing created_at
        alice.conclusions.create([{"content": f"c{i}"}])
    newest_first = [c.content for c in alice.conclusions.list()]
    assert newest_first == ["c2", "c1", "c0"]
    assert [c.content for c in alice.conclusions.list(reverse=True)] == ["c0", "c1", "c2"]
    first = alice.conclusions.list(size=2)
    assert [c.content for c in first.items] == ["c2", "c1"] and first.pages == 2
    assert [c.content for c in first] == ["c2", "c1", "c0"]  # iteration follows pages


def test_create_errors(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    with pytest.raises(NotFoundError):
        alice.conclusions_of("nobody").create([{"content": "x"}])
    with pytest.raises(NotFoundError):
        alice.conclusions.create([{"content": "x", "session_id": "no-such-session"}])
    with pytest.raises(UnprocessableEntityError):
        alice.conclusions.create([{"content": "x " * 9_000}])
    assert alice.conclusions.list().total == 0


async def test_async_conclusions(honcho: Honcho) -> None:
    alice = await honcho.aio.peer("alice")
    await honcho.aio.peer("bob")
    view = alice.conclusions_of("bob")
    created = await view.aio.create([{"content": "async fact"}])
    page = await view.aio.list()
    assert [c.id for c in page.items] == [created[0].id]
    assert (await view.aio.get(created[0].id)).content == "async fact"
    await view.aio.delete(created[0].id)
    assert (await view.aio.list()).total == 0
