"""The documented SDK quickstart and "advanced usage" snippets, run unchanged (minus LLM calls)."""

from __future__ import annotations

from datetime import UTC, datetime

from honcho import Honcho, Message, Peer, Session
from honcho.api_types import SessionPeerConfig


def test_quickstart_flow(live_server: str, ws: str) -> None:
    # Initialise exactly like a user pointing the SDK at a self-hosted server.
    honcho = Honcho(base_url=live_server, workspace_id=ws)

    alice = honcho.peer("alice")
    assistant = honcho.peer("assistant")
    assert isinstance(alice, Peer) and alice.id == "alice" and alice.workspace_id == ws
    assert isinstance(alice.created_at, datetime) and alice.created_at.tzinfo is not None

    session = honcho.session("conversation-1")
    assert isinstance(session, Session) and session.id == "conversation-1"
    assert session.is_active is True
    assert isinstance(session.created_at, datetime)

    created = session.add_messages(
        [
            alice.message("What's the weather like today?"),
            assistant.message("It's sunny and 75°F outside!"),
        ]
    )
    assert [type(m) for m in created] == [Message, Message]
    assert [(m.peer_id, m.content) for m in created] == [
        ("alice", "What's the weather like today?"),
        ("assistant", "It's sunny and 75°F outside!"),
    ]
    assert all(m.session_id == "conversation-1" and m.workspace_id == ws for m in created)
    assert len({m.id for m in created}) == 2

    # What a user would look at next: the stored conversation, its members, the directory.
    stored = list(session.messages())
    assert [(m.id, m.peer_id, m.content) for m in stored] == [
        (m.id, m.peer_id, m.content) for m in created
    ]
    assert {p.id for p in session.peers()} == {"alice", "assistant"}
    assert [s.id for s in alice.sessions()] == ["conversation-1"]
    assert sorted(p.id for p in honcho.peers()) == ["alice", "assistant"]
    assert [s.id for s in honcho.sessions()] == ["conversation-1"]


def test_peer_and_session_metadata_snippets(honcho: Honcho) -> None:
    alice = honcho.peer("alice", metadata={"location": "NYC", "role": "developer"})
    assert alice.metadata == {"location": "NYC", "role": "developer"}

    metadata = alice.get_metadata()
    metadata["location"] = "Paris"
    alice.set_metadata(metadata)
    assert honcho.peer("alice").get_metadata() == {"location": "Paris", "role": "developer"}

    session = honcho.session("meeting-1")
    session.set_metadata({"topic": "product planning", "status": "active"})
    assert session.get_metadata() == {"topic": "product planning", "status": "active"}


def test_theory_of_mind_snippet(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    bob = honcho.peer("bob")
    charlie = honcho.peer("charlie")
    assistant = honcho.peer("assistant")
    session = honcho.session("conversation-1")

    session.add_peers([alice, assistant])
    session.add_peers([(alice, SessionPeerConfig(observe_others=True))])
    session.set_peers([alice, bob, charlie])
    session.remove_peers([alice])
    assert sorted(p.id for p in session.peers()) == ["bob", "charlie"]

    config = SessionPeerConfig(observe_others=False, observe_me=True)
    session.add_peers([(alice, config)])
    assert sorted(p.id for p in session.peers()) == ["alice", "bob", "charlie"]
    assert session.get_peer_configuration(alice) == config

    session.set_peer_configuration(alice, SessionPeerConfig(observe_me=False))
    assert session.get_peer_configuration(alice) == SessionPeerConfig(
        observe_others=False, observe_me=False
    )


def test_multi_party_conversation_snippet(honcho: Honcho) -> None:
    users = [honcho.peer(f"user-{i}") for i in range(5)]
    moderator = honcho.peer("moderator")

    group_chat = honcho.session("group-discussion")
    group_chat.add_peers([*users, moderator])

    group_chat.add_messages(
        [
            users[0].message("What's our agenda for today?"),
            moderator.message("We'll discuss the new feature roadmap"),
            users[1].message("I have some concerns about the timeline"),
        ]
    )

    assert sorted(p.id for p in group_chat.peers()) == sorted(
        [f"user-{i}" for i in range(5)] + ["moderator"]
    )
    assert [m.peer_id for m in group_chat.messages()] == ["user-0", "moderator", "user-1"]
    # Every member sees the group session among its sessions, not just the authors.
    assert [s.id for s in users[4].sessions()] == ["group-discussion"]


def test_metadata_and_filtering_snippet(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    assistant = honcho.peer("assistant")
    session = honcho.session("budget")
    session.add_messages(
        [
            alice.message(
                "Let's discuss the budget", metadata={"topic": "finance", "priority": "high"}
            ),
            assistant.message(
                "I'll prepare the financial report",
                metadata={"action_item": True, "due_date": "2024-01-15"},
            ),
            alice.message("Thanks!"),
        ]
    )

    finance_messages = session.messages(filters={"metadata": {"topic": "finance"}})
    assert [m.content for m in finance_messages] == ["Let's discuss the budget"]
    action_items = session.messages(filters={"metadata": {"action_item": True}})
    assert [m.content for m in action_items] == ["I'll prepare the financial report"]
    assert action_items[0].metadata == {"action_item": True, "due_date": "2024-01-15"}


def test_custom_timestamp_snippet(honcho: Honcho) -> None:
    user = honcho.peer("user123")
    session = honcho.session("history")
    [message] = session.add_messages(
        user.message(
            "This message happened yesterday",
            created_at="2024-01-01T12:00:00Z",
            metadata={"source": "historical_data"},
        )
    )
    assert message.created_at == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert session.get_message(message.id).created_at == message.created_at
    assert message.metadata == {"source": "historical_data"}


def test_pagination_snippets(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    bob = honcho.peer("bob")
    session = honcho.session("paged")
    session.add_messages(
        [(alice if i % 2 == 0 else bob).message(f"message {i}") for i in range(60)]
    )

    assert [s.id for s in honcho.sessions()] == ["paged"]

    all_contents = [m.content for m in session.messages(size=100)]
    assert all_contents == [f"message {i}" for i in range(60)]

    page3 = session.messages(page=3, size=25)
    assert page3.page == 3 and page3.size == 25 and page3.total == 60 and page3.pages == 3
    assert [m.content for m in page3.items] == [f"message {i}" for i in range(50, 60)]
    assert not page3.has_next_page()

    recent_first = session.messages(reverse=True)
    assert recent_first[0].content == "message 59"

    filtered = session.messages(filters={"peer_id": "alice"}, size=10)
    assert len(filtered) == 10 and filtered.total == 30
    assert [m.content for m in filtered] == [f"message {i}" for i in range(0, 60, 2)]


def test_performance_snippet_hundred_peers(honcho: Honcho) -> None:
    peers = [honcho.peer(f"user-{i}") for i in range(100)]
    session = honcho.session("broadcast")
    created = session.add_messages([peer.message(f"Message {i}") for i, peer in enumerate(peers)])
    assert len(created) == 100
    assert [m.peer_id for m in created] == [f"user-{i}" for i in range(100)]
    # Authoring a message makes the author a member of the session.
    members = session.peers()
    assert len(members) == 50  # session.peers() returns the server's first (default-size) page
    assert {p.id for p in members} <= {f"user-{i}" for i in range(100)}
    assert [s.id for s in peers[99].sessions()] == ["broadcast"]
    assert session.messages().total == 100
