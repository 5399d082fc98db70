"""Message search through the official SDK: workspace, session and peer search."""

from __future__ import annotations

import pytest
from honcho import Honcho, Message
from honcho.http.exceptions import UnprocessableEntityError


@pytest.fixture
def ids(honcho: Honcho) -> dict[str, str]:
    """Messages in two sessions; returns content -> id."""
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    trip = honcho.session("trip").add_messages(
        [
            alice.message("We went hiking in the Alps.", metadata={"day": 1}),
            bob.message("The hike took four hours!", metadata={"day": 2}),
            alice.message("What's your favourite food?"),
        ]
    )
    shop = honcho.session("shop").add_messages(
        [
            bob.message("Order ORD-1234 has shipped."),
            alice.message("My favourite food is sushi."),
        ]
    )
    return {m.content: m.id for m in trip + shop}


def test_workspace_search(honcho: Honcho, ids: dict[str, str]) -> None:
    found = honcho.search("hiking")
    assert all(isinstance(m, Message) for m in found)
    assert {m.id for m in found} == {
        ids["We went hiking in the Alps."],
        ids["The hike took four hours!"],
    }
    assert {m.session_id for m in found} == {"trip"}
    assert [m.id for m in honcho.search("ORD-1234")] == [ids["Order ORD-1234 has shipped."]]
    top = honcho.search("Which is Alice's favourite food?", limit=2)
    assert {m.id for m in top} == {
        ids["My favourite food is sushi."],
        ids["What's your favourite food?"],
    }


def test_workspace_search_with_filters_and_limit(honcho: Honcho, ids: dict[str, str]) -> None:
    found = honcho.search("hike", filters={"metadata": {"day": 2}})
    assert [m.id for m in found] == [ids["The hike took four hours!"]]
    assert len(honcho.search("food", limit=1)) == 1
    assert honcho.search("hiking", filters={"peer_id": "nobody"}) == []
    with pytest.raises(UnprocessableEntityError):
        honcho.search("hiking", filters={"bogus": 1})


def test_session_search(honcho: Honcho, ids: dict[str, str]) -> None:
    found = honcho.session("shop").search("favourite food")
    assert [m.id for m in found] == [ids["My favourite food is sushi."]]
    assert all(isinstance(m, Message) for m in found)
    widened = honcho.session("shop").search("hiking", filters={"session_id": "trip"})
    assert widened == []
    assert honcho.session("elsewhere").search("hiking") == []


def test_peer_search(honcho: Honcho, ids: dict[str, str]) -> None:
    found = honcho.peer("bob").search("hiking")
    assert [m.id for m in found] == [ids["The hike took four hours!"]]
    assert all(isinstance(m, Message) and m.peer_id == "bob" for m in found)
    food = honcho.peer("alice").search("food", filters={"session_id": "trip"})
    assert [m.id for m in food] == [ids["What's your favourite food?"]]


def test_scope_with_no_members_finds_nothing(honcho: Honcho, ids: dict[str, str]) -> None:
    assert honcho.search("hiking", scope="empty-scope") == []
