"""Conclusions through the SDK: `peer.conclusions`, `peer.conclusions_of`, the workspace view."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from honcho import Conclusion, Honcho, NotFoundError, UnprocessableEntityError
from honcho.api_types import PeerConfig, SessionPeerConfig
from honcho.conclusions import ConclusionCreateParams

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer
from sdk.test_sdk_deriver import _wait, deriver_server  # noqa: F401 - fixture


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


# --- provenance: source_ids, times_derived and derived() after a derivation -----------------

NURSE = "alice works night shifts as a nurse"
LISBON = "alice moved to Lisbon last spring"
SLEEPS = "alice sleeps during the day"
PORTUGAL = "alice is a nurse living in Portugal"


def _derivation(honcho: Honcho, fake: FakeOpenAIServer) -> None:
    """Three deriver runs through the fake LLM: a fact; a fact and two deductions citing
    it (stored by the earlier run) and the new one (cited with other case and a premise that
    matches nothing); the second fact again (reinforced)."""
    alice = honcho.peer("alice")
    bot = honcho.peer("bot", configuration=PeerConfig(observe_me=False))
    session = honcho.session("chat", peers=[alice, (bot, SessionPeerConfig(observe_others=True))])
    fake.state.queue_chat(json.dumps({"explicit": [NURSE], "deductive": []}))
    session.add_messages([alice.message("I work night shifts as a nurse.")])
    _wait(lambda: alice.conclusions.list().total == 1)
    fake.state.queue_chat(
        json.dumps(
            {
                "explicit": [LISBON],
                "deductive": [
                    {"conclusion": SLEEPS, "premises": [NURSE]},
                    {
                        "conclusion": PORTUGAL,
                        "premises": ["Alice moved to Lisbon last spring. ", NURSE, "never said"],
                    },
                ],
            }
        )
    )
    session.add_messages([alice.message("I moved to Lisbon last spring.")])
    _wait(lambda: alice.conclusions.list().total == 4)
    fake.state.queue_chat(json.dumps({"explicit": [LISBON], "deductive": []}))
    session.add_messages([alice.message("Did I say I moved to Lisbon last spring?")])
    _wait(lambda: _idle(honcho))


def _idle(honcho: Honcho) -> bool:
    status = honcho.queue_status()
    return status.pending_work_units == 0 and status.in_progress_work_units == 0


def test_derived_after_a_derivation(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    honcho = Honcho(base_url=deriver_server, workspace_id="provenance", max_retries=0)
    _derivation(honcho, fake_openai)
    alice = honcho.peer("alice")
    mine = {c.content: c for c in alice.conclusions.list()}
    assert set(mine) == {NURSE, LISBON, SLEEPS, PORTUGAL}
    nurse, lisbon, sleeps, portugal = (mine[k] for k in (NURSE, LISBON, SLEEPS, PORTUGAL))
    assert (nurse.level, nurse.source_ids, nurse.times_derived) == ("explicit", [], 1)
    assert (lisbon.source_ids, lisbon.times_derived) == ([], 2)  # reinforced by the third run
    assert (sleeps.level, sleeps.source_ids, sleeps.times_derived) == ("deductive", [nurse.id], 1)
    assert (portugal.level, portugal.source_ids) == ("deductive", [lisbon.id, nurse.id])

    assert _contents(list(alice.conclusions.derived(nurse.id))) == [PORTUGAL, SLEEPS]
    assert [c.id for c in alice.conclusions.derived(lisbon.id)] == [portugal.id]
    assert list(alice.conclusions.derived(sleeps.id)) == []
    assert list(alice.conclusions.derived("no-such-conclusion")) == []
    page = alice.conclusions.derived(nurse.id, size=1)
    assert page.total == 2 and page.pages == 2
    # premises back from a derived one
    assert _contents(honcho.conclusions.get_many(portugal.source_ids or [])) == [LISBON, NURSE]
    assert _contents(alice.conclusions.get_many(portugal.source_ids or [])) == [LISBON, NURSE]
    assert alice.conclusions.get(portugal.id).source_ids == [lisbon.id, nurse.id]
    assert honcho.conclusions.get(lisbon.id).times_derived == 2

    # the bot's own copies cite the bot's own rows
    seen = {c.content: c for c in honcho.peer("bot").conclusions_of("alice").list()}
    assert set(seen) == set(mine) and seen[NURSE].id != nurse.id
    assert seen[PORTUGAL].source_ids == [seen[LISBON].id, seen[NURSE].id]
    derived = honcho.peer("bot").conclusions_of("alice").derived(seen[NURSE].id)
    assert _contents(list(derived)) == [PORTUGAL, SLEEPS]
    assert list(alice.conclusions.derived(seen[NURSE].id)) == []  # another collection's

    # deriver/metrics once the jobs ran: nothing ready or running; what waits is the two
    # peer-card jobs (alice's view and the bot's), due a minute after the facts
    def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = httpx.get(f"{deriver_server}/deriver/metrics").json()
        busy = body["eligible_work_units"] + body["claimed_work_units"]
        return None if busy or body["embeddings_pending"] else body

    metrics = _until(settled)
    assert (metrics["pending_items"], metrics["dreams_due"]) == (2, 0)
    assert 0 < metrics["outstanding_work_seconds"] == metrics["oldest_pending_age_seconds"] < 60
    mine_only = httpx.get(f"{deriver_server}/v3/workspaces/provenance/deriver/metrics").json()
    assert mine_only["pending_items"] == 2 and mine_only["eligible_work_units"] == 0
    other = httpx.get(f"{deriver_server}/v3/workspaces/nobody/deriver/metrics").json()
    assert (other["pending_items"], other["outstanding_work_seconds"]) == (0, 0)


def _until(check: Callable[[], dict[str, Any] | None], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := check()) is None:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


async def test_derived_async(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    honcho = Honcho(base_url=deriver_server, workspace_id="provenance-aio", max_retries=0)
    fake_openai.state.queue_chat(
        json.dumps(
            {"explicit": [NURSE], "deductive": [{"conclusion": SLEEPS, "premises": [NURSE]}]}
        )
    )
    alice = await honcho.aio.peer("alice")
    session = await honcho.aio.session("chat")
    await session.aio.add_peers([alice])
    await session.aio.add_messages([alice.message("I work night shifts as a nurse.")])
    _wait(lambda: alice.conclusions.list().total == 2)
    mine = {c.content: c for c in (await alice.conclusions.aio.list()).items}
    page = await alice.conclusions.aio.derived(mine[NURSE].id)
    assert [(c.content, c.source_ids) for c in page.items] == [(SLEEPS, [mine[NURSE].id])]
