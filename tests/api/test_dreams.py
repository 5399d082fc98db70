"""``POST /v3/workspaces/{w}/schedule_dream`` over HTTP: 204, validation, de-duplication."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from honcho_server.app import create_app
from honcho_server.settings import Settings
from worker_support import rows


async def _setup(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions", json={"id": "s", "peers": {"alice": {}, "bob": {}}}
    )
    assert r.status_code == 201, r.text


async def _schedule(client: httpx.AsyncClient, ws: str, **body: Any) -> httpx.Response:
    return await client.post(f"/v3/workspaces/{ws}/schedule_dream", json=body)


async def _dreams(app: FastAPI, ws: str) -> list[Any]:
    return await rows(
        app,
        "SELECT payload FROM jobs WHERE kind = 'dream' AND workspace_name = :ws ORDER BY id",
        ws=ws,
    )


async def test_schedules_one_dream_per_type_and_collection(
    app: FastAPI, client: httpx.AsyncClient, ws: str
) -> None:
    await _setup(client, ws)
    r = await _schedule(client, ws, observer="alice", dream_type="omni")
    assert r.status_code == 204 and r.content == b""
    [job] = await _dreams(app, ws)
    assert job.payload == {
        "kind": "dream",
        "workspace": ws,
        "observer": "alice",
        "observed": "alice",
        "dream_type": "omni",
        "session": None,
        "rebuild": False,
        "automatic": False,
    }
    # the same dream again (pending or running): nothing more is queued
    r = await _schedule(client, ws, observer="alice", observed="alice", dream_type="omni")
    assert r.status_code == 204
    assert len(await _dreams(app, ws)) == 1
    # another type, another collection: each its own job
    r = await _schedule(client, ws, observer="alice", dream_type="card_refresh", rebuild=True)
    assert r.status_code == 204
    r = await _schedule(client, ws, observer="alice", observed="bob", dream_type="omni")
    r = await _schedule(
        client, ws, observer="bob", observed="alice", dream_type="omni", session_id="s"
    )
    assert r.status_code == 204
    got = [
        (j.payload["observer"], j.payload["observed"], j.payload["dream_type"])
        for j in await _dreams(app, ws)
    ]
    assert got == [
        ("alice", "alice", "omni"),
        ("alice", "alice", "card_refresh"),
        ("alice", "bob", "omni"),
        ("bob", "alice", "omni"),
    ]
    last = (await _dreams(app, ws))[-1].payload
    assert last["session"] == "s"
    assert (await _dreams(app, ws))[1].payload["rebuild"] is True


async def test_bad_bodies_are_422(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    for body in (
        {"dream_type": "omni"},
        {"observer": "alice"},
        {"observer": "alice", "dream_type": "nightmare"},
        {"observer": "alice", "dream_type": "omni", "rebuild": "maybe"},
        {"observer": ["alice"], "dream_type": "omni"},
    ):
        r = await _schedule(client, ws, **body)
        assert r.status_code == 422, body
        assert isinstance(r.json()["detail"], list)
    r = await _schedule(client, ws, observer="alice", observed="scope.team", dream_type="omni")
    assert r.status_code == 422
    assert "scope" in r.json()["detail"]


async def test_unknown_workspace_peers_or_session_are_404(
    app: FastAPI, client: httpx.AsyncClient, ws: str
) -> None:
    r = await _schedule(client, ws, observer="alice", dream_type="omni")
    assert r.status_code == 404 and "Workspace" in r.json()["detail"]
    await _setup(client, ws)
    for body, missing in (
        ({"observer": "ghost"}, "ghost"),
        ({"observer": "alice", "observed": "ghost"}, "ghost"),
        ({"observer": "alice", "session_id": "nope"}, "nope"),
    ):
        r = await _schedule(client, ws, dream_type="omni", **body)
        assert r.status_code == 404, body
        assert missing in r.json()["detail"]
    assert await _dreams(app, ws) == []


async def test_disabled_dreams_are_400(settings: Settings, ws: str) -> None:
    off = settings.model_copy(update={"dream_enabled": False, "embedded_worker": False})
    app = create_app(off)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await _setup(client, ws)
            r = await _schedule(client, ws, observer="alice", dream_type="omni")
            assert r.status_code == 400
            assert r.json() == {"detail": "Dreams are not enabled in the system configuration"}
            assert await _dreams(app, ws) == []
