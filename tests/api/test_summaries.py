"""``GET …/sessions/{s}/summaries``: the deriver's stored summaries, or nulls."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work

SUMMARY_FIELDS = ["content", "message_id", "summary_type", "created_at", "token_count"]


async def _session_with_message(client: httpx.AsyncClient, ws: str, session: str) -> str:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/{session}/messages",
        json={"messages": [{"content": "hello", "peer_id": "alice"}]},
    )
    assert r.status_code == 201, r.text
    message_id: str = r.json()[0]["id"]
    return message_id


async def _save(
    app: FastAPI,
    ws: str,
    session: str,
    kind: str,
    public_id: str,
    *,
    content: str = "a summary",
    token_count: int = 7,
) -> None:
    """Write a summary as the deriver will."""
    async with unit_of_work(app.state.session_factory) as db:
        internal = await db.scalar(
            text("SELECT id FROM messages WHERE public_id = :p"), {"p": public_id}
        )
        await SummaryRepository(db).save(
            ws,
            session,
            kind,
            content=content,
            message_id=int(internal),
            message_public_id=public_id,
            token_count=token_count,
            created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        )


async def test_no_summaries_yet(client: httpx.AsyncClient, ws: str) -> None:
    await _session_with_message(client, ws, "s1")
    r = await client.get(f"/v3/workspaces/{ws}/sessions/s1/summaries")
    assert r.status_code == 200
    assert r.json() == {"id": "s1", "short_summary": None, "long_summary": None}


async def test_unknown_session_reads_as_empty(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.get(f"/v3/workspaces/{ws}/sessions/nope/summaries")
    assert r.status_code == 200
    assert r.json() == {"id": "nope", "short_summary": None, "long_summary": None}


async def test_stored_summaries(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    message_id = await _session_with_message(client, ws, "s1")
    await _save(app, ws, "s1", "short", message_id, content="brief", token_count=3)
    r = await client.get(f"/v3/workspaces/{ws}/sessions/s1/summaries")
    body = r.json()
    assert list(body) == ["id", "short_summary", "long_summary"]
    assert body["long_summary"] is None
    assert body["short_summary"] == {
        "content": "brief",
        "message_id": message_id,
        "summary_type": "honcho_chat_summary_short",
        "created_at": "2025-01-02T03:04:05Z",
        "token_count": 3,
    }
    assert list(body["short_summary"]) == SUMMARY_FIELDS

    await _save(app, ws, "s1", "long", message_id, content="longer", token_count=30)
    await _save(app, ws, "s1", "short", message_id, content="brief 2", token_count=4)
    body = (await client.get(f"/v3/workspaces/{ws}/sessions/s1/summaries")).json()
    assert body["short_summary"]["content"] == "brief 2"
    assert body["long_summary"]["summary_type"] == "honcho_chat_summary_long"
    assert body["long_summary"]["token_count"] == 30
    # summaries belong to their session only
    other = (await client.get(f"/v3/workspaces/{ws}/sessions/s2/summaries")).json()
    assert other["short_summary"] is None and other["long_summary"] is None


async def test_inactive_session_reads_as_empty(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    message_id = await _session_with_message(client, ws, "s1")
    await _save(app, ws, "s1", "short", message_id)
    async with unit_of_work(app.state.session_factory) as db:
        await db.execute(
            text("UPDATE sessions SET is_active = false WHERE workspace_name = :w AND name = 's1'"),
            {"w": ws},
        )
    r = await client.get(f"/v3/workspaces/{ws}/sessions/s1/summaries")
    assert r.json() == {"id": "s1", "short_summary": None, "long_summary": None}
