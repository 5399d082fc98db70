"""Peer representations and peer context through the SDK, built from conclusions."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from honcho import Honcho, NotFoundError, Peer
from honcho.api_types import PeerContextResponse
from honcho.conclusions import Conclusion, ConclusionsView

HEADER = "## Explicit Observations\n\n"
LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] (.*)$")


def _stamp(conclusion: Conclusion) -> str:
    return conclusion.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _one(conclusion: Conclusion) -> str:
    return f"{HEADER}[{_stamp(conclusion)}] {conclusion.content}\n"


def _explicit(representation: str) -> list[tuple[str, str]]:
    """Parse an explicit-only representation into (timestamp, content) lines, checking layout."""
    assert representation.startswith(HEADER), representation
    body = representation[len(HEADER) :].split("\n")
    assert body[-1] == "", representation  # every line, the last too, ends with "\n"
    parsed = []
    for line in body[:-1]:
        match = LINE.match(line)
        assert match, f"unexpected line {line!r} in {representation!r}"
        parsed.append((match[1], match[2]))
    return parsed


def _assert_renders(representation: str, conclusions: list[Conclusion]) -> None:
    """Exactly these conclusions, each with its own timestamp, oldest first."""
    lines = _explicit(representation)
    assert sorted(lines) == sorted((_stamp(c), c.content) for c in conclusions)
    stamps = [stamp for stamp, _ in lines]
    assert stamps == sorted(stamps)


def _create_one_by_one(view: ConclusionsView, contents: list[str]) -> list[Conclusion]:
    """Separate requests, so each conclusion gets its own creation time."""
    created: list[Conclusion] = []
    for content in contents:
        created += view.create([{"content": content}])
    return created


def test_representation_of_self_conclusions(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    assert alice.representation() == ""
    (first,) = alice.conclusions.create([{"content": "Alice has a dog named Rover"}])
    assert alice.representation() == _one(first)

    more = _create_one_by_one(alice.conclusions, ["Rover is five", "Alice walks Rover daily"])
    everything = [first, *more]
    _assert_renders(alice.representation(), everything)

    alice.conclusions.delete(more[0].id)
    _assert_renders(alice.representation(), [first, more[1]])
    # The conclusions view renders the same (observer, observed) pair.
    assert alice.conclusions.representation() == alice.representation()


def test_representation_with_target(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    alice.conclusions.create([{"content": "Alice about herself"}])
    about_bob = _create_one_by_one(alice.conclusions_of(bob), ["Bob plays chess", "Bob is tall"])
    bob.conclusions.create([{"content": "Bob about himself"}])
    (bob_on_alice,) = bob.conclusions_of(alice).create([{"content": "Alice seems busy"}])

    _assert_renders(alice.representation(target=bob), about_bob)
    assert alice.representation(target="bob") == alice.representation(target=bob)
    assert alice.conclusions_of("bob").representation() == alice.representation(target="bob")
    assert bob.representation(target=alice) == _one(bob_on_alice)
    assert "Bob plays chess" not in bob.representation()  # alice's view is not bob's own
    assert _explicit(bob.representation())[0][1] == "Bob about himself"
    assert alice.representation(target="carol") == ""  # nobody observed carol


def test_representation_limits(honcho: Honcho) -> None:
    alice = honcho.peer("alice")
    created = _create_one_by_one(alice.conclusions, [f"fact number {i}" for i in range(5)])
    assert alice.representation(max_conclusions=1) == _one(created[-1])  # the most recent
    _assert_renders(alice.representation(max_conclusions=3), created[-3:])
    _assert_renders(alice.representation(max_conclusions=100), created)
    _assert_renders(alice.representation(include_most_frequent=True), created)


def test_representation_restricted_to_sessions(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    s1, s2 = honcho.session("s1"), honcho.session("s2")
    (in_s1,) = alice.conclusions.create([{"content": "Said in s1", "session_id": "s1"}])
    (in_s2,) = alice.conclusions.create([{"content": "Said in s2", "session_id": "s2"}])
    (anywhere,) = alice.conclusions.create([{"content": "Workspace-level"}])
    (bob_in_s1,) = alice.conclusions_of(bob).create([{"content": "Bob in s1", "session_id": "s1"}])

    _assert_renders(alice.representation(), [in_s1, in_s2, anywhere])
    assert alice.representation(session=s1) == _one(in_s1)
    assert alice.representation(session="s2") == _one(in_s2)
    assert alice.representation(session=s1, target=bob) == _one(bob_in_s1)
    _assert_renders(alice.representation(sessions=["s1", s2]), [in_s1, in_s2])
    # The session's own helper asks the same question.
    assert s1.representation("alice") == _one(in_s1)
    assert s1.representation(alice, target="bob") == _one(bob_in_s1)
    assert s2.representation(bob) == ""
    assert honcho.session("s3").representation(alice) == ""


def test_representation_of_unknown_peer_is_empty(honcho: Honcho) -> None:
    honcho.peer("alice")
    ghost = Peer("ghost", honcho)  # built locally: the server has no such peer
    assert ghost.representation() == ""
    assert ghost.representation(target="alice") == ""
    assert [p.id for p in honcho.peers()] == ["alice"]  # reading created nothing


def test_peer_context(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    empty = alice.context()
    assert isinstance(empty, PeerContextResponse)
    assert (empty.peer_id, empty.target_id, empty.representation, empty.peer_card) == (
        "alice",
        "alice",
        "",
        None,
    )

    (own,) = alice.conclusions.create([{"content": "Alice likes tea"}])
    (of_bob,) = alice.conclusions_of(bob).create([{"content": "Bob likes coffee"}])
    alice.set_card(["IDENTITY: Alice"])
    alice.set_card(["RELATIONSHIP: colleague"], target=bob)

    ctx = alice.context()
    assert (ctx.peer_id, ctx.target_id) == ("alice", "alice")
    assert ctx.representation == _one(own) == alice.representation()
    assert ctx.peer_card == ["IDENTITY: Alice"]

    about_bob = alice.context(target=bob)
    assert (about_bob.peer_id, about_bob.target_id) == ("alice", "bob")
    assert about_bob.representation == _one(of_bob)
    assert about_bob.peer_card == ["RELATIONSHIP: colleague"]
    assert alice.context(target="bob") == about_bob

    # Bob has no view of anyone: empty representation, no card; the target need not exist.
    assert bob.context(target="alice").representation == ""
    unknown_target = alice.context(target="carol")
    assert (unknown_target.target_id, unknown_target.representation) == ("carol", "")
    assert unknown_target.peer_card is None

    more = _create_one_by_one(alice.conclusions, ["Alice reads sci-fi", "Alice runs"])
    assert alice.context(max_conclusions=1).representation == _one(more[-1])
    _assert_renders(alice.context(include_most_frequent=False).representation, [own, *more])


def test_peer_context_of_unknown_peer_is_not_found(honcho: Honcho) -> None:
    honcho.peer("alice")
    ghost = Peer("ghost", honcho)
    with pytest.raises(NotFoundError):
        ghost.context()
    with pytest.raises(NotFoundError):
        ghost.context(target="alice")
    assert [p.id for p in honcho.peers()] == ["alice"]


async def test_async_representation_and_context(honcho: Honcho) -> None:
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    (own,) = await alice.conclusions.aio.create([{"content": "Alice likes tea"}])
    (of_bob,) = alice.conclusions_of(bob).create([{"content": "Bob likes coffee"}])
    bob.set_card(["IDENTITY: Bob"])

    assert await alice.aio.representation() == _one(own)
    assert await alice.aio.representation(target=bob) == _one(of_bob)
    assert await alice.aio.representation(target="bob", max_conclusions=1) == _one(of_bob)
    assert await Peer("ghost", honcho).aio.representation() == ""

    ctx = await alice.aio.context(target="bob")
    assert (ctx.peer_id, ctx.target_id, ctx.representation) == ("alice", "bob", _one(of_bob))
    assert ctx.peer_card is None  # alice holds no card about bob
    own_card = await bob.aio.context()
    assert own_card.peer_card == ["IDENTITY: Bob"] and own_card.representation == ""
    with pytest.raises(NotFoundError):
        await Peer("ghost", honcho).aio.context()
