"""Session context is rendered from rows without a model per message (issue 17); the body
must stay byte for byte what pydantic renders for ``SessionContext``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work
from honcho_server.schemas.messages import Message
from honcho_server.schemas.pagination import Page
from honcho_server.schemas.summaries import SessionContext


async def test_context_body_is_what_the_model_renders(client: httpx.AsyncClient, ws: str) -> None:
    msgs = [
        {"peer_id": "alice", "content": "plain"},
        {"peer_id": "bob", "content": 'ünïcödé ✓ "quoted" \\ back', "metadata": {"n": 1.5}},
        {
            "peer_id": "alice",
            "content": "nested",
            "metadata": {"a": [1, {"b": None}], "big": 12345678901234567890, "t": True},
            "created_at": "2024-01-02T03:04:05Z",
        },
    ]
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    assert (await client.post(url, json={"messages": msgs})).status_code == 201
    for query in ("", "?tokens=2000", "?tokens=0", "?summary=false"):
        r = await client.get(f"/v3/workspaces/{ws}/sessions/s/context{query}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        model = SessionContext.model_validate_json(r.content)
        assert r.content == model.model_dump_json().encode()
    assert len(model.messages) == 3


async def test_context_with_a_summary_is_what_the_model_renders(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """A stored summary (read in the same statement as the messages) renders as before, and
    only the messages after it follow."""
    msgs = [{"peer_id": "alice", "content": f"message number {i} " * 20} for i in range(300)]
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    created = []
    for start in range(0, 300, 100):
        r = await client.post(url, json={"messages": msgs[start : start + 100]})
        created += r.json()
    covered = created[199]
    async with unit_of_work(app.state.session_factory) as db:
        internal = (
            await db.execute(
                text("SELECT id FROM messages WHERE public_id = :p"), {"p": covered["id"]}
            )
        ).scalar_one()
        await SummaryRepository(db).save(
            ws,
            "s",
            "short",
            content="what happened ✓",
            message_id=internal,
            message_public_id=covered["id"],
            token_count=50,
        )
    for query in ("", "?tokens=2000", "?tokens=100", "?summary=false"):
        r = await client.get(f"/v3/workspaces/{ws}/sessions/s/context{query}")
        model = SessionContext.model_validate_json(r.content)
        assert r.content == model.model_dump_json().encode()
        if query in ("", "?tokens=2000"):
            assert model.summary is not None and model.summary.message_id == covered["id"]
            assert model.summary.created_at.endswith("Z")
            assert model.messages[0].id != created[0]["id"]
        if query == "":
            assert [m.id for m in model.messages] == [m["id"] for m in created[200:]]
        if query == "?summary=false":
            assert model.summary is None


async def test_message_list_body_is_what_the_model_renders(
    client: httpx.AsyncClient, ws: str
) -> None:
    """The list is rendered from rows too, filtered (SQLAlchemy) or not (asyncpg)."""
    msgs = [
        {"peer_id": "alice" if i % 2 else "bob", "content": f"m{i} ✓", "metadata": {"i": i}}
        for i in range(7)
    ]
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    assert (await client.post(url, json={"messages": msgs})).status_code == 201
    pages = 0
    for query, body in [
        ("?size=3", {}),
        ("?size=3&page=3&reverse=true", {}),
        ("?size=3&page=9", {}),  # past the end: the total still counts
        ("?size=2", {"filters": {"peer_id": "alice"}}),
        ("?size=2&page=5", {"filters": {"peer_id": "alice"}}),
    ]:
        r = await client.post(f"{url}/list{query}", json=body)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        page = Page[Message].model_validate_json(r.content)
        assert r.content == page.model_dump_json().encode()
        pages += page.pages
    assert pages == 3 + 3 + 3 + 2 + 2
