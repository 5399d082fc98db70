"""Scopes over HTTP: get-or-create, listing, membership, backfill status, validation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from honcho_server.db.session import unit_of_work
from honcho_server.services.scopes import ScopeService


def _base(ws: str) -> str:
    return f"/v3/workspaces/{ws}/scopes"


async def _scope(client: httpx.AsyncClient, ws: str, name: str, **body: Any) -> dict[str, Any]:
    r = await client.post(_base(ws), json={"id": name, **body})
    assert r.status_code in (200, 201), r.text
    data: dict[str, Any] = r.json()
    return data


async def _session(client: httpx.AsyncClient, ws: str, name: str, *, message: bool = False) -> None:
    r = await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": name})
    assert r.status_code in (200, 201), r.text
    if message:
        r = await client.post(
            f"/v3/workspaces/{ws}/sessions/{name}/messages",
            json={"messages": [{"peer_id": "alice", "content": "hello"}]},
        )
        assert r.status_code == 201, r.text


async def _add(client: httpx.AsyncClient, ws: str, scope: str, *sessions: str) -> httpx.Response:
    return await client.post(f"{_base(ws)}/{scope}/sessions", json={"session_ids": list(sessions)})


async def _members(client: httpx.AsyncClient, ws: str, scope: str, query: str = "") -> list[str]:
    r = await client.post(f"{_base(ws)}/{scope}/sessions/list{query}")
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["items"]]


async def _status(client: httpx.AsyncClient, ws: str, scope: str) -> dict[str, Any]:
    r = await client.get(f"{_base(ws)}/{scope}/status")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


# --- scopes -------------------------------------------------------------------------------


async def test_get_or_create_scope(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(_base(ws), json={"id": "therapy", "metadata": {"k": 1}})
    assert r.status_code == 201
    body = r.json()
    assert list(body) == ["id", "metadata", "created_at"]
    assert body["id"] == "therapy" and body["metadata"] == {"k": 1}

    # existing, no metadata: unchanged
    again = await client.post(_base(ws), json={"id": "therapy"})
    assert again.status_code == 200 and again.json() == body
    # existing, with metadata: replaced
    r = await client.post(_base(ws), json={"id": "therapy", "metadata": {"k": 2}})
    assert r.status_code == 200
    assert r.json() == {**body, "metadata": {"k": 2}}

    got = await client.get(f"{_base(ws)}/therapy")
    assert got.status_code == 200 and got.json() == {**body, "metadata": {"k": 2}}
    # the workspace was created implicitly
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code == 200


async def test_scope_without_metadata_defaults_to_empty(client: httpx.AsyncClient, ws: str) -> None:
    body = await _scope(client, ws, "x")
    assert body["metadata"] == {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * 507, id="507-chars"),
        pytest.param("scope.x", id="reserved-prefix"),
        pytest.param("has space", id="space"),
        pytest.param("dot.ted", id="dot"),
        pytest.param(5, id="not-a-string"),
    ],
)
async def test_create_rejects_bad_names(client: httpx.AsyncClient, ws: str, name: object) -> None:
    r = await client.post(_base(ws), json={"id": name})
    assert r.status_code == 422, r.text
    listed = await client.post(f"{_base(ws)}/list")
    assert listed.json()["total"] == 0


async def test_create_error_messages(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(_base(ws), json={"id": "scope.x"})
    assert "reserved prefix" in str(r.json()["detail"])
    assert (await client.post(_base(ws), json={})).status_code == 422
    bad_meta = await client.post(_base(ws), json={"id": "x", "metadata": [1]})
    assert bad_meta.status_code == 422


async def test_longest_name_is_accepted(client: httpx.AsyncClient, ws: str) -> None:
    name = "a" * 506
    assert (await _scope(client, ws, name))["id"] == name
    assert (await client.get(f"{_base(ws)}/{name}")).status_code == 200


async def test_get_missing_and_invalid(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.get(f"{_base(ws)}/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Scope nope not found"}
    for bad in ("scope.x", "bad%20name", "a" * 507):
        r = await client.get(f"{_base(ws)}/{bad}")
        assert r.status_code == 422 and isinstance(r.json()["detail"], str), bad
    r = await client.get("/v3/workspaces/bad.ws/scopes/x")
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


async def test_list_scopes_order_and_pages(client: httpx.AsyncClient, ws: str) -> None:
    names = ["c", "a", "b"]
    for n in names:
        await _scope(client, ws, n)
    r = await client.post(f"{_base(ws)}/list")
    assert r.status_code == 200
    page = r.json()
    assert [s["id"] for s in page["items"]] == names
    assert (page["total"], page["page"], page["size"], page["pages"]) == (3, 1, 50, 1)
    assert list(page["items"][0]) == ["id", "metadata", "created_at"]

    r = await client.post(f"{_base(ws)}/list?reverse=true")
    assert [s["id"] for s in r.json()["items"]] == names[::-1]
    r = await client.post(f"{_base(ws)}/list?page=2&size=2")
    assert [s["id"] for s in r.json()["items"]] == ["b"]
    assert (r.json()["total"], r.json()["pages"]) == (3, 2)
    r = await client.post(f"{_base(ws)}/list?page=5&size=2")
    assert r.json()["items"] == [] and r.json()["total"] == 3
    assert (await client.post(f"{_base(ws)}/list?size=101")).status_code == 422
    assert (await client.post(f"{_base(ws)}/list?page=0")).status_code == 422


async def test_list_scopes_of_unknown_workspace_is_empty(
    client: httpx.AsyncClient, ws: str
) -> None:
    r = await client.post(f"{_base(ws)}/list")
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["total"] == 0


async def test_scopes_are_per_workspace(client: httpx.AsyncClient, ws: str) -> None:
    await _scope(client, ws, "shared")
    other = ws + "-b"
    assert (await client.get(f"{_base(other)}/shared")).status_code == 404
    created = await client.post(_base(other), json={"id": "shared"})
    assert created.status_code == 201


# --- membership ---------------------------------------------------------------------------


async def test_add_list_remove_sessions(client: httpx.AsyncClient, ws: str) -> None:
    await _scope(client, ws, "sc")
    for s in ("s1", "s2", "s3"):
        await _session(client, ws, s)

    r = await _add(client, ws, "sc", "s2")
    assert r.status_code == 204 and r.content == b""
    assert (await _add(client, ws, "sc", "s1", "s3", "s1")).status_code == 204
    # already a member: no-op, keeps its place (membership age)
    assert (await _add(client, ws, "sc", "s2")).status_code == 204
    assert await _members(client, ws, "sc") == ["s2", "s1", "s3"]
    assert await _members(client, ws, "sc", "?reverse=true") == ["s3", "s1", "s2"]

    r = await client.post(f"{_base(ws)}/sc/sessions/list?page=2&size=2")
    page = r.json()
    assert [s["id"] for s in page["items"]] == ["s3"]
    assert (page["total"], page["page"], page["size"], page["pages"]) == (3, 2, 2, 2)
    item = page["items"][0]
    assert list(item) == [
        "id",
        "uid",
        "is_active",
        "workspace_id",
        "metadata",
        "configuration",
        "created_at",
    ]
    assert item["workspace_id"] == ws and item["is_active"] is True

    r = await client.delete(f"{_base(ws)}/sc/sessions/s1")
    assert r.status_code == 204 and r.content == b""
    assert await _members(client, ws, "sc") == ["s2", "s3"]
    r = await client.delete(f"{_base(ws)}/sc/sessions/s1")
    assert r.status_code == 404
    assert r.json() == {"detail": "Session s1 is not a member of scope sc"}
    # the session itself is untouched
    sessions = await client.post(f"/v3/workspaces/{ws}/sessions/list")
    assert sorted(s["id"] for s in sessions.json()["items"]) == ["s1", "s2", "s3"]
    # and can join again, now as the newest member
    assert (await _add(client, ws, "sc", "s1")).status_code == 204
    assert await _members(client, ws, "sc") == ["s2", "s3", "s1"]


async def test_a_session_in_several_scopes(client: httpx.AsyncClient, ws: str) -> None:
    await _scope(client, ws, "a")
    await _scope(client, ws, "b")
    await _session(client, ws, "s")
    await _add(client, ws, "a", "s")
    await _add(client, ws, "b", "s")
    await client.delete(f"{_base(ws)}/a/sessions/s")
    assert await _members(client, ws, "a") == []
    assert await _members(client, ws, "b") == ["s"]


async def test_add_requires_existing_sessions(client: httpx.AsyncClient, ws: str) -> None:
    await _scope(client, ws, "sc")
    await _session(client, ws, "real")
    r = await _add(client, ws, "sc", "real", "ghost")
    assert r.status_code == 404 and r.json() == {"detail": "Session ghost not found"}
    r = await _add(client, ws, "sc", "ghost", "phantom")
    assert r.status_code == 404 and r.json() == {"detail": "Sessions ghost, phantom not found"}
    # all or nothing
    assert await _members(client, ws, "sc") == []
    # adding never creates sessions
    sessions = await client.post(f"/v3/workspaces/{ws}/sessions/list")
    assert [s["id"] for s in sessions.json()["items"]] == ["real"]


async def test_membership_routes_on_missing_scope(client: httpx.AsyncClient, ws: str) -> None:
    await _session(client, ws, "s")
    not_found = {"detail": "Scope nope not found"}
    r = await _add(client, ws, "nope", "s")
    assert r.status_code == 404 and r.json() == not_found
    r = await client.delete(f"{_base(ws)}/nope/sessions/s")
    assert r.status_code == 404 and r.json() == not_found
    r = await client.post(f"{_base(ws)}/nope/sessions/list")
    assert r.status_code == 404 and r.json() == not_found
    r = await client.get(f"{_base(ws)}/nope/status")
    assert r.status_code == 404 and r.json() == not_found


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"session_ids": []}, id="empty"),
        pytest.param({"session_ids": [f"s{i}" for i in range(101)]}, id="101-sessions"),
        pytest.param({"session_ids": ["bad name"]}, id="bad-name"),
        pytest.param({"session_ids": "s"}, id="not-a-list"),
        pytest.param({}, id="missing"),
    ],
)
async def test_add_rejects_bad_bodies(
    client: httpx.AsyncClient, ws: str, body: dict[str, Any]
) -> None:
    await _scope(client, ws, "sc")
    r = await client.post(f"{_base(ws)}/sc/sessions", json=body)
    assert r.status_code == 422, r.text


async def test_add_accepts_100_sessions(client: httpx.AsyncClient, ws: str) -> None:
    await _scope(client, ws, "sc")
    names = [f"s{i:03}" for i in range(100)]
    for n in names:
        await _session(client, ws, n)
    assert (await _add(client, ws, "sc", *names)).status_code == 204
    r = await client.post(f"{_base(ws)}/sc/sessions/list?size=100")
    assert r.json()["total"] == 100
    # joined in one statement: ties on membership age fall back to session age
    assert [s["id"] for s in r.json()["items"]] == names


async def test_membership_routes_reject_bad_path_names(client: httpx.AsyncClient, ws: str) -> None:
    await _scope(client, ws, "sc")
    for url, method in [
        (f"{_base(ws)}/scope.sc/sessions/list", "POST"),
        (f"{_base(ws)}/scope.sc/status", "GET"),
        (f"{_base(ws)}/sc/sessions/bad.name", "DELETE"),
        (f"{_base(ws)}/scope.sc/sessions/s", "DELETE"),
    ]:
        r = await client.request(method, url)
        assert r.status_code == 422 and isinstance(r.json()["detail"], str), url
    r = await client.post(f"{_base(ws)}/scope.sc/sessions", json={"session_ids": ["s"]})
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


# --- backfill status ----------------------------------------------------------------------


async def test_status_lists_sessions_that_had_a_backfill(
    client: httpx.AsyncClient, ws: str
) -> None:
    await _scope(client, ws, "sc")
    assert await _status(client, ws, "sc") == {"backfill_status": {}}
    await _session(client, ws, "empty")
    await _session(client, ws, "talky", message=True)
    await _add(client, ws, "sc", "empty", "talky")

    status = (await _status(client, ws, "sc"))["backfill_status"]
    # an empty session has nothing to copy, so no backfill was enqueued for it
    assert list(status) == ["talky"]
    job = status["talky"]
    assert set(job) == {"state", "updated_at", "docs_copied"}
    assert job["state"] == "completed" and job["docs_copied"] == 0
    assert isinstance(job["updated_at"], str)

    await client.delete(f"{_base(ws)}/sc/sessions/talky")
    assert await _status(client, ws, "sc") == {"backfill_status": {}}


# --- statement counts and the session-create hook ------------------------------------------


@contextmanager
def _count_statements(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_queries_do_not_grow_with_sessions(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _scope(client, ws, "one")
    await _scope(client, ws, "many")
    names = [f"s{i}" for i in range(30)]
    for n in names:
        await _session(client, ws, n, message=n == "s0")
    counts = []
    for scope, sessions in (("one", names[:1]), ("many", names)):
        with _count_statements(app) as statements:
            assert (await _add(client, ws, scope, *sessions)).status_code == 204
            await _members(client, ws, scope)
            await _status(client, ws, scope)
        # (the in-process worker's polling of the jobs table shares the engine: not ours)
        ours = [s for s in statements if not s.startswith(("BEGIN", "COMMIT")) and "jobs" not in s]
        counts.append(len(ours))
    assert counts[0] == counts[1] > 0


async def test_join_session_gets_or_creates_scopes(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """``ScopeService.join_session`` backs ``scopes`` on session create."""
    await _scope(client, ws, "old", metadata={"kept": True})
    await _session(client, ws, "fresh")
    await _session(client, ws, "talky", message=True)
    async with unit_of_work(app.state.session_factory) as db:
        service = ScopeService(db)
        await service.join_session(ws, "fresh", ["old", "new", "new"])
        await service.join_session(ws, "talky", ["new"])
    listed = (await client.post(f"{_base(ws)}/list")).json()["items"]
    assert [(s["id"], s["metadata"]) for s in listed] == [("old", {"kept": True}), ("new", {})]
    assert await _members(client, ws, "old") == ["fresh"]
    assert await _members(client, ws, "new") == ["fresh", "talky"]
    # a session joining with history gets a backfill; a fresh one does not
    assert list((await _status(client, ws, "new"))["backfill_status"]) == ["talky"]
