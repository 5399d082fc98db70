"""Round trips to Postgres per hot route (statements plus BEGIN/COMMIT), so a change that adds
one fails here. Lower is fine: then lower the budget. (Issue 17; the shared app has message
embedding and the deriver off: with embedding on, ingest adds one INSERT of its job.)

Before issue 17: get-or-create of an existing peer or session 5, of a workspace 4; ingest of
1 or 20 messages 6 (then 4, then 2: a read and one atomic write, no transaction); list 3;
context of 2,000 tokens 4.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from statement_counter import Counted, counting


@pytest.fixture
async def seeded(client: httpx.AsyncClient, ws: str) -> str:
    """A workspace with session ``s`` of 300 messages by ``u0``..``u2``."""
    for start in range(0, 300, 100):
        msgs = [
            {"peer_id": f"u{i % 3}", "content": f"seed message number {i} " * 4}
            for i in range(start, start + 100)
        ]
        url = f"/v3/workspaces/{ws}/sessions/s/messages"
        r = await client.post(url, json={"messages": msgs})
        assert r.status_code == 201, r.text
    return f"/v3/workspaces/{ws}"


async def _count(
    app: FastAPI, client: httpx.AsyncClient, method: str, url: str, body: object = None
) -> Counted:
    with counting(app.state.engine) as counted:
        r = await client.request(method, url, json=body)
    assert r.status_code < 300, r.text
    return counted


def _one_message(peer: str = "u1") -> dict[str, object]:
    return {"messages": [{"peer_id": peer, "content": "hello there"}]}


async def test_get_or_create_existing_is_one_select(
    client: httpx.AsyncClient, app: FastAPI, seeded: str, ws: str
) -> None:
    for url, body in [
        (f"{seeded}/peers", {"id": "u1"}),
        (f"{seeded}/sessions", {"id": "s"}),
        ("/v3/workspaces", {"id": ws}),
    ]:
        counted = await _count(app, client, "POST", url, body)
        assert counted.round_trips == 1, counted
        assert counted.statements[0].lstrip().upper().startswith("SELECT"), counted


async def test_get_or_create_new_stays_in_one_transaction(
    client: httpx.AsyncClient, app: FastAPI, seeded: str
) -> None:
    """The miss costs the read-first SELECT on top of the create (workspace held, INSERT)."""
    for url in (f"{seeded}/peers", f"{seeded}/sessions"):
        counted = await _count(app, client, "POST", url, {"id": "brand-new"})
        assert (counted.begins, counted.commits) == (1, 1), counted
        assert counted.round_trips <= 5, counted


async def test_ingest_is_a_read_and_one_write(
    client: httpx.AsyncClient, app: FastAPI, seeded: str
) -> None:
    """One statement reads the session's state, one reserves the numbers and inserts the rows
    with their flags set and their jobs, outside a transaction (it is atomic on its own): no
    BEGIN or COMMIT, no UPDATE of a row just inserted, whatever the batch size. (The read is
    skipped for the next batch of the same authors while the state is unchanged:
    ``tests/api/test_ingest_statement.py``.)"""
    url = f"{seeded}/sessions/s/messages"
    batch = {"messages": [{"peer_id": f"u{i % 2}", "content": f"item {i}"} for i in range(20)]}
    for body in (_one_message(), _one_message("new-author"), batch):
        counted = await _count(app, client, "POST", url, body)
        assert counted.round_trips == 2, counted
        assert (counted.begins, counted.commits) == (0, 0), counted
        assert not any(s.lstrip().upper().startswith("UPDATE") for s in counted.statements)


async def test_reads_run_without_a_transaction(
    client: httpx.AsyncClient, app: FastAPI, seeded: str
) -> None:
    listing = await _count(
        app, client, "POST", f"{seeded}/sessions/s/messages/list?size=50&reverse=true", {}
    )
    assert listing.round_trips == 1, listing
    context = await _count(app, client, "GET", f"{seeded}/sessions/s/context?tokens=2000")
    assert context.round_trips == 1, context  # the summaries and the messages that fit
    for url in (f"{seeded}/peers/list", "/v3/workspaces/list"):
        listed = await _count(app, client, "POST", url, {})
        assert listed.round_trips == 1, listed
    # a peer's routes first check that the peer is not being erased: a read of its own
    of_peer = await _count(app, client, "POST", f"{seeded}/peers/u1/sessions", {})
    assert of_peer.round_trips == 2, of_peer
    got = await _count(app, client, "GET", seeded)
    assert got.round_trips == 1, got
    whole = await _count(app, client, "GET", f"{seeded}/sessions/s/context")
    assert whole.round_trips == 1, whole  # the first window is sized to the budget, not 256


async def test_agent_loop_turn(client: httpx.AsyncClient, app: FastAPI, seeded: str) -> None:
    """Store the user's message, read a 2,000-token context, store the reply."""
    url = f"{seeded}/sessions/s"
    # then each ingest plans from the state kept from the last one (the user's changed once:
    # the assistant joined after it was read)
    for trips in (5, 5, 3, 3):
        with counting(app.state.engine) as counted:
            for method, path, body in [
                ("POST", "/messages", _one_message("user")),
                ("GET", "/context?tokens=2000", None),
                ("POST", "/messages", _one_message("assistant")),
            ]:
                r = await client.request(method, url + path, json=body)
                assert r.status_code < 300, r.text
        assert counted.round_trips == trips, counted


async def test_ingest_queues_all_its_jobs_in_one_statement(database_url: str, ws: str) -> None:
    """README defaults (message embedding and the deriver on): the embedding job and the
    derivation job go in the write statement with the rows (2 round trips in all)."""
    import asyncpg

    from honcho_server.app import create_app
    from honcho_server.settings import Settings

    settings = Settings(_env_file=None, database_url=database_url, embedded_worker=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            counted = await _count(
                app, client, "POST", f"/v3/workspaces/{ws}/sessions/s/messages", _one_message()
            )
    assert counted.round_trips == 2, counted
    jobs = [s for s in counted.statements if "INSERT INTO jobs" in s]
    assert len(jobs) == 1, counted
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        kinds = await admin.fetch("SELECT kind FROM jobs WHERE workspace_name = $1 ORDER BY id", ws)
    finally:
        await admin.close()
    assert [k["kind"] for k in kinds] == ["embed_messages", "derive"]
