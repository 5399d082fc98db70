"""Sessions through the SDK: get-or-create, configuration merge, membership, listing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from honcho import Honcho, Peer, Session, SyncPage
from honcho.api_types import (
    DreamConfiguration,
    PeerCardConfiguration,
    ReasoningConfiguration,
    SessionConfiguration,
    SessionPeerConfig,
    SummaryConfiguration,
)


def _member_ids(session: Session) -> list[str]:
    return sorted(p.id for p in session.peers())


def test_session_created_with_metadata_configuration_and_peers(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    alice = honcho.peer("alice")
    config = SessionConfiguration(
        reasoning=ReasoningConfiguration(enabled=False, custom_instructions="Be brief."),
        summary=SummaryConfiguration(messages_per_short_summary=15),
    )
    before = datetime.now(UTC)
    session = honcho.session(
        "s1",
        metadata={"topic": "onboarding", "nested": {"depth": 2}},
        configuration=config,
        peers=[alice, ("bob", SessionPeerConfig(observe_others=True, observe_me=False))],
    )
    assert session.id == "s1" and session.workspace_id == ws
    assert session.is_active is True
    assert session.metadata == {"topic": "onboarding", "nested": {"depth": 2}}
    assert session.configuration is not None
    assert session.configuration.reasoning == ReasoningConfiguration(
        enabled=False, custom_instructions="Be brief."
    )
    assert session.configuration.summary == SummaryConfiguration(messages_per_short_summary=15)
    assert session.configuration.dream is None
    assert session.created_at is not None and session.created_at.tzinfo is not None
    assert abs(session.created_at - before) < timedelta(minutes=1)

    assert _member_ids(session) == ["alice", "bob"]
    assert session.get_peer_configuration("bob") == SessionPeerConfig(
        observe_others=True, observe_me=False
    )
    # Peers named only by id were created on the fly.
    assert sorted(p.id for p in honcho.peers()) == ["alice", "bob"]

    fresh = make_client(ws).session("s1")
    assert fresh.metadata == session.metadata
    assert fresh.get_configuration() == session.configuration
    assert fresh.created_at == session.created_at


def test_session_get_or_create_applies_metadata_and_merges_configuration(
    honcho: Honcho,
) -> None:
    first = honcho.session(
        "s1",
        metadata={"v": 1},
        configuration=SessionConfiguration(reasoning=ReasoningConfiguration(enabled=True)),
    )
    plain = honcho.session("s1")
    assert plain.metadata == {"v": 1}
    assert plain.created_at == first.created_at
    assert plain.configuration is not None
    assert plain.configuration.reasoning == ReasoningConfiguration(enabled=True)

    updated = honcho.session(
        "s1",
        metadata={"v": 2},
        configuration=SessionConfiguration(dream=DreamConfiguration(enabled=False)),
    )
    assert updated.metadata == {"v": 2}
    assert updated.configuration is not None
    assert updated.configuration.reasoning == ReasoningConfiguration(enabled=True)
    assert updated.configuration.dream == DreamConfiguration(enabled=False)


def test_session_metadata_round_trip_replaces(honcho: Honcho) -> None:
    session = honcho.session("s1", metadata={"a": 1, "b": 2})
    assert session.get_metadata() == {"a": 1, "b": 2}
    session.set_metadata({"c": [1, 2, 3], "d": None, "e": {"f": True}})
    assert honcho.session("s1").get_metadata() == {"c": [1, 2, 3], "d": None, "e": {"f": True}}
    session.set_metadata({})
    assert session.get_metadata() == {}


def test_session_configuration_shallow_merge(honcho: Honcho) -> None:
    session = honcho.session("s1")
    assert session.get_configuration() == SessionConfiguration()

    session.set_configuration(
        SessionConfiguration(
            reasoning=ReasoningConfiguration(enabled=True, custom_instructions="Focus on goals.")
        )
    )
    session.set_configuration(
        SessionConfiguration(
            summary=SummaryConfiguration(
                enabled=True, messages_per_short_summary=12, messages_per_long_summary=40
            )
        )
    )
    config = session.get_configuration()
    assert config.reasoning == ReasoningConfiguration(
        enabled=True, custom_instructions="Focus on goals."
    )
    assert config.summary == SummaryConfiguration(
        enabled=True, messages_per_short_summary=12, messages_per_long_summary=40
    )

    # Updating one top-level key replaces that key wholesale and keeps the others.
    session.set_configuration(SessionConfiguration(reasoning=ReasoningConfiguration(enabled=False)))
    config = session.get_configuration()
    assert config.reasoning == ReasoningConfiguration(enabled=False)
    assert config.summary == SummaryConfiguration(
        enabled=True, messages_per_short_summary=12, messages_per_long_summary=40
    )

    session.set_configuration(
        SessionConfiguration(
            peer_card=PeerCardConfiguration(use=False, create=False),
            custom_instructions="Top-level instructions",
        )
    )
    config = session.get_configuration()
    assert config.peer_card == PeerCardConfiguration(use=False, create=False)
    assert config.custom_instructions == "Top-level instructions"
    assert config.reasoning == ReasoningConfiguration(enabled=False)
    assert config.summary is not None and config.summary.messages_per_long_summary == 40

    # Metadata updates leave configuration alone.
    session.set_metadata({"x": 1})
    assert session.get_configuration() == config


def test_session_refresh(honcho: Honcho, make_client: Callable[[str], Honcho], ws: str) -> None:
    mine = honcho.session("s1", metadata={"v": "old"})
    make_client(ws).session("s1").set_metadata({"v": "new"})
    assert mine.metadata == {"v": "old"}
    mine.refresh()
    assert mine.metadata == {"v": "new"}
    assert mine.is_active is True


def test_add_peers_accepts_every_documented_shape(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("s1")
    session.add_peers("p-str")
    session.add_peers(alice)
    session.add_peers(("p-tuple", SessionPeerConfig(observe_others=True)))
    session.add_peers([honcho.peer("p-list-obj"), "p-list-str"])
    session.add_peers(
        [
            ("p-mixed-1", SessionPeerConfig(observe_me=False)),
            (honcho.peer("p-mixed-2"), SessionPeerConfig(observe_others=True, observe_me=True)),
            "p-mixed-3",
        ]
    )
    peers = session.peers()
    assert all(isinstance(p, Peer) for p in peers)
    assert _member_ids(session) == sorted(
        [
            "alice",
            "p-list-obj",
            "p-list-str",
            "p-mixed-1",
            "p-mixed-2",
            "p-mixed-3",
            "p-str",
            "p-tuple",
        ]
    )
    assert session.get_peer_configuration("p-tuple") == SessionPeerConfig(observe_others=True)
    assert session.get_peer_configuration("p-mixed-1") == SessionPeerConfig(observe_me=False)
    assert session.get_peer_configuration(honcho.peer("p-mixed-2")) == SessionPeerConfig(
        observe_others=True, observe_me=True
    )
    # Added without a config: nothing is set.
    assert session.get_peer_configuration(alice) == SessionPeerConfig()


def test_add_peers_keeps_config_of_existing_member(honcho: Honcho) -> None:
    session = honcho.session("s1", peers=[("alice", SessionPeerConfig(observe_me=False))])
    session.add_peers([("alice", SessionPeerConfig(observe_me=True, observe_others=True))])
    # Upstream: re-adding an active member keeps its stored configuration.
    assert session.get_peer_configuration("alice") == SessionPeerConfig(observe_me=False)


def test_set_peers_replaces_members_and_configs(honcho: Honcho) -> None:
    session = honcho.session(
        "s1",
        peers=["alice", "bob", ("carol", SessionPeerConfig(observe_me=False))],
    )
    session.set_peers(["bob", ("carol", SessionPeerConfig(observe_others=True)), "dave"])
    assert _member_ids(session) == ["bob", "carol", "dave"]
    # set_peers gives every listed peer exactly the given configuration.
    assert session.get_peer_configuration("carol") == SessionPeerConfig(observe_others=True)

    session.set_peers("erin")
    assert _member_ids(session) == ["erin"]
    session.set_peers([])
    assert session.peers() == []


def test_remove_peers(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("s1", peers=[alice, "bob", "carol", "dave"])
    session.set_peer_configuration(alice, SessionPeerConfig(observe_me=False))
    session.remove_peers([alice])
    assert _member_ids(session) == ["bob", "carol", "dave"]
    # A former member's configuration stays readable.
    assert session.get_peer_configuration(alice) == SessionPeerConfig(observe_me=False)
    session.remove_peers("bob")
    assert _member_ids(session) == ["carol", "dave"]
    session.remove_peers(["carol", "not-a-member"])  # unknown ids are ignored
    assert _member_ids(session) == ["dave"]
    # The peers themselves still exist.
    assert sorted(p.id for p in honcho.peers()) == ["alice", "bob", "carol", "dave"]

    # Re-adding a former member works and applies the new configuration.
    session.add_peers([(alice, SessionPeerConfig(observe_others=True))])
    assert _member_ids(session) == ["alice", "dave"]
    assert session.get_peer_configuration(alice) == SessionPeerConfig(observe_others=True)


def test_peer_configuration_get_and_set(honcho: Honcho) -> None:
    session = honcho.session("s1", peers=["alice"])
    assert session.get_peer_configuration("alice") == SessionPeerConfig()

    session.set_peer_configuration("alice", SessionPeerConfig(observe_others=True))
    assert session.get_peer_configuration("alice") == SessionPeerConfig(observe_others=True)

    # Only the fields given are changed.
    session.set_peer_configuration(honcho.peer("alice"), SessionPeerConfig(observe_me=False))
    assert session.get_peer_configuration("alice") == SessionPeerConfig(
        observe_others=True, observe_me=False
    )
    session.set_peer_configuration("alice", SessionPeerConfig(observe_others=False))
    assert session.get_peer_configuration("alice") == SessionPeerConfig(
        observe_others=False, observe_me=False
    )

    # Setting a configuration for an existing non-member peer makes it a member.
    honcho.peer("bob")
    session.set_peer_configuration("bob", SessionPeerConfig(observe_me=False))
    assert _member_ids(session) == ["alice", "bob"]
    assert session.get_peer_configuration("bob") == SessionPeerConfig(observe_me=False)


def test_sessions_listing_and_filters(honcho: Honcho) -> None:
    honcho.session("s-a", metadata={"channel": "web", "priority": 1})
    honcho.session("s-b", metadata={"channel": "sms", "priority": 5})
    honcho.session("s-c", metadata={"channel": "web", "priority": 9, "tags": ["vip", "new"]})
    honcho.session("s-d")

    listed = honcho.sessions()
    assert isinstance(listed, SyncPage)
    assert [s.id for s in listed] == ["s-a", "s-b", "s-c", "s-d"]
    assert listed.total == 4
    assert all(isinstance(s, Session) and s.is_active for s in listed)
    assert listed[2].metadata == {"channel": "web", "priority": 9, "tags": ["vip", "new"]}
    assert [s.id for s in honcho.sessions(reverse=True)] == ["s-d", "s-c", "s-b", "s-a"]

    def ids(filters: dict[str, object]) -> list[str]:
        return [s.id for s in honcho.sessions(filters=filters)]

    assert ids({"metadata": {"channel": "web"}}) == ["s-a", "s-c"]
    assert ids({"metadata": {"tags": ["vip"]}}) == ["s-c"]
    assert ids({"metadata": {"priority": {"gt": 1, "lt": 9}}}) == ["s-b"]
    assert ids({"id": {"in": ["s-b", "s-d"]}}) == ["s-b", "s-d"]
    assert ids({"OR": [{"id": "s-d"}, {"metadata": {"channel": "sms"}}]}) == ["s-b", "s-d"]
    assert ids({"AND": [{"metadata": {"channel": "web"}}, {"NOT": [{"id": "s-a"}]}]}) == ["s-c"]
    assert ids({"is_active": True}) == ["s-a", "s-b", "s-c", "s-d"]
    assert ids({"id": {"contains": "-C"}}) == ["s-c"]

    now = datetime.now(UTC)
    assert ids({"created_at": {"gte": (now - timedelta(hours=1)).isoformat()}}) == [
        "s-a",
        "s-b",
        "s-c",
        "s-d",
    ]
    assert ids({"created_at": {"gte": (now + timedelta(hours=1)).isoformat()}}) == []

    paged = honcho.sessions(size=3)
    assert (paged.total, paged.pages, len(paged)) == (4, 2, 3)
    assert [s.id for s in paged] == ["s-a", "s-b", "s-c", "s-d"]
    second = honcho.sessions(page=2, size=3)
    assert [s.id for s in second.items] == ["s-d"]


def test_sessions_listing_carries_configuration(honcho: Honcho) -> None:
    honcho.session(
        "s1",
        configuration=SessionConfiguration(reasoning=ReasoningConfiguration(enabled=False)),
    )
    [listed] = honcho.sessions().items
    assert listed.configuration is not None
    assert listed.configuration.reasoning == ReasoningConfiguration(enabled=False)


def test_session_get_or_create_with_peers_keeps_existing_member_config(honcho: Honcho) -> None:
    honcho.session("s1", peers=[("alice", SessionPeerConfig(observe_me=False))])
    again = honcho.session(
        "s1", peers=[("alice", SessionPeerConfig(observe_me=True)), ("bob", SessionPeerConfig())]
    )
    assert _member_ids(again) == ["alice", "bob"]
    assert again.get_peer_configuration("alice") == SessionPeerConfig(observe_me=False)


def test_author_rejoining_by_message_gets_default_config(honcho: Honcho) -> None:
    session = honcho.session("s1", peers=[("alice", SessionPeerConfig(observe_me=False))])
    session.remove_peers("alice")
    assert session.peers() == []
    session.add_messages(honcho.peer("alice").message("I'm back"))
    assert _member_ids(session) == ["alice"]
    assert session.get_peer_configuration("alice") == SessionPeerConfig()


def test_updating_a_never_fetched_session_creates_it(honcho: Honcho) -> None:
    ghost = Session("ghost", honcho)  # no request yet
    ghost.set_metadata({"created": "by update"})
    assert [s.id for s in honcho.sessions()] == ["ghost"]
    assert honcho.session("ghost").metadata == {"created": "by update"}


def test_repeated_leave_and_rejoin_does_not_duplicate(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("s1", peers=[alice])
    for _ in range(3):
        session.remove_peers(alice)
        session.add_peers(alice)
    session.set_peers([alice, "bob"])
    session.set_peers([alice, "bob"])
    session.add_messages(alice.message("still here"))
    assert _member_ids(session) == ["alice", "bob"]
    assert [s.id for s in alice.sessions()] == ["s1"]
    assert alice.sessions().total == 1
