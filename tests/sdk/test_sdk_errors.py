"""Error behaviour a user sees through the SDK: typed exceptions with the right status."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from honcho import (
    APIError,
    BadRequestError,
    Honcho,
    HonchoError,
    NotFoundError,
    Session,
    UnprocessableEntityError,
)
from honcho.api_types import (
    MessageCreateParams,
    SessionConfiguration,
    SessionPeerConfig,
    SummaryConfiguration,
)


def test_missing_message_raises_not_found(honcho: Honcho) -> None:
    session = honcho.session("chat")
    session.add_messages(MessageCreateParams(peer_id="alice", content="exists"))
    with pytest.raises(NotFoundError) as info:
        session.get_message("AAAAAAAAAAAAAAAAAAAAA")
    assert info.value.status == 404
    assert isinstance(info.value, APIError) and isinstance(info.value, HonchoError)

    with pytest.raises(NotFoundError):
        session.update_message("AAAAAAAAAAAAAAAAAAAAA", {"k": "v"})


def test_message_of_another_session_is_not_found(honcho: Honcho) -> None:
    [message] = honcho.session("one").add_messages(
        MessageCreateParams(peer_id="alice", content="in one")
    )
    other = honcho.session("two")
    with pytest.raises(NotFoundError):
        other.get_message(message.id)
    with pytest.raises(NotFoundError):
        other.update_message(message.id, {"hijacked": True})
    assert honcho.session("one").get_message(message.id).metadata == {}


def test_message_in_another_workspace_is_not_found(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    [message] = honcho.session("chat").add_messages(
        MessageCreateParams(peer_id="alice", content="private")
    )
    stranger = make_client(f"{ws}-other")
    with pytest.raises(NotFoundError):
        stranger.session("chat").get_message(message.id)


@pytest.mark.parametrize("bad_id", ["bad id!", "has.dot", "x" * 513, "ünïcode"])
def test_invalid_peer_id_is_unprocessable(honcho: Honcho, bad_id: str) -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        honcho.peer(bad_id)
    assert info.value.status == 422
    assert list(honcho.peers()) == []


def test_invalid_session_id_is_unprocessable(honcho: Honcho) -> None:
    with pytest.raises(UnprocessableEntityError):
        honcho.session("bad id!")
    assert list(honcho.sessions()) == []


def test_invalid_workspace_id_is_unprocessable(make_client: Callable[[str], Honcho]) -> None:
    client = make_client("bad workspace!")
    with pytest.raises(UnprocessableEntityError):
        client.peer("alice")
    with pytest.raises(UnprocessableEntityError):
        client.get_metadata()


def test_invalid_implicit_peer_ids_are_unprocessable(honcho: Honcho) -> None:
    session = honcho.session("chat")
    with pytest.raises(UnprocessableEntityError):
        session.add_messages(
            [
                MessageCreateParams(peer_id="alice", content="fine"),
                MessageCreateParams(peer_id="bad id!", content="not fine"),
            ]
        )
    # The whole batch is rejected.
    assert list(session.messages()) == []

    with pytest.raises(UnprocessableEntityError):
        session.add_peers(["ok-peer", "bad id!"])
    with pytest.raises(UnprocessableEntityError):
        honcho.session("other", peers=["bad id!"])
    assert "bad id!" not in [p.id for p in honcho.peers()]


def test_more_than_100_messages_in_one_call(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("bulk")
    # The SDK sends the list as one request (it does not split batches); the server
    # rejects batches over 100 and stores nothing.
    with pytest.raises(UnprocessableEntityError) as info:
        session.add_messages([alice.message(f"m{i}") for i in range(101)])
    assert info.value.status == 422
    assert session.messages().total == 0

    assert len(session.add_messages([alice.message(f"m{i}") for i in range(100)])) == 100
    assert session.messages().total == 100


def test_empty_message_list_is_unprocessable(honcho: Honcho) -> None:
    session = honcho.session("chat")
    with pytest.raises(UnprocessableEntityError):
        session.add_messages([])


def test_oversized_message_content_is_unprocessable(honcho: Honcho) -> None:
    session = honcho.session("chat")
    with pytest.raises(UnprocessableEntityError):
        session.add_messages(MessageCreateParams(peer_id="alice", content="x" * 25_001))
    [ok] = session.add_messages(MessageCreateParams(peer_id="alice", content="x" * 25_000))
    assert len(ok.content) == 25_000


def test_metadata_limits_are_unprocessable(honcho: Honcho) -> None:
    too_deep: dict[str, object] = {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": 1}}}}}}
    with pytest.raises(UnprocessableEntityError):
        honcho.peer("alice", metadata=too_deep)
    with pytest.raises(UnprocessableEntityError):
        honcho.session("s1").set_metadata({f"k{i}": i for i in range(101)})
    # At the limits it is accepted.
    ok_deep: dict[str, object] = {"l1": {"l2": {"l3": {"l4": {"l5": 1}}}}}
    assert honcho.peer("bob", metadata=ok_deep).metadata == ok_deep
    wide = {f"k{i}": i for i in range(100)}
    honcho.session("s1").set_metadata(wide)
    assert honcho.session("s1").get_metadata() == wide


@pytest.mark.parametrize(
    "filters",
    [
        {"content": "hello"},  # not filterable on messages
        {"id": "abc"},  # not filterable on messages
        {"nonsense": 1},
        {"created_at": {"gte": "not a date"}},
        {"peer_id": {"bogus_op": "x"}},
        {"OR": {"peer_id": "alice"}},  # logical operators take arrays
        {"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"peer_id": "alice"}]}]}]}]}]}]},
    ],
)
def test_invalid_message_filters_are_unprocessable(
    honcho: Honcho, filters: dict[str, object]
) -> None:
    session = honcho.session("chat")
    session.add_messages(MessageCreateParams(peer_id="alice", content="hello"))
    with pytest.raises(UnprocessableEntityError):
        session.messages(filters=filters)


def test_invalid_list_filters_are_unprocessable(honcho: Honcho) -> None:
    honcho.peer("alice")
    with pytest.raises(UnprocessableEntityError):
        honcho.peers(filters={"peer_id": "alice"})
    with pytest.raises(UnprocessableEntityError):
        honcho.sessions(filters={"is_active": "true"})
    with pytest.raises(UnprocessableEntityError):
        honcho.workspaces(filters={"metadata": "not-an-object"})


def test_out_of_range_page_size_is_unprocessable(honcho: Honcho) -> None:
    with pytest.raises(UnprocessableEntityError):
        honcho.peers(size=101)
    with pytest.raises(UnprocessableEntityError):
        honcho.sessions(page=0)
    with pytest.raises(UnprocessableEntityError):
        honcho.session("chat").messages(size=0)


def test_invalid_session_configuration_is_unprocessable(honcho: Honcho) -> None:
    with pytest.raises(UnprocessableEntityError):
        honcho.session(
            "s1",
            configuration=SessionConfiguration(
                summary=SummaryConfiguration(messages_per_short_summary=5)
            ),
        )
    session = honcho.session("s2")
    with pytest.raises(UnprocessableEntityError):
        session.set_configuration(
            SessionConfiguration(
                summary=SummaryConfiguration(
                    messages_per_short_summary=30, messages_per_long_summary=20
                )
            )
        )
    assert session.get_configuration().summary is None


def test_observer_limit_is_a_bad_request(honcho: Honcho) -> None:
    watchers = [(f"w{i}", SessionPeerConfig(observe_others=True)) for i in range(11)]
    with pytest.raises(BadRequestError) as info:
        honcho.session("crowded", peers=watchers)
    assert info.value.status == 400
    assert [s.id for s in honcho.sessions()] == []

    session = honcho.session("crowded", peers=watchers[:10])
    with pytest.raises(BadRequestError):
        session.add_peers([watchers[10]])
    assert len(session.peers()) == 10
    # Non-observers are not limited.
    session.add_peers([f"quiet{i}" for i in range(5)])
    assert len(session.peers()) == 15
    with pytest.raises(BadRequestError):
        session.set_peer_configuration("quiet0", SessionPeerConfig(observe_others=True))


def test_peer_configuration_of_non_member_is_not_found(honcho: Honcho) -> None:
    honcho.peer("outsider")
    session = honcho.session("s1", peers=["alice"])
    with pytest.raises(NotFoundError):
        session.get_peer_configuration("outsider")
    with pytest.raises(NotFoundError):
        session.get_peer_configuration("never-created")
    with pytest.raises(NotFoundError):
        session.set_peer_configuration("never-created", SessionPeerConfig(observe_me=False))
    # A session handle the server has never seen (constructing Session makes no request).
    ghost = Session("never-made", honcho)
    with pytest.raises(NotFoundError):
        ghost.set_peer_configuration("alice", SessionPeerConfig(observe_me=False))
    with pytest.raises(NotFoundError):
        ghost.get_peer_configuration("alice")
    assert [s.id for s in honcho.sessions()] == ["s1"]
