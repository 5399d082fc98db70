"""Retrieval promises with the real local model: what ranks first, and superseded conclusions.

Message search: a specific match beats a shared common word, the newer of two conflicting
facts comes first when the question asks about now (the older when it asks about before),
and a workspace-wide question about a person is not led by the assistant's small talk.
Conclusions: a superseded conclusion is kept but left out of lists, queries and the
representation, and shown with ``{"superseded": true}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.app import create_app
from honcho_server.db.repositories.conclusions import ConclusionRepository
from honcho_server.db.repositories.search import SearchRepository, SearchScope
from honcho_server.db.session import unit_of_work
from honcho_server.settings import Settings


@pytest.fixture(scope="module")
async def semantic(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"embed_messages": True}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def _app(client: httpx.AsyncClient) -> FastAPI:
    app: FastAPI = client.app  # type: ignore[attr-defined]
    return app


async def _add(
    client: httpx.AsyncClient, ws: str, session: str, *msgs: tuple[str, str, str]
) -> list[str]:
    """(peer, content, created_at) messages; returns their ids in order."""
    body = {"messages": [{"peer_id": p, "content": c, "created_at": t} for p, c, t in msgs]}
    r = await client.post(f"/v3/workspaces/{ws}/sessions/{session}/messages", json=body)
    assert r.status_code == 201, r.text
    return [m["id"] for m in r.json()]


async def _wait_embedded(client: httpx.AsyncClient, ws: str, expected: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        async with _app(client).state.engine.connect() as conn:
            done = await conn.scalar(
                text(
                    "SELECT count(DISTINCT message_id) FROM message_embeddings"
                    " WHERE workspace_name = :w"
                ),
                {"w": ws},
            )
        if int(done or 0) >= expected:
            return
        assert time.monotonic() < deadline, f"only {done}/{expected} embedded"
        await asyncio.sleep(0.05)


async def _search(client: httpx.AsyncClient, path: str, query: str) -> list[str]:
    r = await client.post(f"/v3/workspaces/{path}/search", json={"query": query, "limit": 10})
    assert r.status_code == 200, r.text
    return [m["id"] for m in r.json()]


JAN, JUN, NOV = "2025-01-10T10:00:00Z", "2025-06-10T10:00:00Z", "2025-11-10T10:00:00Z"


@pytest.fixture
async def history(semantic: httpx.AsyncClient, ws: str) -> dict[str, str]:
    """Two users and an assistant; maria's car changed in June."""
    names = ["old_car", "ack", "new_car", "hobby", "tom_car", "small_talk", "language"]
    ids = await _add(
        semantic,
        ws,
        "maria-1",
        ("maria", "I drive a battered old Fiat Panda to work every day.", JAN),
        ("assistant", "Nice, sounds great!", JAN),
    )
    ids += await _add(
        semantic,
        ws,
        "maria-2",
        ("maria", "I sold the Panda and bought an electric Renault Zoe.", JUN),
        ("maria", "My weekends are spent hiking in the mountains with friends.", JUN),
    )
    ids += await _add(
        semantic,
        ws,
        "tom-1",
        ("tom", "My car is a red Volvo estate, perfect for the dog.", NOV),
        ("assistant", "That sounds lovely, really great!", NOV),
        ("tom", "The language app I use has a terrible interface.", NOV),
    )
    await _wait_embedded(semantic, ws, len(ids))
    return dict(zip(names, ids, strict=True))


async def test_a_now_question_gets_the_current_fact_first(
    semantic: httpx.AsyncClient, ws: str, history: dict[str, str]
) -> None:
    for query in (
        "What car is Maria driving these days?",
        "Which vehicle does maria currently own?",
    ):
        found = await _search(semantic, f"{ws}/peers/maria", query)
        assert found.index(history["new_car"]) < found.index(history["old_car"]), query
        found = await _search(semantic, ws, query)
        assert found[0] == history["new_car"], query


