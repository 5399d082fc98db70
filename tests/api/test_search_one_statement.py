"""Hybrid message search in one statement (``repositories.search_hybrid``) against the same
search read one source at a time (``services.search._sources``, what a search with filters of
its own runs): same messages, same order, for every route, limit and kind of query, over HTTP
with the real local model. A filter that selects the route's own workspace sends a search
down the second path without changing what it may return.

Also: the one-statement search is one round trip, never returns a deleted session's or
another workspace's messages, and keeps its planner settings off the other reads' connections.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.app import create_app
from honcho_server.db.repositories import search_hybrid
from honcho_server.db.repositories.search import SearchRepository
from honcho_server.db.session import unit_of_work
from honcho_server.embeddings.local import LocalEmbedder
from honcho_server.schemas.search import MessageSearchOptions
from honcho_server.services import search
from honcho_server.services.search_query import SearchQuery
from honcho_server.settings import Settings
from statement_counter import counting

MESSAGES = {
    "s1": [
        ("alice", "I moved to Lisbon last year for the new job."),
        ("assistant", "That sounds exciting, how do you like Lisbon?"),
        ("alice", "Now I live in Porto, the rent was too high in Lisbon."),
        ("bob", "My order ORD-7731 finally shipped today."),
        ("alice", "ok"),
        ("assistant", "thanks!"),
        ("bob", "The wifi password is hunter2, do not share it."),
    ],
    "s2": [
        ("alice", "I love hiking in the alps every summer."),
        ("bob", "We went hiking near Chamonix, the alps were stunning."),
        ("alice", "My favourite café serves a great espresso."),
        ("assistant", "Café culture in Porto is wonderful."),
        ("bob", "Remember to water the tomatoes in the greenhouse."),
        ("alice", "The quarterly budget review is on Thursday."),
        ("bob", "alice recommended a book about sailing."),
        ("bob", "I had dinner with alice at the harbour."),
        ("assistant", "The museum opens at nine on weekdays."),
        ("assistant", "alice asked about the weather."),
    ],
    "gone": [
        ("alice", "A secret about Lisbon and hiking that was deleted."),
        ("bob", "ORD-7731 mentioned in a deleted session."),
    ],
}
QUERIES = [
    "where does alice live now",
    "where did alice live before",
    "ORD-7731",
    "hunter",
    "hiking alps",
    "hike hiking hikes alps",
    "what did bob order",
    "password",
    "the and of",
    "alice bob",
    "alice lisbon",
    "alice museum",
    "alice harbour sailing",
    "Lisbon Porto hiking tomatoes",
    "'tea'?",
    "café",
    "budget",
    "x",
]
ROUTES = ["", "/sessions/s1", "/sessions/s2", "/peers/alice", "/peers/bob"]


@pytest.fixture(scope="module")
async def model() -> AsyncIterator[LocalEmbedder]:
    embedder = LocalEmbedder()
    yield embedder
    await embedder.aclose()


@pytest.fixture(scope="module")
async def app(settings: Settings, model: LocalEmbedder) -> AsyncIterator[FastAPI]:
    built = create_app(settings.model_copy(update={"embed_messages": True}), embedder=model)
    async with built.router.lifespan_context(built):
        yield built


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _seed(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    total = 0
    for session, msgs in MESSAGES.items():
        body = {"messages": [{"peer_id": p, "content": c} for p, c in msgs]}
        r = await client.post(f"/v3/workspaces/{ws}/sessions/{session}/messages", json=body)
        assert r.status_code == 201, r.text
        total += len(msgs)
    await _embedded(app, ws, total)


async def _embedded(app: FastAPI, ws: str, total: int) -> None:
    """Wait (2 minutes at most) until ``total`` messages of ``ws`` are embedded."""
    deadline = time.monotonic() + 120
    while True:
        async with app.state.engine.connect() as conn:
            done = await conn.scalar(
                text(
                    "SELECT count(DISTINCT message_id) FROM message_embeddings"
                    " WHERE workspace_name = :w"
                ),
                {"w": ws},
            )
        if done == total:
            return
        assert time.monotonic() < deadline, f"{done}/{total} embedded"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def seeded(client: httpx.AsyncClient, app: FastAPI) -> str:
    """A workspace of the messages above (session ``gone`` deleted) beside a second
    workspace holding the same messages."""
    ws = f"one-{uuid.uuid4().hex[:8]}"
    await _seed(client, app, ws)
    await _seed(client, app, f"{ws}-twin")
    r = await client.delete(f"/v3/workspaces/{ws}/sessions/gone")
    assert r.status_code in (200, 202, 204), r.text
    return ws


async def _search(
    client: httpx.AsyncClient, ws: str, route: str, query: str, limit: int, **extra: Any
) -> list[dict[str, Any]]:
    body = {"query": query, "limit": limit, **extra}
    r = await client.post(f"/v3/workspaces/{ws}{route}/search", json=body)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


@pytest.mark.parametrize("route", ROUTES)
async def test_one_statement_finds_what_the_sources_find(
    client: httpx.AsyncClient, seeded: str, route: str
) -> None:
    compared = 0
    for query in QUERIES:
        for limit in (1, 5, 40):
            one = await _search(client, seeded, route, query, limit)
            each = await _search(
                client, seeded, route, query, limit, filters={"workspace_id": seeded}
            )
            assert [m["id"] for m in one] == [m["id"] for m in each], (route, query, limit)
            assert one == each
            compared += len(one)
    assert compared > 100  # the searches found something to compare


async def test_never_a_deleted_sessions_or_another_workspaces_message(
    client: httpx.AsyncClient, seeded: str
) -> None:
    for query in ["Lisbon hiking secret deleted", "ORD-7731", "deleted session"]:
        found = await _search(client, seeded, "", query, 40)
        assert found, query
        assert {m["workspace_id"] for m in found} == {seeded}
        assert "gone" not in {m["session_id"] for m in found}
        assert not any("deleted" in m["content"] for m in found)


@pytest.mark.parametrize("route", ROUTES)
async def test_one_statement_reads_each_sources_evidence(
    app: FastAPI, model: LocalEmbedder, seeded: str, route: str
) -> None:
    """Below the ranking: the same candidates with the same evidence from every source (the
    named peers, the words' counts, which source found each message, its rarest word)."""
    _, kind, name = [*route.split("/"), "", ""][:3]
    target = search.Target(
        seeded,
        session=name if kind == "sessions" else None,
        peer=name if kind == "peers" else None,
    )
    rare = 0
    for query in QUERIES:
        if not SearchQuery.parse(query).text:
            continue
        one, each = await _both_paths(app, model, target, query)
        assert one.named == each.named, query
        assert (one.all_words, one.substring) == (each.all_words, each.substring), query
        assert _evidence(one) == _evidence(each), query
        rare += sum(c.rare_df is not None for c in one.candidates)
    assert rare > 0  # some query had rare words to compare


async def test_all_the_words_in_too_many_messages_bring_no_candidate(
    settings: Settings, app: FastAPI, model: LocalEmbedder, client: httpx.AsyncClient
) -> None:
    """The newest 50 of the messages matching every word are candidates while at most 1,000
    messages match; beyond that the words together are as common as a common word: no
    candidate, no evidence (and no more than 1,001 matches read). Messages not embedded, so
    the keyword sources are all there is."""
    ws = f"common-{uuid.uuid4().hex[:8]}"
    plain = create_app(settings.model_copy(update={"embed_messages": False}))
    transport = httpx.ASGITransport(app=plain)
    async with (
        plain.router.lifespan_context(plain),
        httpx.AsyncClient(transport=transport, base_url="http://test") as writer,
    ):

        async def add(start: int, n: int) -> None:
            body = {
                "messages": [
                    {"peer_id": "p", "content": f"standup notes for week {i}"}
                    for i in range(start, start + n)
                ]
            }
            r = await writer.post(f"/v3/workspaces/{ws}/sessions/s/messages", json=body)
            assert r.status_code == 201, r.text

        for start in range(0, 1000, 100):
            await add(start, 100)
        target = search.Target(ws)
        one, each = await _both_paths(app, model, target, "standup notes")
        assert one.all_words == each.all_words == search.SCORED_WINDOW
        newest = sorted((c.row for c in one.candidates), key=lambda r: r.created_at)
        assert [r.content for r in newest][-1] == "standup notes for week 999"
        assert _evidence(one) == _evidence(each)
        await add(1000, 1)
        one, each = await _both_paths(app, model, target, "standup notes")
        assert one.all_words == each.all_words == 0
        assert one.candidates == each.candidates == []
        # a word of its own still finds its message: the cap is on all the words together
        one, _ = await _both_paths(app, model, target, "week 1000")
        assert [c.row.content for c in one.candidates if c.in_all_words] == [
            "standup notes for week 1000"
        ]

        # what a search found common, the next ones in that scope do not scan for again
        url = f"/v3/workspaces/{ws}/search"
        body = {"query": "standup notes week", "limit": 5}
        found = []
        for _ in range(2):
            with counting(app.state.engine) as counted:
                r = await client.post(url, json=body)
            assert r.status_code == 200, r.text
            found.append(r.json())
            (sql,) = counted.statements
        assert found[0] == found[1]
        assert "AND false" in sql  # all the words: not looked for
        assert " w0 AS (" not in sql  # no word: each is common in the workspace
        session = await client.post(f"/v3/workspaces/{ws}/sessions/s/search", json=body)
        assert session.status_code == 200  # another scope learns for itself

        # all the words in more than 1,000 messages: each word is in more, so no word branch
        # is read (none could be rare) and every word is learned common; same evidence
        peer = search.Target(ws, peer="p")
        one, each = await _both_paths(app, model, peer, "notes standup")
        assert one.all_words_common and sorted(one.common_words) == ["notes", "standup"]
        assert _evidence(one) == _evidence(each)
        parsed = SearchQuery.parse("notes standup")
        (vector,) = await model.embed(["notes standup"])
        options = MessageSearchOptions(query="notes standup")
        shape, values = search._one_statement(peer, parsed, options, vector)
        assert shape.conjunction and shape.words == 2
        plan = await app.state.read_pool.search(
            "EXPLAIN (ANALYZE) " + search_hybrid.statement(shape),
            search_hybrid.arguments(shape, values),
            ef=40,
        )
        branch = "\n".join(r[0] for r in plan).split("CTE w0")[1].split("CTE rare")[0]
        scans = [line for line in branch.splitlines() if " on messages " in line]
        assert scans and all("never executed" in line for line in scans), branch
        # an operator (or a token the text parser splits otherwise): the branches are read
        for query in ("notes or standup", "-notes standup", "notes standup-week"):
            assert not SearchQuery.parse(query).conjunction, query

        # many asking at once in a scope new to them: one scans for the common words, the
        # others wait for it and skip them (each still runs its own statement after)
        url = f"/v3/workspaces/{ws}/peers/p/search"
        with counting(app.state.engine) as counted:
            burst = await asyncio.gather(*(client.post(url, json=body) for _ in range(8)))
        assert [r.status_code for r in burst] == [200] * 8
        assert all(r.json() == burst[0].json() for r in burst)
        searches = [s for s in counted.statements if " near_ids AS (" in s]
        assert len(searches) == 8, counted
        assert sum(" w0 AS (" in s for s in searches) == 1, counted


def test_common_words_are_forgotten_after_a_while_and_bounded() -> None:
    common = search.CommonWords(size=2, seconds=0.2)
    target, other = search.Target("w"), search.Target("w", session="s")

    def found(*words: str) -> search_hybrid.Found:
        return search_hybrid.Found([], set(), 0, 0, list(words), False)

    common.learn(target, found("coffee", "tea"), "coffee tea")
    assert common.unknown(target, ["coffee", "tea", "rare"]) == ["rare"]
    assert common.unknown(other, ["coffee"]) == ["coffee"]  # per scope
    common.learn(target, found("milk"), "milk")
    assert common.unknown(target, ["coffee", "tea", "milk"]) == ["coffee"]  # 2 kept
    time.sleep(0.25)
    assert common.unknown(target, ["tea", "milk"]) == ["tea", "milk"]


async def test_first_searches_of_a_text_wait_for_the_one_running_then_never_again() -> None:
    common = search.CommonWords(size=16, seconds=60)
    target = search.Target("w")
    order: list[str] = []

    async def one(name: str, learn: bool, hold: asyncio.Event | None = None) -> None:
        async with common.first_search(target, "coffee tea"):
            order.append(f"{name} runs")
            if hold is not None:
                await hold.wait()
            if learn:
                found = search_hybrid.Found([], set(), 0, 0, ["coffee"], False)
                common.learn(target, found, "coffee tea")
        order.append(f"{name} done")

    hold = asyncio.Event()
    first = asyncio.create_task(one("first", True, hold))
    await asyncio.sleep(0)
    second = asyncio.create_task(one("second", True))
    cancelled = asyncio.create_task(one("cancelled", True))
    await asyncio.sleep(0.01)
    assert order == ["first runs"]  # the others wait for it
    cancelled.cancel()  # a waiting request going away leaves the running one be
    await asyncio.sleep(0.01)
    hold.set()
    await asyncio.gather(first, second)
    assert order == ["first runs", "first done", "second runs", "second done"]
    assert common.unknown(target, ["coffee", "tea"]) == ["tea"]

    # once searched, searches of the text run side by side (a rare word is never skipped,
    # so waiting would only queue them)
    order.clear()
    hold = asyncio.Event()
    a = asyncio.create_task(one("a", False, hold))
    b = asyncio.create_task(one("b", False, hold))
    await asyncio.sleep(0.01)
    assert order == ["a runs", "b runs"]
    hold.set()
    await asyncio.gather(a, b)

    # a first search that fails (or is cancelled) lets the waiting ones run
    order.clear()
    other = search.Target("w", session="s")
    hold = asyncio.Event()

    async def failing() -> None:
        async with common.first_search(other, "coffee tea"):
            await hold.wait()
            raise RuntimeError("database went away")

    failed = asyncio.create_task(failing())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(common.first_search(other, "coffee tea").__aenter__())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    hold.set()
    with pytest.raises(RuntimeError):
        await failed
    await asyncio.wait_for(waiting, 1)


async def _both_paths(
    app: FastAPI, model: LocalEmbedder, target: search.Target, query: str
) -> tuple[search_hybrid.Found, search_hybrid.Found]:
    """What the one statement reads, and what the sources read one at a time."""
    parsed = SearchQuery.parse(query)
    (vector,) = await model.embed([query])
    options = MessageSearchOptions(query=query)
    factory = app.state.session_factory
    async with unit_of_work(factory) as db:
        shape, values = search._one_statement(target, parsed, options, vector)
        one = await search_hybrid.search(db, shape, values, reads=app.state.read_pool)
        assert not db.in_transaction()  # the search pool ran it
    async with unit_of_work(factory) as db:  # in a caller's transaction: its settings first
        inside = await search_hybrid.search(db, shape, values)
        assert db.in_transaction()
    assert _evidence(inside) == _evidence(one)
    async with unit_of_work(factory) as db:
        repo = SearchRepository(db, search._scope(target, options))
        each = await search._sources(repo, parsed, options.limit, vector, named=target.peer is None)
    return one, each


def _evidence(found: search_hybrid.Found) -> dict[int, tuple[Any, ...]]:
    return {
        c.row.id: (
            c.row,
            None if c.similarity is None else round(c.similarity, 5),
            c.in_all_words,
            c.in_substring,
            c.rare_df,
        )
        for c in found.candidates
    }


async def test_one_round_trip(client: httpx.AsyncClient, app: FastAPI, seeded: str) -> None:
    # a peer's search first checks that the peer exists (a 404 otherwise), as its other routes
    for route, trips in [("", 1), ("/sessions/s1", 1), ("/peers/alice", 2)]:
        with counting(app.state.engine) as counted:
            await _search(client, seeded, route, "where does alice live now", 10)
        assert counted.round_trips == trips, counted
    with counting(app.state.engine) as counted:  # another limit: its HNSW list, set once
        await _search(client, seeded, "", "where does alice live now", 40)
        await _search(client, seeded, "", "where does alice live now", 40)
    assert counted.round_trips <= 3, counted


async def test_searches_read_one_source_at_a_time_set_their_planner_settings_first(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, seeded: str
) -> None:
    """A search with filters of its own reads its sources one statement at a time: in one
    transaction whose first statement sets what the search pool's connections carry (no
    sequential scans, custom plans, iterative HNSW scans). So does a keyword-only search.
    Set outside a transaction, those settings would last one statement: plans walking every
    message, HNSW scans stopping short of filtered-out rows."""
    plain = create_app(settings.model_copy(update={"embed_messages": False}))
    transport = httpx.ASGITransport(app=plain)
    async with (
        plain.router.lifespan_context(plain),
        httpx.AsyncClient(transport=transport, base_url="http://test") as keywords,
    ):
        for http, which, body in [
            (client, app, {"query": "hiking alps", "filters": {"peer_id": "alice"}}),
            (keywords, plain, {"query": "hiking alps"}),
        ]:
            with counting(which.state.engine) as counted:
                r = await http.post(f"/v3/workspaces/{seeded}/search", json=body)
            assert r.status_code == 200, r.text
            assert r.json(), body
            assert (counted.begins, counted.commits) == (1, 1), counted
            first = counted.statements[0]
            assert first.lstrip().startswith("SELECT set_config("), counted
            assert len(counted.statements) >= 3, counted


async def test_search_settings_stay_on_the_search_connections(
    client: httpx.AsyncClient, app: FastAPI, seeded: str
) -> None:
    await asyncio.gather(*(_search(client, seeded, "", "hiking", 10) for _ in range(8)))
    setting = await app.state.read_pool.fetch(
        "SELECT current_setting('enable_seqscan'), current_setting('plan_cache_mode')"
    )
    assert tuple(setting[0]) == ("on", "auto")


async def test_words_no_peer_is_named_leave_the_named_sources_out_until_one_is(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Once a query's words named no peer, the next searches of those words in the scope
    plan no named-peer source (only look the names up); a peer given one of those names
    since is found by that look-up, and the search runs again with its sources: the answer
    is what the search read one source at a time gives, with the new peer's message first."""
    ws = f"names-{uuid.uuid4().hex[:8]}"
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    notes = [
        {"peer_id": "ann", "content": "I moved to a flat near the river in Oslo."},
        {"peer_id": "ann", "content": "The weather in Oslo is cold in winter."},
        {"peer_id": "assistant", "content": "Many people live near the river in Oslo."},
    ]
    r = await client.post(url, json={"messages": notes})
    assert r.status_code == 201, r.text
    query = "where does zara live"

    async def searched() -> tuple[list[str], list[dict[str, Any]]]:
        with counting(app.state.engine) as counted:
            found = await _search(client, ws, "", query, 5)
        return [s for s in counted.statements if " near_ids AS (" in s], found

    first, _ = await searched()
    assert len(first) == 1 and "near_named AS MATERIALIZED" in first[0]
    second, before = await searched()
    assert len(second) == 1 and "near_named AS MATERIALIZED" not in second[0]
    assert " named AS (" in second[0]  # the names are still looked up
    assert "zara" not in {m["peer_id"] for m in before}

    zara = {"peer_id": "zara", "content": "I live in a small house by the sea."}
    r = await client.post(url, json={"messages": [zara]})
    assert r.status_code == 201, r.text
    await _embedded(app, ws, 4)
    third, after = await searched()
    assert ["near_named AS MATERIALIZED" in s for s in third] == [False, True]
    assert after[0]["peer_id"] == "zara"  # the named author's prior, as before the change
    assert after == await _search(client, ws, "", query, 5, filters={"workspace_id": ws})
    fourth, again = await searched()  # a name now: looked for from the first statement
    assert len(fourth) == 1 and "near_named AS MATERIALIZED" in fourth[0]
    assert again == after


async def test_stop_words_leave_their_word_branches_out_once_seen(
    client: httpx.AsyncClient, app: FastAPI, seeded: str
) -> None:
    """A word the text parser keeps nothing of ("what", "the": its stop words) has a word
    branch that reads nothing. Once a search has seen it, later statements leave the branch
    out (less to plan) and answer the same, which is also what the search read one source at
    a time gives."""
    search.COMMON._stop.clear()  # what earlier tests taught this process
    query = "what is the espresso like at the café"
    words = SearchQuery.parse(query).words
    kept = [
        r[0]
        for r in await app.state.read_pool.fetch(
            "SELECT w FROM unnest(CAST($1 AS text[])) AS w"
            " WHERE numnode(plainto_tsquery('english', w)) > 0",
            list(words),
        )
    ]
    assert 0 < len(kept) < len(words)  # the query has stop words and other words

    async def searched() -> tuple[int, list[dict[str, Any]]]:
        with counting(app.state.engine) as counted:
            found = await _search(client, seeded, "/sessions/s2", query, 5)
        (statement,) = [s for s in counted.statements if " near_ids AS (" in s]
        return len(re.findall(r" w\d+ AS \(", statement)), found

    first, before = await searched()
    assert first == len(words)
    second, after = await searched()
    assert second == len(kept)
    assert after == before
    assert after == await _search(
        client, seeded, "/sessions/s2", query, 5, filters={"workspace_id": seeded}
    )


@pytest.mark.parametrize("route", ["", "/sessions/s1"])
async def test_a_nul_in_the_routes_names_is_refused_before_the_query_is_embedded(
    client: httpx.AsyncClient, route: str
) -> None:
    r = await client.post(f"/v3/workspaces/w%00x{route}/search", json={"query": "hello"})
    assert r.status_code == 422, r.text
    assert "NUL" in r.text
