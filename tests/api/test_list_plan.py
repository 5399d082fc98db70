"""The newest page of an old session in a busy workspace reads the page, not the messages
stored after it. With the session matched by equality and the rows ordered by id, the
planner walks the primary key backwards through every newer message whenever its statistics
say the session is a large share of the table; matched by BETWEEN and ordered by (session,
id), only the session's index gives the order (issue 17). The same for session context."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from databases import fresh_app
from honcho_server.db.repositories.context import _RENDERED
from honcho_server.db.repositories.message_json import name_parts
from honcho_server.db.repositories.messages import _RENDERED_PAGES
from honcho_server.db.session import unit_of_work

OLD, NEWER = 10_000, 40_000
ONE_STEP = """SELECT * FROM messages WHERE workspace_name = $1 AND session_name = $2
    ORDER BY id DESC LIMIT $3 OFFSET $4"""


@pytest.fixture(scope="module")
async def busy_app(database_url: str) -> AsyncIterator[FastAPI]:
    async with fresh_app(database_url) as app:
        yield app


async def _insert(app: FastAPI, session: str, count: int) -> None:
    async with unit_of_work(app.state.session_factory) as db:
        await db.execute(
            text(
                "INSERT INTO messages (public_id, workspace_name, session_name, peer_name,"
                " seq_in_session, content, token_count)"
                " SELECT :s || '-' || g, 'w', :s, 'u', g + 1, :s || ' message ' || g, 3"
                " FROM generate_series(1, :n) g"
            ),
            {"s": session, "n": count},
        )
        await db.execute(
            text("UPDATE sessions SET message_count = :n + 1 WHERE name = :s"),
            {"s": session, "n": count},
        )


async def _maintain(app: FastAPI, sql: str) -> None:
    async with app.state.engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text(sql))


def _type(value: Any) -> str:
    return "boolean" if isinstance(value, bool) else "bigint" if isinstance(value, int) else "text"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def _buffers(app: FastAPI, sql: str, args: list[Any]) -> int:
    """Shared buffers the statement reads, planned as a prepared statement's first runs are
    (a custom plan for these parameters)."""
    types = ", ".join(_type(a) for a in args)
    literal = ", ".join(_literal(a) for a in args)
    async with unit_of_work(app.state.session_factory) as db:
        await db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        await db.execute(text(f"PREPARE page_plan ({types}) AS {sql}".replace(":", r"\:")))
        explained = (
            await db.execute(
                text(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE page_plan ({literal})")
            )
        ).scalar_one()
        await db.execute(text("DEALLOCATE page_plan"))
    plan = explained[0] if isinstance(explained, list) else json.loads(explained)[0]
    top = plan["Plan"]
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


async def test_an_old_sessions_newest_page_reads_only_the_page(busy_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=busy_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for session in ("old", "busy"):
            url = f"/v3/workspaces/w/sessions/{session}/messages"
            r = await client.post(url, json={"messages": [{"peer_id": "u", "content": "first"}]})
            assert r.status_code == 201
        # The statistics are taken when the old session is most of the table, as autovacuum
        # leaves them until it next analyzes (up to a minute, and only after 10% more rows).
        await _insert(busy_app, "old", OLD)
        await _maintain(busy_app, "VACUUM ANALYZE messages")
        await _maintain(busy_app, "ALTER TABLE messages SET (autovacuum_enabled = false)")
        await _insert(busy_app, "busy", NEWER)

        r = await client.post("/v3/workspaces/w/sessions/old/messages/list?reverse=true")
        page = r.json()
        assert page["total"] == OLD + 1
        assert [m["id"] for m in page["items"]] == [f"old-{i}" for i in range(OLD, OLD - 50, -1)]

    args: list[Any] = ["w", "old", 50, 0]
    trap = await _buffers(busy_app, ONE_STEP, args)
    assert trap > 300, f"the data no longer sets the trap ({trap} buffers): make it bigger"
    parts = name_parts("w", "old")
    for reverse in (True, False):
        page = await _buffers(busy_app, _RENDERED_PAGES[reverse], [*args, *parts])
        assert page < 30, (reverse, page, trap)
    # session context: the newest messages that fit 2,000 tokens (no summaries)
    context = await _buffers(busy_app, _RENDERED, ["w", "old", 0, 2000, 256, False, *parts])
    assert context < 40, (context, trap)
