"""Peers through the SDK: get-or-create, metadata/configuration, listing, pagination, sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from honcho import Honcho, Peer, SyncPage
from honcho.api_types import PeerConfig, SessionPeerConfig


def test_peer_created_with_metadata_and_configuration(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    before = datetime.now(UTC)
    alice = honcho.peer(
        "alice",
        metadata={"role": "user", "prefs": {"lang": "en", "tags": ["a", "b"]}},
        configuration=PeerConfig(observe_me=False),
    )
    assert alice.id == "alice" and alice.workspace_id == ws
    assert alice.metadata == {"role": "user", "prefs": {"lang": "en", "tags": ["a", "b"]}}
    assert alice.configuration == PeerConfig(observe_me=False)
    assert alice.created_at is not None and alice.created_at.tzinfo is not None
    assert before - timedelta(minutes=1) < alice.created_at < before + timedelta(minutes=1)

    # A second, independent client sees the stored values.
    other = make_client(ws).peer("alice")
    assert other.metadata == alice.metadata
    assert other.get_metadata() == {"role": "user", "prefs": {"lang": "en", "tags": ["a", "b"]}}
    assert other.get_configuration() == PeerConfig(observe_me=False)
    assert other.created_at == alice.created_at


def test_peer_get_or_create_keeps_existing_unless_values_given(honcho: Honcho) -> None:
    first = honcho.peer("bob", metadata={"v": 1})
    again = honcho.peer("bob")
    assert again.metadata == {"v": 1}
    assert again.created_at == first.created_at

    # Passing metadata/configuration to peer() on an existing peer applies them.
    updated = honcho.peer("bob", metadata={"v": 2}, configuration=PeerConfig(observe_me=True))
    assert updated.metadata == {"v": 2}
    assert updated.configuration == PeerConfig(observe_me=True)
    assert updated.created_at == first.created_at
    assert honcho.peer("bob").get_metadata() == {"v": 2}


def test_new_peer_has_empty_metadata_and_configuration(honcho: Honcho) -> None:
    carol = honcho.peer("carol")
    assert carol.metadata == {}
    assert carol.get_metadata() == {}
    assert carol.get_configuration() == PeerConfig()


def test_peer_set_metadata_replaces_whole_object(honcho: Honcho) -> None:
    peer = honcho.peer("dave", metadata={"a": 1, "b": 2})
    peer.set_metadata({"c": 3})
    assert peer.metadata == {"c": 3}
    assert honcho.peer("dave").get_metadata() == {"c": 3}

    peer.set_metadata({})
    assert peer.get_metadata() == {}


def test_peer_set_configuration_round_trip(honcho: Honcho) -> None:
    peer = honcho.peer("erin")
    peer.set_configuration(PeerConfig(observe_me=False))
    assert peer.get_configuration() == PeerConfig(observe_me=False)
    assert peer.get_configuration().observe_me is False
    # Metadata is untouched by a configuration update.
    peer.set_metadata({"k": "v"})
    peer.set_configuration(PeerConfig(observe_me=True))
    assert peer.get_configuration().observe_me is True
    assert peer.get_metadata() == {"k": "v"}


def test_peer_refresh_picks_up_changes_from_another_client(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    mine = honcho.peer("frank", metadata={"v": "old"})
    make_client(ws).peer("frank").set_metadata({"v": "new"})
    assert mine.metadata == {"v": "old"}  # cached
    mine.refresh()
    assert mine.metadata == {"v": "new"}


def _create_peers_in_bulk(honcho: Honcho, ids: list[str]) -> None:
    """Create many peers in one request: adding them to a session get-or-creates each one."""
    honcho.session("bulk").add_peers(list(ids))


def test_peers_pagination_and_auto_iteration(honcho: Honcho) -> None:
    ids = [f"peer-{i:03d}" for i in range(120)]
    _create_peers_in_bulk(honcho, ids)

    first = honcho.peers()
    assert isinstance(first, SyncPage)
    assert (first.page, first.size, first.total, first.pages) == (1, 50, 120, 3)
    assert len(first) == 50 and len(first.items) == 50
    assert all(isinstance(p, Peer) for p in first.items)
    assert first.has_next_page()

    # Iterating the page walks every page.
    iterated = [p.id for p in first]
    assert len(iterated) == 120
    assert sorted(iterated) == ids

    # Explicit page walking yields the same sequence, with the last page partly filled.
    walked: list[str] = []
    page: SyncPage | None = honcho.peers(size=50)
    sizes = []
    while page is not None:
        sizes.append(len(page))
        walked.extend(p.id for p in page.items)
        page = page.get_next_page()
    assert sizes == [50, 50, 20]
    assert walked == iterated

    third = honcho.peers(page=3, size=50)
    assert [p.id for p in third.items] == iterated[100:]
    beyond = honcho.peers(page=4, size=50)
    assert beyond.items == [] and beyond.total == 120

    assert [p.id for p in honcho.peers(reverse=True)] == iterated[::-1]


def test_peers_listing_order_is_creation_order(honcho: Honcho) -> None:
    for name in ["zed", "amy", "mia"]:
        honcho.peer(name)
    assert [p.id for p in honcho.peers()] == ["zed", "amy", "mia"]
    assert [p.id for p in honcho.peers(reverse=True)] == ["mia", "amy", "zed"]
    listed = honcho.peers().items
    assert listed[0].created_at is not None
    assert listed[0].created_at <= listed[1].created_at <= listed[2].created_at


def test_peers_filters(honcho: Honcho) -> None:
    honcho.peer("u1", metadata={"role": "user", "tier": 1, "tags": ["x", "y"]})
    honcho.peer("u2", metadata={"role": "user", "tier": 2})
    honcho.peer("a1", metadata={"role": "assistant", "tier": 3})
    honcho.peer("n1")

    def ids(filters: dict[str, object]) -> list[str]:
        return [p.id for p in honcho.peers(filters=filters)]

    assert ids({"metadata": {"role": "user"}}) == ["u1", "u2"]
    assert ids({"metadata": {"tags": ["x"]}}) == ["u1"]
    assert ids({"metadata": {"tier": {"gte": 2}}}) == ["u2", "a1"]
    assert ids({"id": ["a1", "n1", "missing"]}) == ["a1", "n1"]
    assert ids({"OR": [{"id": "n1"}, {"metadata": {"role": "assistant"}}]}) == ["a1", "n1"]
    assert ids({"NOT": [{"metadata": {"role": "user"}}]}) == ["a1", "n1"]
    assert ids({"created_at": {"gte": "2000-01-01T00:00:00Z"}}) == ["u1", "u2", "a1", "n1"]
    assert ids({"created_at": {"lt": "2000-01-01"}}) == []
    assert ids({"metadata": {"flag": {"in": [True]}}}) == []
    honcho.peer("n1", metadata={"flag": True, "nested": {"lang": "en", "tz": "UTC"}, "n": "10"})
    assert ids({"metadata": {"flag": {"in": [True]}}}) == ["n1"]
    assert ids({"metadata": {"nested": {"lang": "en"}}}) == ["n1"]  # partial nested match
    assert ids({"metadata": {"n": {"gt": "9"}}}) == ["n1"]  # numeric strings compare as numbers
    assert ids({"id": {"icontains": "U"}}) == ["u1", "u2"]
    # Filtered listing keeps its filter across pages.
    for i in range(3):
        honcho.peer(f"u-extra-{i}", metadata={"role": "user"})
    page = honcho.peers(filters={"metadata": {"role": "user"}}, size=2)
    assert page.total == 5 and page.pages == 3
    assert [p.id for p in page] == ["u1", "u2", "u-extra-0", "u-extra-1", "u-extra-2"]


def test_peer_listing_carries_metadata_and_configuration(honcho: Honcho) -> None:
    honcho.peer("alice", metadata={"k": "v"}, configuration=PeerConfig(observe_me=False))
    [listed] = honcho.peers().items
    assert listed.id == "alice"
    assert listed.metadata == {"k": "v"}
    assert listed.configuration == PeerConfig(observe_me=False)


def test_peer_sessions(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    bob = honcho.peer("bob")
    honcho.session("s1", peers=[alice], metadata={"kind": "support"})
    s2 = honcho.session("s2")
    s2.add_messages(alice.message("hi"))  # authoring a message joins the session
    honcho.session("s3", peers=[bob])
    honcho.session("s4", peers=[(alice, SessionPeerConfig(observe_me=False))])

    sessions = alice.sessions()
    assert [s.id for s in sessions] == ["s1", "s2", "s4"]
    assert sessions.total == 3
    assert sessions.items[0].metadata == {"kind": "support"}
    assert sessions.items[0].is_active is True
    assert [s.id for s in bob.sessions()] == ["s3"]
    assert [s.id for s in alice.sessions(reverse=True)] == ["s4", "s2", "s1"]
    assert [s.id for s in alice.sessions(filters={"metadata": {"kind": "support"}})] == ["s1"]
    assert [s.id for s in alice.sessions(size=1)] == ["s1", "s2", "s4"]  # auto-paginates

    # A peer that left a session still lists it (upstream keeps any membership row).
    honcho.session("s1").remove_peers(alice)
    assert [s.id for s in alice.sessions()] == ["s1", "s2", "s4"]

    assert list(honcho.peer("loner").sessions()) == []


def test_peer_set_configuration_replaces_wholesale(honcho: Honcho) -> None:
    peer = honcho.peer("gina", configuration=PeerConfig(observe_me=False))
    peer.set_configuration(PeerConfig())
    assert peer.get_configuration() == PeerConfig()
    assert peer.get_configuration().observe_me is None


def test_updating_a_never_fetched_peer_creates_it(honcho: Honcho) -> None:
    # Constructing a Peer makes no request; set_metadata on it creates the peer.
    ghost = Peer("ghost", honcho)
    ghost.set_metadata({"created": "by update"})
    assert [p.id for p in honcho.peers()] == ["ghost"]
    assert honcho.peer("ghost").metadata == {"created": "by update"}