async def test_a_before_question_keeps_the_old_fact_reachable_first(
    semantic: httpx.AsyncClient, ws: str, history: dict[str, str]
) -> None:
    found = await _search(semantic, f"{ws}/peers/maria", "Which car did Maria use to drive?")
    assert found[0] == history["old_car"]


async def test_workspace_question_about_a_person_is_not_led_by_small_talk(
    semantic: httpx.AsyncClient, ws: str, history: dict[str, str]
) -> None:
    for query in ("How does Maria spend her weekends?", "What does Tom drive?"):
        found = await _search(semantic, ws, query)
        assert found[0] not in (history["ack"], history["small_talk"]), query
    assert (await _search(semantic, ws, "What does Tom drive?"))[0] == history["tom_car"]


async def test_workspace_question_about_a_person_reaches_their_fact_behind_a_crowd(
    semantic: httpx.AsyncClient, ws: str
) -> None:
    """Forty other people's car messages are nearer the question than maria's current car
    (the nearest-message pool is 30 wide): her own nearest messages are candidates too."""
    brands = ("Volvo", "Toyota", "Ford", "Honda", "Skoda", "Kia", "Mazda", "Opel")
    crowd = [
        (f"user{i}", f"My car is a {brands[i % 8]}, I drive it to work every day.", NOV)
        for i in range(40)
    ]
    await _add(semantic, ws, "crowd", *crowd)
    old, new = await _add(
        semantic,
        ws,
        "maria",
        ("maria", "Taking the old Fiat Panda out again this morning.", JAN),
        ("maria", "I sold the Panda and bought an electric Renault Zoe.", JUN),
    )
    await _wait_embedded(semantic, ws, len(crowd) + 2)
    found = await _search(semantic, ws, "What car is Maria driving these days?")
    assert found[0] == new
    assert old in found


async def test_a_shared_common_word_does_not_beat_the_meaning(
    semantic: httpx.AsyncClient, ws: str, history: dict[str, str]
) -> None:
    found = await _search(semantic, f"{ws}/peers/maria", "what does she do outdoors for fun")
    assert found[0] == history["hobby"]
    # "car" appears in tom's message only; the question is about maria's vehicle
    found = await _search(semantic, f"{ws}/peers/maria", "maria car")
    assert found[0] in (history["new_car"], history["old_car"])


# --- superseded conclusions ------------------------------------------------------------------


async def _conclude(client: httpx.AsyncClient, ws: str, *contents: str) -> list[str]:
    await _add(client, ws, "s", ("maria", "hello", JAN))
    ids: list[str] = []
    for content in contents:  # one request each: created_at orders them
        body = {
            "conclusions": [{"content": content, "observer_id": "maria", "observed_id": "maria"}]
        }
        r = await client.post(f"/v3/workspaces/{ws}/conclusions", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()[0]["id"])
    return ids


async def _query(client: httpx.AsyncClient, ws: str, query: str, **filters: Any) -> list[str]:
    pair = {"observer_id": "maria", "observed_id": "maria", **filters}
    body = {"query": query, "top_k": 5, "filters": pair}
    r = await client.post(f"/v3/workspaces/{ws}/conclusions/query", json=body)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()]


async def test_conclusions_query_prefers_the_newer_fact_for_now_questions(
    client: httpx.AsyncClient, ws: str
) -> None:
    old, new = await _conclude(
        client, ws, "Maria lives in Porto.", "Maria moved to Berlin and lives there."
    )
    found = await _query(client, ws, "Where does Maria live nowadays?")
    assert found.index(new) < found.index(old)


