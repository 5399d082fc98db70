"""Messages through the SDK: batch create, timestamps, token counts, listing, get and update."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from honcho import Honcho, Message, SyncPage
from honcho.api_types import MessageCreateParams

IST = timezone(timedelta(hours=5, minutes=30))
PST = timezone(timedelta(hours=-8))


def test_add_messages_returns_created_messages_in_order(honcho: Honcho, ws: str) -> None:
    alice = honcho.peer("alice")
    bob = honcho.peer("bob")
    session = honcho.session("chat")
    before = datetime.now(UTC)
    created = session.add_messages(
        [
            alice.message("Hello world", metadata={"lang": "en", "n": {"deep": [1, 2]}}),
            bob.message("The quick brown fox jumps over the lazy dog."),
            alice.message(""),
            bob.message("Emoji 🎉 and accents: café, naïve — ok"),
        ]
    )
    assert all(isinstance(m, Message) for m in created)
    assert [m.content for m in created] == [
        "Hello world",
        "The quick brown fox jumps over the lazy dog.",
        "",
        "Emoji 🎉 and accents: café, naïve — ok",
    ]
    assert [m.peer_id for m in created] == ["alice", "bob", "alice", "bob"]
    assert all(m.session_id == "chat" and m.workspace_id == ws for m in created)
    assert len({m.id for m in created}) == 4 and all(m.id for m in created)
    assert created[0].metadata == {"lang": "en", "n": {"deep": [1, 2]}}
    assert created[1].metadata == {}

    # Without explicit timestamps the server stamps "now", tz-aware.
    for m in created:
        assert m.created_at.tzinfo is not None
        assert abs(m.created_at - before) < timedelta(minutes=1)

    # o200k_base token counts.
    assert [m.token_count for m in created[:3]] == [2, 10, 0]
    assert 5 <= created[3].token_count <= 25


def test_single_message_and_single_param_object(honcho: Honcho) -> None:
    session = honcho.session("chat")
    created = session.add_messages(MessageCreateParams(peer_id="carol", content="direct params"))
    assert len(created) == 1
    assert created[0].peer_id == "carol" and created[0].content == "direct params"
    # The author was created and joined the session.
    assert [p.id for p in session.peers()] == ["carol"]
    assert [p.id for p in honcho.peers()] == ["carol"]


def test_token_count_grows_with_content(honcho: Honcho) -> None:
    session = honcho.session("chat")
    short, long = session.add_messages(
        [
            MessageCreateParams(peer_id="alice", content="hello"),
            MessageCreateParams(peer_id="alice", content="hello " * 100),
        ]
    )
    assert short.token_count == 1
    assert 95 <= long.token_count <= 105
    assert session.get_message(long.id).token_count == long.token_count


@pytest.mark.parametrize(
    "stamp",
    [
        datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
        datetime(2023, 6, 15, 8, 30, 45, 123456, tzinfo=IST),
        datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=PST),
        datetime(1999, 2, 28, 0, 0, 1, 1, tzinfo=UTC),
    ],
    ids=["utc", "ist-micro", "future-pst", "old-utc"],
)
def test_custom_created_at_round_trips_exactly(honcho: Honcho, stamp: datetime) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("history")
    [created] = session.add_messages(alice.message("backfilled", created_at=stamp))
    # Same instant (aware datetimes compare by instant), microseconds included.
    assert created.created_at == stamp
    assert created.created_at.tzinfo is not None
    # Served in UTC, like upstream.
    assert created.created_at.utcoffset() == timedelta(0)
    assert created.created_at.astimezone(UTC) == stamp.astimezone(UTC)

    fetched = session.get_message(created.id)
    assert fetched.created_at == stamp
    [listed] = session.messages().items
    assert listed.created_at == stamp


def test_created_at_accepts_iso_strings(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("history")
    a, b = session.add_messages(
        [
            alice.message("z-suffix", created_at="2024-03-10T02:30:00Z"),
            alice.message("offset", created_at="2024-03-10T02:30:00.250000-05:00"),
        ]
    )
    assert a.created_at == datetime(2024, 3, 10, 2, 30, tzinfo=UTC)
    assert b.created_at == datetime(2024, 3, 10, 7, 30, 0, 250000, tzinfo=UTC)


def test_messages_listing_order_is_insertion_not_timestamp(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("chat")
    session.add_messages(
        [
            alice.message("first", created_at=datetime(2024, 5, 1, tzinfo=UTC)),
            alice.message("second", created_at=datetime(2020, 5, 1, tzinfo=UTC)),
        ]
    )
    session.add_messages(alice.message("third"))
    assert [m.content for m in session.messages()] == ["first", "second", "third"]
    assert [m.content for m in session.messages(reverse=True)] == ["third", "second", "first"]


def test_messages_auto_iterate_across_pages(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    bob = honcho.peer("bob")
    session = honcho.session("long")
    contents = [f"msg {i:03d}" for i in range(130)]
    batch = [(alice if i % 2 == 0 else bob).message(c) for i, c in enumerate(contents)]
    created = session.add_messages(batch[:100]) + session.add_messages(batch[100:])
    assert len(created) == 130

    first = session.messages()
    assert isinstance(first, SyncPage)
    assert (first.page, first.size, first.total, first.pages, len(first)) == (1, 50, 130, 3, 50)
    iterated = list(first)
    assert [m.content for m in iterated] == contents
    assert [m.id for m in iterated] == [m.id for m in created]

    assert [m.content for m in session.messages(size=100)] == contents
    last = session.messages(page=3)
    assert [m.content for m in last.items] == contents[100:]
    assert not last.has_next_page() and last.get_next_page() is None
    assert session.messages(page=4).items == []

    backwards = [m.content for m in session.messages(reverse=True, size=40)]
    assert backwards == contents[::-1]

    # Filters apply on every page.
    bobs = session.messages(filters={"peer_id": "bob"}, size=20)
    assert bobs.total == 65 and bobs.pages == 4
    assert [m.content for m in bobs] == contents[1::2]


def test_messages_filters(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    bob = honcho.peer("bob")
    carol = honcho.peer("carol")
    session = honcho.session("filters")
    base = datetime(2024, 1, 1, tzinfo=UTC)
    session.add_messages(
        [
            alice.message("m0", metadata={"topic": "finance", "score": 1}, created_at=base),
            bob.message(
                "m1",
                metadata={"topic": "sports", "score": 5, "tags": ["a", "b"]},
                created_at=base + timedelta(days=1),
            ),
            carol.message(
                "m2",
                metadata={"topic": "finance", "score": 9, "flag": True},
                created_at=base + timedelta(days=2),
            ),
            alice.message(
                "a longer message with more tokens in it", created_at=base + timedelta(days=3)
            ),
        ]
    )

    def contents(filters: dict[str, object]) -> list[str]:
        return [m.content for m in session.messages(filters=filters)]

    assert contents({"peer_id": "alice"}) == ["m0", "a longer message with more tokens in it"]
    assert contents({"peer_id": ["bob", "carol"]}) == ["m1", "m2"]
    assert contents({"metadata": {"topic": "finance"}}) == ["m0", "m2"]
    assert contents({"metadata": {"flag": True}}) == ["m2"]
    assert contents({"metadata": {"tags": ["b"]}}) == ["m1"]
    assert contents({"metadata": {"score": {"gte": 5}}}) == ["m1", "m2"]
    assert contents({"peer_id": "alice", "metadata": {"topic": "finance"}}) == ["m0"]
    assert contents({"OR": [{"peer_id": "bob"}, {"metadata": {"flag": True}}]}) == ["m1", "m2"]
    assert contents({"NOT": [{"peer_id": "alice"}]}) == ["m1", "m2"]
    assert contents({"created_at": {"gte": (base + timedelta(days=2)).isoformat()}}) == [
        "m2",
        "a longer message with more tokens in it",
    ]
    assert contents({"created_at": {"gte": "2024-01-02", "lt": "2024-01-03T00:00:00Z"}}) == ["m1"]
    assert contents({"token_count": {"gt": 3}}) == ["a longer message with more tokens in it"]
    assert contents({"metadata": {"topic": "nothing"}}) == []


def test_messages_are_scoped_to_their_session(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    one = honcho.session("one")
    two = honcho.session("two")
    one.add_messages(alice.message("in one"))
    two.add_messages(alice.message("in two"))
    assert [m.content for m in one.messages()] == ["in one"]
    assert [m.content for m in two.messages()] == ["in two"]
    assert list(honcho.session("empty").messages()) == []


def test_get_message(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("chat")
    [created] = session.add_messages(
        alice.message("find me", metadata={"k": "v"}, created_at="2024-02-29T10:00:00Z")
    )
    fetched = session.get_message(created.id)
    assert isinstance(fetched, Message)
    assert (
        fetched.id,
        fetched.content,
        fetched.peer_id,
        fetched.session_id,
        fetched.workspace_id,
        fetched.metadata,
        fetched.created_at,
        fetched.token_count,
    ) == (
        created.id,
        "find me",
        "alice",
        "chat",
        created.workspace_id,
        {"k": "v"},
        created.created_at,
        created.token_count,
    )


def test_update_message_replaces_metadata_only(
    honcho: Honcho, make_client: Callable[[str], Honcho], ws: str
) -> None:
    alice = honcho.peer("alice")
    session = honcho.session("chat")
    first, second = session.add_messages(
        [
            alice.message("keep me", metadata={"a": 1, "b": 2}),
            alice.message("other", metadata={"x": 1}),
        ]
    )

    updated = session.update_message(first, {"c": 3, "nested": {"ok": True}})
    assert isinstance(updated, Message)
    assert updated.id == first.id
    assert updated.metadata == {"c": 3, "nested": {"ok": True}}
    assert updated.content == "keep me"
    assert updated.created_at == first.created_at
    assert updated.token_count == first.token_count

    # By id string, and via another client.
    other_session = make_client(ws).session("chat")
    again = other_session.update_message(first.id, {})
    assert again.metadata == {}
    assert session.get_message(first.id).metadata == {}
    assert session.get_message(second.id).metadata == {"x": 1}

    # The updated metadata is what filters see.
    session.update_message(second, {"status": "done"})
    assert [m.id for m in session.messages(filters={"metadata": {"status": "done"}})] == [second.id]


def test_messages_create_missing_session_and_authors(honcho: Honcho) -> None:
    # A Session object for an id that the server has never seen: add_messages creates it.
    session = honcho.session("brand-new")
    session.add_messages(
        [
            MessageCreateParams(peer_id="new-author-1", content="a"),
            MessageCreateParams(peer_id="new-author-2", content="b"),
        ]
    )
    assert sorted(p.id for p in honcho.peers()) == ["new-author-1", "new-author-2"]
    assert sorted(p.id for p in session.peers()) == ["new-author-1", "new-author-2"]
    assert [s.id for s in honcho.peer("new-author-2").sessions()] == ["brand-new"]


def test_nul_bytes_are_stripped(honcho: Honcho) -> None:
    session = honcho.session("chat")
    [message] = session.add_messages(
        MessageCreateParams(
            peer_id="alice", content="a\x00b", metadata={"k\x00ey": "v\x00al", "n": ["x\x00"]}
        )
    )
    assert message.content == "ab"
    assert message.metadata == {"key": "val", "n": ["x"]}
    assert session.get_message(message.id).content == "ab"


def test_more_message_filter_forms(honcho: Honcho) -> None:
    session = honcho.session("chat")
    session.add_messages(
        [
            MessageCreateParams(peer_id="alice", content="m0", metadata={"status": "Open"}),
            MessageCreateParams(peer_id="bob", content="m1", metadata={"status": "closed"}),
            MessageCreateParams(peer_id="carol", content="m2", metadata={"status": "reopened"}),
        ]
    )

    def contents(filters: dict[str, object]) -> list[str]:
        return [m.content for m in session.messages(filters=filters)]

    assert contents({"peer_id": "*"}) == ["m0", "m1", "m2"]
    assert contents({"peer_id": {"in": ["alice", "carol"]}}) == ["m0", "m2"]
    assert contents({"peer_id": {"ne": "bob"}}) == ["m0", "m2"]
    assert contents({"metadata": {"status": {"in": ["closed", "reopened"]}}}) == ["m1", "m2"]
    assert contents({"metadata": {"status": {"icontains": "OPEN"}}}) == ["m0", "m2"]
    assert contents({"metadata": {"status": "*"}}) == ["m0", "m1", "m2"]
    assert contents({"session_id": "chat"}) == ["m0", "m1", "m2"]
    assert contents({"session_id": "elsewhere"}) == []


def test_metadata_values_round_trip_exactly(honcho: Honcho) -> None:
    metadata: dict[str, object] = {
        "pi": 3.14159,
        "big": 2**53,
        "neg": -7,
        "ключ": "значение",
        "emoji": "🚀",
        "none": None,
        "bools": [True, False],
        "empty": {},
        "list_of_objects": [{"a": 1}, {"b": [1, "two", None]}],
    }
    session = honcho.session("chat")
    [message] = session.add_messages(
        MessageCreateParams(peer_id="alice", content="typed", metadata=metadata)
    )
    assert message.metadata == metadata
    assert session.get_message(message.id).metadata == metadata
    assert session.update_message(message, metadata).metadata == metadata


def test_special_token_text_is_plain_content(honcho: Honcho) -> None:
    session = honcho.session("chat")
    [message] = session.add_messages(
        MessageCreateParams(peer_id="alice", content="<|endoftext|> and <|endofprompt|>")
    )
    assert message.content == "<|endoftext|> and <|endofprompt|>"
    assert message.token_count > 2


def test_created_at_filter_respects_offsets(honcho: Honcho) -> None:
    session = honcho.session("chat")
    base = datetime(2024, 1, 1, tzinfo=UTC)
    session.add_messages(
        [
            MessageCreateParams(
                peer_id="alice", content=f"day {i}", created_at=base + timedelta(days=i)
            )
            for i in range(4)
        ]
    )

    def contents(filters: dict[str, object]) -> list[str]:
        return [m.content for m in session.messages(filters=filters)]

    # 2024-01-02T05:30+05:30 is midnight UTC on Jan 2.
    assert contents({"created_at": {"gte": "2024-01-02T05:30:00+05:30"}}) == [
        "day 1",
        "day 2",
        "day 3",
    ]
    assert contents({"created_at": {"lt": "2024-01-01T19:00:00-05:00"}}) == ["day 0"]
    assert contents({"created_at": (base + timedelta(days=2)).isoformat()}) == ["day 2"]
