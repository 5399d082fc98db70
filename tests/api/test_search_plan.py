"""A search costs what its scope holds, not how many sessions its workspace has: the inactive
sessions it leaves out are read through their own index (migration 0019), where Postgres used
to walk every session of the workspace once for each keyword source (issue 17)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from databases import fresh_app
from honcho_server.db.repositories import search_hybrid
from honcho_server.db.repositories.raw import fetch
from honcho_server.db.repositories.vectors import CHUNKS_PER_MESSAGE, ef_search
from honcho_server.db.session import unit_of_work
from honcho_server.schemas.search import MessageSearchOptions
from honcho_server.services import search
from honcho_server.services.search_query import SearchQuery

SESSIONS = 20_000  # active sessions of the workspace, none of them searched for
DIMENSIONS = 384  # fresh_app's embedding space


@pytest.fixture(scope="module")
async def crowded_app(database_url: str) -> AsyncIterator[FastAPI]:
    async with fresh_app(database_url) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for session, content in (
                ("talk", "the zebra crossing is on the corner"),
                ("old", "a zebra in a session that was closed"),
            ):
                url = f"/v3/workspaces/w/sessions/{session}/messages"
                message = {"peer_id": "u", "content": content}
                r = await client.post(url, json={"messages": [message]})
                assert r.status_code == 201, r.text
        async with unit_of_work(app.state.session_factory) as db:
            await db.execute(text("UPDATE sessions SET is_active = false WHERE name = 'old'"))
            await db.execute(
                text(
                    "INSERT INTO sessions (workspace_name, name)"
                    " SELECT 'w', 'other-' || g FROM generate_series(1, :n) g"
                ),
                {"n": SESSIONS},
            )
        async with app.state.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("ANALYZE sessions"))
        yield app


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def test_a_search_reads_the_inactive_sessions_not_every_session(
    crowded_app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=crowded_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post("/v3/workspaces/w/search", json={"query": "zebra"})
    assert r.status_code == 200, r.text
    assert [m["session_id"] for m in r.json()] == ["talk"]  # the closed session's is left out

    # the one statement of a hybrid search, planned for its values as the search pool does
    query = SearchQuery.parse("zebra")
    options = MessageSearchOptions(query="zebra")
    vector = [0.01] * DIMENSIONS
    shape, values = search._one_statement(search.Target("w"), query, options, vector)
    assert shape.all_words and shape.substring  # every source that lists inactive sessions
    sql, args = search_hybrid.statement(shape), search_hybrid.arguments(shape, values)
    async with unit_of_work(crowded_app.state.session_factory) as db:
        await fetch(db, search_hybrid._SETTINGS, str(ef_search(values.wide * CHUNKS_PER_MESSAGE)))
        rows = await fetch(db, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *args)
    explained = rows[0][0]
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]
    sessions_read = [
        (node.get("Index Name"), node["Actual Rows"] + node.get("Rows Removed by Filter", 0))
        for node in _nodes(plan["Plan"])
        if node.get("Relation Name") == "sessions"
    ]
    assert sessions_read, "the statement no longer reads sessions: revisit this test"
    assert all(read < 50 for _, read in sessions_read), sessions_read
    top = plan["Plan"]
    buffers = int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])
    assert buffers < 200, buffers