async def test_superseded_conclusions_are_kept_but_left_out_by_default(
    app: FastAPI, client: httpx.AsyncClient, ws: str
) -> None:
    old, new, other = await _conclude(
        client, ws, "Maria drives a Fiat Panda.", "Maria drives a Renault Zoe.", "Maria hikes."
    )
    async with unit_of_work(app.state.session_factory) as db:
        repo = ConclusionRepository(db)
        await repo.supersede(ws, "maria", "maria", [(old, new)])
        await repo.supersede(ws, "maria", "other", [(other, new)])  # not that collection
    found = await _query(client, ws, "what car does maria drive")
    assert old not in found and new in found and other in found
    assert await _query(client, ws, "what car", superseded=True) == [old]
    assert set(await _query(client, ws, "what car", superseded=False)) == {new, other}

    r = await client.post(f"/v3/workspaces/{ws}/conclusions/list", json={})
    assert {c["id"] for c in r.json()["items"]} == {new, other}
    r = await client.post(
        f"/v3/workspaces/{ws}/conclusions/list",
        json={"filters": {"OR": [{"superseded": True}, {"id": other}]}},
    )
    assert {c["id"] for c in r.json()["items"]} == {old, other}
    assert (await client.get(f"/v3/workspaces/{ws}/conclusions/{old}")).status_code == 200

    r = await client.post(f"/v3/workspaces/{ws}/peers/maria/representation", json={})
    text_ = r.json()["representation"]
    assert "Renault Zoe" in text_ and "Fiat Panda" not in text_
    r = await client.post(
        f"/v3/workspaces/{ws}/peers/maria/representation",
        json={"search_query": "which car", "search_top_k": 5},
    )
    assert "Fiat Panda" not in r.json()["representation"]
    r = await client.get(f"/v3/workspaces/{ws}/peers/maria/context")
    assert "Fiat Panda" not in str(r.json())

    async with unit_of_work(app.state.session_factory) as db:  # marking twice is a no-op
        await ConclusionRepository(db).supersede(ws, "maria", "maria", [(old, other)])
    async with app.state.engine.connect() as conn:
        by = await conn.scalar(
            text("SELECT superseded_by FROM conclusions WHERE id = :id"), {"id": old}
        )
    assert by == new


# --- keyword evidence -------------------------------------------------------------------------


async def test_rare_words_counts_matches_within_the_scope_and_drops_common_words(
    app: FastAPI, client: httpx.AsyncClient, ws: str
) -> None:
    apples = [("a", f"an apple a day, number {i}", JAN) for i in range(10)]
    await _add(client, ws, "s1", *apples, ("a", "a zebra crossed the road", JAN))
    await _add(client, ws, "s2", ("b", "zebra and apple stripes", JAN))
    async with unit_of_work(app.state.session_factory) as db:

        async def rare(repo: SearchRepository, *words: str) -> list[tuple[str, int]]:
            found = dict(await repo.rare_words(list(words), 50, cap=8))
            texts = {r.id: r.content for r in await repo.rows(list(found))}
            return sorted((texts[i], df) for i, df in found.items())

        everywhere = SearchRepository(db, SearchScope(ws, {"workspace_id": ws}))
        # "apple" has 11 matches: common, left out; "zebra" 2; "the" is a stop word
        assert await rare(everywhere, "apple", "zebra", "the") == [
            ("a zebra crossed the road", 2),
            ("zebra and apple stripes", 2),
        ]
        session = SearchRepository(db, SearchScope(ws, {"workspace_id": ws, "session_id": "s2"}))
        assert await rare(session, "apple", "zebra") == [("zebra and apple stripes", 1)]
        assert await rare(session, "nothing") == []


AWKWARD = [
    "?",
    "the of and",
    "%_\\\\",
    "(a+b)*[c]{2}|^$.",
    '"unterminated',
    "--maria",
    "a:b & c | !d <-> e",
    "maria maria MARIA",
    "été café",
    "\u0001\u0002",
    "ORD-1234?",
    "what's maria's car, currently?!",
    "before now used to currently",
]


@pytest.mark.parametrize("query", AWKWARD)
async def test_awkward_queries_never_fail_in_hybrid_search(
    semantic: httpx.AsyncClient, ws: str, history: dict[str, str], query: str
) -> None:
    for path in (ws, f"{ws}/sessions/maria-2", f"{ws}/peers/maria"):
        r = await semantic.post(
            f"/v3/workspaces/{path}/search", json={"query": query, "limit": 100}
        )
        assert r.status_code == 200, (path, r.text)
        assert all(m["workspace_id"] == ws for m in r.json())
