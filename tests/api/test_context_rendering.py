"""Session context is rendered from rows without a model per message (issue 17); the body
must stay byte for byte what pydantic renders for ``SessionContext``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.db.repositories.message_json import join_rendered
from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work
from honcho_server.schemas.messages import Message
from honcho_server.schemas.pagination import Page
from honcho_server.schemas.summaries import SessionContext, SessionSummaries
from statement_counter import counting


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
        await db.execute(  # rendered by Postgres: microseconds with their trailing zeros
            text(
                "UPDATE summaries SET created_at = '2024-05-06 07:08:09.5+00'"
                " WHERE workspace_name = :w"
            ),
            {"w": ws},
        )
    summaries = await client.get(f"/v3/workspaces/{ws}/sessions/s/summaries")
    short = SessionSummaries.model_validate_json(summaries.content).short_summary
    assert short is not None and short.created_at == "2024-05-06T07:08:09.500000Z"
    # With summaries the messages are read (and rendered) once the choice is made: two
    # statements whether one is chosen ("", 2000) or none fits (100 tokens: 50 > 40%).
    queries = [("", 2), ("?tokens=2000", 2), ("?tokens=100", 2), ("?summary=false", 1)]
    for query, statements in queries:
        with counting(app.state.engine) as counted:
            r = await client.get(f"/v3/workspaces/{ws}/sessions/s/context{query}")
        assert counted.round_trips == statements, (query, counted)
        model = SessionContext.model_validate_json(r.content)
        assert r.content == model.model_dump_json().encode()
        if query in ("", "?tokens=2000"):
            assert model.summary == short  # as the summaries route renders it
            assert model.messages[0].id != created[0]["id"]
        if query == "":
            assert [m.id for m in model.messages] == [m["id"] for m in created[200:]]
        if query == "?summary=false":
            assert model.summary is None


async def test_context_rendered_by_postgres_is_what_the_model_renders(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """Postgres renders each message of a context (issue 17): strings escaped as pydantic-core
    escapes them, created_at as it writes a UTC datetime, metadata as it renders the decoded
    JSONB. Including what only a direct write stores: a peer name the API would refuse,
    JSONB numbers whose stored digits a float renders otherwise (1.50, 0.0000001), a year
    before 1000. The same messages as the list (rendered by Postgres the same way), and as the
    filtered list (rendered in Python from decoded rows)."""
    msgs: list[dict[str, Any]] = [
        {"peer_id": "alice", "content": 'ünïcödé ✓ 😀 "q" \\ back / slash </script>'},
        {"peer_id": "bob", "content": "controls \x01\x08\x0c\x1f\x7f \u2028\u2029 \t\n\r end"},
        {"peer_id": "alice", "content": "", "created_at": "2024-01-02T03:04:05Z"},
        {
            "peer_id": "bob",
            "content": "micro",
            "created_at": "2024-01-02T03:04:05.120000Z",
            "metadata": {"a": [1, {"b": None}], "big": 12345678901234567890, "e": {}, "l": []},
        },
        {
            "peer_id": "alice",
            "content": "offset",
            "created_at": "2024-01-02T03:04:05.000001+02:00",
            "metadata": {"ü ✓": "x: y, z", "f": 1.5, "g": 1e-7, "h": 1e16, "s": '\x01\n"\\'},
        },
        {"peer_id": "bob", "content": "keys", "metadata": {"zz": 1, "a": 2, "mm": {"k": "v"}}},
        {"peer_id": "alice", "content": "raw jsonb"},
        {"peer_id": "bob", "content": "old"},
    ]
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    created = (await client.post(url, json={"messages": msgs})).json()
    odd_peer = 'o"dd \\ pëer ✓\t'
    async with unit_of_work(app.state.session_factory) as db:
        await db.execute(
            text("INSERT INTO peers (workspace_name, name) VALUES (:w, :p)"),
            {"w": ws, "p": odd_peer},
        )
        for public_id, change in [
            (created[0]["id"], "peer_name = :p"),
            (created[6]["id"], """metadata = '{"dec": 1.50, "tiny": 0.0000001, "k": 1e3}'"""),
            (created[7]["id"], "created_at = '0999-03-04 05:06:07.1+00'"),
        ]:
            await db.execute(
                text(f"UPDATE messages SET {change} WHERE public_id = :id"),
                {"id": public_id, "p": odd_peer},
            )
    listed = await client.post(f"{url}/list", json={})
    page = Page[Message].model_validate_json(listed.content)
    assert listed.content == page.model_dump_json().encode()
    # a filter that keeps them all takes the other path: rows rendered by pydantic-core
    filtered = await client.post(f"{url}/list", json={"filters": {"session_id": "s"}})
    assert filtered.content == listed.content
    for reverse in ("true", "false"):
        two = await client.post(f"{url}/list?size=2&page=2&reverse={reverse}", json={})
        same = await client.post(
            f"{url}/list?size=2&page=2&reverse={reverse}", json={"filters": {"session_id": "s"}}
        )
        assert two.content == same.content and len(two.json()["items"]) == 2
    for query in ("", "?tokens=2000", "?summary=false"):
        r = await client.get(f"/v3/workspaces/{ws}/sessions/s/context{query}")
        model = SessionContext.model_validate_json(r.content)
        assert r.content == model.model_dump_json().encode()
        assert model.messages == page.items
    assert [m.id for m in model.messages] == [m["id"] for m in created]
    assert model.messages[0].peer_id == odd_peer
    assert model.messages[2].token_count == 0
    assert model.messages[6].metadata == {"k": 1000, "dec": 1.5, "tiny": 1e-7}
    assert model.messages[7].created_at == datetime(999, 3, 4, 5, 6, 7, 100000, tzinfo=UTC)
    for rendered in [
        b'"created_at":"2024-01-02T03:04:05Z"',
        b'"created_at":"2024-01-02T03:04:05.120000Z"',
        b'"created_at":"2024-01-02T01:04:05.000001Z"',
        b'"created_at":"0999-03-04T05:06:07.100000Z"',
        b'"metadata":{"k":1000,"dec":1.5,"tiny":1e-7}',
        b'"metadata":{}',
    ]:
        assert rendered in r.content


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


def test_join_rendered_renders_the_metadata_postgres_left() -> None:
    """Messages are joined in one copy around the body's head and tail; a message whose
    metadata Postgres left between NUL bytes gets it rendered by pydantic-core, wherever it
    is in the list (first, last, alone)."""
    plain, left = b'{"m":{}}', b'{"m":\0{"b": [1, 2], "a": 1.50}\0}'
    rendered = b'{"m":{"b":[1,2],"a":1.5}}'
    assert join_rendered(b"[", [], b"]") == b"[]"
    assert join_rendered(b"[", [plain], b"]") == b"[" + plain + b"]"
    assert join_rendered(b"[", [left], b"]") == b"[" + rendered + b"]"
    for messages, expected in [
        ([plain, plain], [plain, plain]),
        ([left, plain, left], [rendered, plain, rendered]),
        ([plain, left], [plain, rendered]),
    ]:
        assert join_rendered(b"<", list(messages), b">") == b"<" + b",".join(expected) + b">"
