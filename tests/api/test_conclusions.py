"""Conclusions over HTTP: manual creation, listing with filters, lookup and soft deletion."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, text

from honcho_server.db.repositories.conclusion_rows import NewConclusionRow
from honcho_server.db.repositories.conclusions import ConclusionRepository
from honcho_server.db.session import unit_of_work
from honcho_server.ids import new_id

FIELDS = [
    "id",
    "content",
    "observer_id",
    "observed_id",
    "session_id",
    "level",
    "source_ids",
    "times_derived",
    "created_at",
]


async def _setup(client: httpx.AsyncClient, ws: str) -> None:
    """Peers alice and bob; active sessions s1 and s2."""
    for peer in ("alice", "bob"):
        assert (await client.post(f"/v3/workspaces/{ws}/peers", json={"id": peer})).is_success
    for s in ("s1", "s2"):
        assert (await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": s})).is_success


def _item(content: str, observer: str = "alice", observed: str = "alice", **kw: Any) -> Any:
    return {"content": content, "observer_id": observer, "observed_id": observed, **kw}


async def _create(client: httpx.AsyncClient, ws: str, *items: Any) -> list[dict[str, Any]]:
    r = await client.post(f"/v3/workspaces/{ws}/conclusions", json={"conclusions": list(items)})
    assert r.status_code == 201, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def _list(
    client: httpx.AsyncClient, ws: str, filters: Any = None, query: str = ""
) -> dict[str, Any]:
    body = None if filters is None else {"filters": filters}
    r = await client.post(f"/v3/workspaces/{ws}/conclusions/list{query}", json=body)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def _sql(app: FastAPI, sql: str, **params: Any) -> list[Any]:
    """Run one statement (returning rows) in its own committed transaction."""
    async with unit_of_work(app.state.session_factory) as db:
        return list((await db.execute(text(sql), params)).all())


async def test_create_returns_conclusions_in_request_order(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _setup(client, ws)
    created = await _create(
        client,
        ws,
        _item("likes tea"),
        _item("bob is tall", observed="bob", session_id="s1"),
        _item("nul\x00 stripped", observer="bob", observed="bob"),
    )
    assert [c["content"] for c in created] == ["likes tea", "bob is tall", "nul stripped"]
    assert all(list(c) == FIELDS for c in created)
    assert [(c["observer_id"], c["observed_id"], c["session_id"]) for c in created] == [
        ("alice", "alice", None),
        ("alice", "bob", "s1"),
        ("bob", "bob", None),
    ]
    assert {c["level"] for c in created} == {"explicit"}
    assert all(c["source_ids"] == [] and c["times_derived"] == 1 for c in created)
    assert all(len(c["id"]) == 21 for c in created) and len({c["id"] for c in created}) == 3
    assert created[0]["created_at"].endswith("Z")
    rows = await _sql(
        app,
        "SELECT times_derived, level, embedding IS NOT NULL FROM conclusions"
        " WHERE workspace_name = :ws",
        ws=ws,
    )
    assert rows == [(1, "explicit", True)] * 3  # embedded by the request itself
    jobs = await _sql(
        app, "SELECT count(*) FROM jobs WHERE workspace_name = :ws AND kind LIKE 'embed%'", ws=ws
    )
    assert jobs == [(0,)]  # nothing left for the worker


async def test_create_batch_costs_three_statements(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """Peer check, session check and one INSERT, however large the batch."""
    await _setup(client, ws)
    items = [
        _item(f"c{i}", observed="bob" if i % 2 else "alice", session_id=f"s{i % 2 + 1}")
        for i in range(60)
    ]
    statements: list[str] = []

    def record(*args: Any) -> None:
        # the in-process worker polls the queue and heartbeats on the same engine
        if "jobs" not in args[2] and "workers" not in args[2]:
            statements.append(args[2])

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        created = await _create(client, ws, *items)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [c["content"] for c in created] == [f"c{i}" for i in range(60)]
    assert len(statements) == 3, statements
    assert sum(s.lstrip().upper().startswith("INSERT") for s in statements) == 1


async def test_create_accepts_observations_alias(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    r = await client.post(
        f"/v3/workspaces/{ws}/conclusions", json={"observations": [_item("via alias")]}
    )
    assert r.status_code == 201 and r.json()[0]["content"] == "via alias"


async def test_create_requires_existing_peers_and_active_sessions(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _setup(client, ws)
    url = f"/v3/workspaces/{ws}/conclusions"
    cases = [
        [_item("ok"), _item("x", observer="carol")],
        [_item("x", observed="carol")],
        [_item("x", session_id="nope")],
    ]
    for items in cases:
        r = await client.post(url, json={"conclusions": items})
        assert r.status_code == 404, r.text
        assert isinstance(r.json()["detail"], str)
    # a deleted (inactive) session counts as missing
    await _sql(
        app,
        "UPDATE sessions SET is_active = false WHERE workspace_name = :ws AND name = 's2' "
        "RETURNING name",
        ws=ws,
    )
    r = await client.post(url, json={"conclusions": [_item("x", session_id="s2")]})
    assert r.status_code == 404 and "s2" in r.json()["detail"]
    # an unknown workspace has no peers
    r = await client.post(
        f"/v3/workspaces/{ws}-none/conclusions", json={"conclusions": [_item("x")]}
    )
    assert r.status_code == 404
    # nothing was written and no peer was created implicitly
    assert (await _list(client, ws))["total"] == 0
    peers = (await client.post(f"/v3/workspaces/{ws}/peers/list")).json()
    assert sorted(p["id"] for p in peers["items"]) == ["alice", "bob"]


async def test_create_validation(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    url = f"/v3/workspaces/{ws}/conclusions"
    bad_bodies: list[Any] = [
        {},
        {"conclusions": []},
        {"conclusions": [_item(f"c{i}") for i in range(101)]},
        {"conclusions": [_item("")]},
        {"conclusions": [_item("\x00")]},
        {"conclusions": [_item("x" * 65_536)]},
        {"conclusions": [_item("x " * 9_000)]},  # 18,000 chars but ~9,000 tokens
        {"conclusions": [{"content": "no observer", "observed_id": "alice"}]},
    ]
    for body in bad_bodies:
        r = await client.post(url, json=body)
        assert r.status_code == 422, (body if len(str(body)) < 200 else "long body", r.text)
    assert (await _list(client, ws))["total"] == 0
    # the limits themselves are accepted
    created = await _create(client, ws, *[_item(f"c{i}") for i in range(100)])
    assert len(created) == 100
    await _create(client, ws, _item("x " * 4_000))  # 8,000 chars, about 4,000 tokens
    await _create(client, ws, _item("\u4e16" * 8_000))  # multi-byte text under the token cap


async def test_list_orders_newest_first_with_id_tiebreak(
    client: httpx.AsyncClient, ws: str
) -> None:
    await _setup(client, ws)
    first = await _create(client, ws, _item("a"), _item("b"), _item("c"))
    second = await _create(client, ws, _item("d"))
    page = await _list(client, ws)
    ids = [c["id"] for c in page["items"]]
    batch = sorted((c["id"] for c in first), reverse=True)  # one batch shares created_at
    assert ids == [second[0]["id"], *batch]
    reverse = await _list(client, ws, query="?reverse=true")
    assert [c["id"] for c in reverse["items"]] == ids[::-1]
    assert (await _list(client, ws, query="?reverse=true")) == reverse  # stable


async def test_list_pagination(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    await _create(client, ws, *[_item(f"c{i}") for i in range(5)])
    all_ids = [c["id"] for c in (await _list(client, ws))["items"]]
    page = await _list(client, ws, query="?size=2&page=3")
    assert [c["id"] for c in page["items"]] == all_ids[4:]
    assert (page["total"], page["pages"], page["page"], page["size"]) == (5, 3, 3, 2)
    beyond = await _list(client, ws, query="?size=2&page=9")
    assert beyond["items"] == [] and beyond["total"] == 5
    for bad in ("?size=0", "?size=101", "?page=0"):
        r = await client.post(f"/v3/workspaces/{ws}/conclusions/list{bad}")
        assert r.status_code == 422


async def test_list_accepts_absent_or_empty_filters(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    await _create(client, ws, _item("a"))
    url = f"/v3/workspaces/{ws}/conclusions/list"
    options: list[dict[str, Any]] = [
        {},
        {"json": {}},
        {"json": {"filters": None}},
        {"json": {"filters": {}}},
    ]
    for kwargs in options:
        r = await client.post(url, **kwargs)
        assert r.status_code == 200 and r.json()["total"] == 1


async def test_list_filters(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    await _setup(client, ws)
    created = await _create(
        client,
        ws,
        _item("self, s1", session_id="s1"),
        _item("of bob, s1", observed="bob", session_id="s1"),
        _item("of bob, s2", observed="bob", session_id="s2"),
        _item("bob self", observer="bob", observed="bob"),
    )
    async with unit_of_work(app.state.session_factory) as db:  # as the deriver would write it
        await ConclusionRepository(db).insert(
            ws,
            [
                NewConclusionRow(
                    id=new_id(),
                    observer="alice",
                    observed="bob",
                    session_name=None,
                    level="deductive",
                    content="deduced",
                    times_derived=3,
                )
            ],
        )

    async def contents(filters: Any) -> list[str]:
        return sorted(c["content"] for c in (await _list(client, ws, filters))["items"])

    assert await contents({"observer_id": "alice", "observed_id": "bob"}) == [
        "deduced",
        "of bob, s1",
        "of bob, s2",
    ]
    assert await contents({"observer": "bob"}) == ["bob self"]
    assert await contents({"session_id": "s1"}) == ["of bob, s1", "self, s1"]
    assert await contents({"session_id": None}) == ["bob self", "deduced"]
    assert await contents({"NOT": [{"session_id": "s1"}]}) == [
        "bob self",
        "deduced",
        "of bob, s2",
    ]
    assert await contents({"level": "deductive"}) == ["deduced"]
    assert await contents({"level": {"in": ["inductive", "contradiction"]}}) == []
    assert await contents({"times_derived": {"gte": 2}}) == ["deduced"]
    assert await contents({"id": {"in": [created[0]["id"], "missing"]}}) == ["self, s1"]
    assert await contents({"content": {"icontains": "BOB S"}}) == ["bob self"]
    assert len(await contents({"created_at": {"gte": "2000-01-01"}})) == 5
    assert await contents({"created_at": {"lt": "2000-01-01"}}) == []
    for bad in (
        {"level": "abductive"},
        {"peer_id": "alice"},
        {"embedding": [1]},
        {"created_at": {"gte": "yesterday"}},
    ):
        r = await client.post(f"/v3/workspaces/{ws}/conclusions/list", json={"filters": bad})
        assert r.status_code == 422 and isinstance(r.json()["detail"], str), bad


async def test_source_ids_are_shown_and_filterable(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """``source_ids`` (what a derived conclusion follows from) and ``times_derived`` on every
    conclusion; ``source_ids`` filters as the SDKs' ``derived()`` sends it, and as upstream
    reads the other forms (an id, all of a list, any of ``in``)."""
    await _setup(client, ws)
    a, b, c = (x["id"] for x in await _create(client, ws, _item("a"), _item("b"), _item("c")))
    rows = {
        "from a": [a],
        "from a and b": [a, b],
        "from b and c": [b, c],
    }
    async with unit_of_work(app.state.session_factory) as db:  # as the deriver writes them
        await ConclusionRepository(db).insert(
            ws,
            [
                NewConclusionRow(
                    id=new_id(),
                    observer="alice",
                    observed="alice",
                    session_name=None,
                    level="deductive",
                    content=content,
                    times_derived=2,
                    source_ids=sources,
                )
                for content, sources in rows.items()
            ],
        )
    page = await _list(client, ws, {"level": "deductive"})
    shown = {x["content"]: (x["source_ids"], x["times_derived"]) for x in page["items"]}
    assert shown == {content: (sources, 2) for content, sources in rows.items()}
    r = await client.get(f"/v3/workspaces/{ws}/conclusions/{a}")
    assert (r.json()["source_ids"], r.json()["times_derived"]) == ([], 1)

    async def contents(filters: Any) -> list[str]:
        return sorted(x["content"] for x in (await _list(client, ws, filters))["items"])

    # what honcho-ai 2.7.0 and @honcho-ai/sdk 2.5.0 send for derived(a)
    derived = {"source_ids": {"contains": a}, "observer_id": "alice", "observed_id": "alice"}
    assert await contents(derived) == ["from a", "from a and b"]
    assert await contents({"source_ids": {"contains": c}}) == ["from b and c"]
    assert await contents({"source_ids": b}) == ["from a and b", "from b and c"]
    assert await contents({"source_ids": [a, b]}) == ["from a and b"]  # all of them
    assert await contents({"source_ids": {"in": [a, c]}}) == [
        "from a",
        "from a and b",
        "from b and c",
    ]
    assert await contents({"source_ids": {"in": []}}) == []
    assert await contents({"source_ids": {"contains": "missing"}}) == []
    assert await contents({"source_ids": None}) == ["a", "b", "c"]  # no sources at all
    assert len(await contents({"source_ids": "*"})) == 6
    assert len(await contents({"source_ids": {"contains": "*"}})) == 6
    assert await contents({"NOT": [{"source_ids": {"contains": a}}], "level": "deductive"}) == [
        "from b and c"
    ]
    assert await contents({"times_derived": 2}) == sorted(rows)
    for bad in (
        {"source_ids": {"gt": a}},
        {"source_ids": {"contains": ""}},
        {"source_ids": {"contains": 1}},
        {"source_ids": {"in": a}},
        {"source_ids": [1]},
        {"source_ids": {}},
        {"source_ids": True},
    ):
        r = await client.post(f"/v3/workspaces/{ws}/conclusions/list", json={"filters": bad})
        assert r.status_code == 422 and isinstance(r.json()["detail"], str), bad


async def test_list_is_restricted_to_the_workspace(client: httpx.AsyncClient, ws: str) -> None:
    other = f"{ws}-other"
    for w in (ws, other):
        await _setup(client, w)
        await _create(client, w, _item(f"in {w}"))
    page = await _list(client, ws)
    assert [c["content"] for c in page["items"]] == [f"in {ws}"]
    assert (await _list(client, ws, {"workspace_id": other}))["total"] == 0
    assert (await _list(client, f"{ws}-never"))["total"] == 0


async def test_get_conclusion(client: httpx.AsyncClient, ws: str) -> None:
    await _setup(client, ws)
    created = (await _create(client, ws, _item("fact", observed="bob", session_id="s1")))[0]
    r = await client.get(f"/v3/workspaces/{ws}/conclusions/{created['id']}")
    assert r.status_code == 200 and r.json() == created
    for path in (f"{ws}/conclusions/missing", f"{ws}-other/conclusions/{created['id']}"):
        r = await client.get(f"/v3/workspaces/{path}")
        assert r.status_code == 404 and isinstance(r.json()["detail"], str)


async def test_delete_is_soft_and_immediately_invisible(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _setup(client, ws)
    keep, gone = await _create(client, ws, _item("keep"), _item("gone"))
    url = f"/v3/workspaces/{ws}/conclusions/{gone['id']}"
    # another workspace cannot delete it
    r = await client.delete(f"/v3/workspaces/{ws}-other/conclusions/{gone['id']}")
    assert r.status_code == 404

    r = await client.delete(url)
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(url)).status_code == 404
    page = await _list(client, ws)
    assert [c["id"] for c in page["items"]] == [keep["id"]] and page["total"] == 1
    assert (await _list(client, ws, {"id": gone["id"]}))["total"] == 0
    # deleting again, or deleting something that never existed, is a 404
    assert (await client.delete(url)).status_code == 404
    assert (await client.delete(f"/v3/workspaces/{ws}/conclusions/missing")).status_code == 404
    # the row is still there, marked deleted (purged later)
    rows = await _sql(
        app, "SELECT deleted_at IS NOT NULL FROM conclusions WHERE id = :id", id=gone["id"]
    )
    assert rows == [(True,)]
