from __future__ import annotations

import asyncio

import httpx


def _msg(peer: str, content: str, **extra: object) -> dict[str, object]:
    return {"peer_id": peer, "content": content, **extra}


async def test_create_batch_creates_everything(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/chat/messages",
        json={
            "messages": [
                _msg("alice", "Hello world, how are you doing today?", metadata={"n": 1}),
                _msg("bob", "", created_at="2020-01-02T03:04:05.123456+02:00"),
                _msg("alice", "a\u0000b"),
            ]
        },
    )
    assert r.status_code == 201, r.text
    msgs = r.json()
    assert list(msgs[0]) == [
        "id",
        "content",
        "peer_id",
        "session_id",
        "metadata",
        "created_at",
        "workspace_id",
        "token_count",
    ]
    assert [m["peer_id"] for m in msgs] == ["alice", "bob", "alice"]
    assert msgs[0]["token_count"] == 9 and msgs[1]["token_count"] == 0
    assert msgs[0]["metadata"] == {"n": 1} and msgs[1]["metadata"] == {}
    assert msgs[1]["created_at"] == "2020-01-02T01:04:05.123456Z"
    assert msgs[2]["content"] == "ab"
    assert msgs[0]["created_at"] == msgs[2]["created_at"]  # one batch, one server timestamp
    assert all(len(m["id"]) == 21 for m in msgs)
    members = await client.get(f"/v3/workspaces/{ws}/sessions/chat/peers")
    assert sorted(p["id"] for p in members.json()["items"]) == ["alice", "bob"]


async def test_list_get_update(client: httpx.AsyncClient, ws: str) -> None:
    url = f"/v3/workspaces/{ws}/sessions/s/messages"
    created = (
        await client.post(
            url,
            json={
                "messages": [_msg("p" + str(i % 2), f"m{i}", metadata={"i": i}) for i in range(7)]
            },
        )
    ).json()
    page = (await client.post(f"{url}/list?size=3&page=2")).json()
    assert [m["content"] for m in page["items"]] == ["m3", "m4", "m5"]
    assert page["total"] == 7 and page["pages"] == 3
    rev = (await client.post(f"{url}/list?reverse=true&size=2", json={})).json()
    assert [m["content"] for m in rev["items"]] == ["m6", "m5"]
    by_peer = (
        await client.post(
            f"{url}/list", json={"filters": {"peer_id": "p1", "metadata": {"i": {"lt": 4}}}}
        )
    ).json()
    assert [m["content"] for m in by_peer["items"]] == ["m1", "m3"]
    assert (
        await client.post(f"{url}/list", json={"filters": {"content": "m1"}})
    ).status_code == 422

    one = await client.get(f"{url}/{created[2]['id']}")
    assert one.status_code == 200 and one.json() == created[2]
    upd = await client.put(f"{url}/{created[2]['id']}", json={"metadata": {"edited": True}})
    assert upd.json()["metadata"] == {"edited": True} and upd.json()["content"] == "m2"
    same = await client.put(f"{url}/{created[2]['id']}", json={})
    assert same.json()["metadata"] == {"edited": True}
    missing = await client.get(f"{url}/nope")
    assert missing.status_code == 404 and missing.json() == {
        "detail": "Message with ID nope not found"
    }
    assert (await client.put(f"{url}/nope", json={"metadata": {}})).status_code == 404
    assert (await client.post(f"/v3/workspaces/{ws}/sessions/other/messages/list")).json()[
        "total"
    ] == 0


async def test_seq_in_session_is_gap_free_under_concurrency(
    client: httpx.AsyncClient, ws: str, app: object
) -> None:
    url = f"/v3/workspaces/{ws}/sessions/busy/messages"

    async def writer(w: int) -> None:
        for j in range(5):
            r = await client.post(
                url, json={"messages": [_msg(f"w{w}", f"{w}-{j}-{k}") for k in range(3)]}
            )
            assert r.status_code == 201, r.text

    await asyncio.gather(*(writer(w) for w in range(8)))
    items: list[dict[str, object]] = []
    for page in (1, 2):
        items += (await client.post(f"{url}/list?size=100&page={page}")).json()["items"]
    assert len(items) == 120
    # each batch is contiguous and in request order
    contents = [str(m["content"]) for m in items]
    for i in range(0, 120, 3):
        w, j, _ = contents[i].split("-")
        assert contents[i : i + 3] == [f"{w}-{j}-{k}" for k in range(3)]
    from sqlalchemy import text

    engine = app.state.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        seqs = (
            (
                await conn.execute(
                    text(
                        "SELECT seq_in_session FROM messages WHERE workspace_name = :w ORDER BY id"
                    ),
                    {"w": ws},
                )
            )
            .scalars()
            .all()
        )
    assert seqs == list(range(1, 121))


async def test_writers_creating_the_same_sessions_and_peers_at_once_all_succeed(
    client: httpx.AsyncClient, ws: str
) -> None:
    """An agent loop at scale: many sessions created by their first messages at the same
    moment, each written by its user and by one shared assistant. The inserts that create the
    workspace, sessions and peers can deadlock in Postgres; no request may fail for it."""
    base = f"/v3/workspaces/{ws}/sessions"

    async def post(session: int, author: str, turn: int) -> None:
        body = {"messages": [_msg(author, f"{author} turn {turn}")]}
        r = await client.post(f"{base}/agent{session}/messages", json=body)
        assert r.status_code == 201, r.text

    for turn in range(4):  # two writers per (session, author) at once: the hot case
        await asyncio.gather(
            *(post(s, f"user{s}", turn) for s in range(12) for _ in range(2)),
            *(post(s, "assistant", turn) for s in range(12) for _ in range(2)),
        )
    for s in range(12):
        listed = (await client.post(f"{base}/agent{s}/messages/list?size=100")).json()
        assert listed["total"] == 16
        authors = sorted(m["peer_id"] for m in listed["items"])
        assert authors == ["assistant"] * 8 + [f"user{s}"] * 8
