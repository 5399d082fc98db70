"""Message search over HTTP: the three routes, matching, ranking, filters, forced scope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

SUSHI = "My favourite food is sushi, I could eat it every day."
RAMEN = "Alice told me her favourite food is ramen, actually."
HIKING = "I went hiking in the Alps last summer."
HIKED = "We hiked up to the lake; the hike took four hours."
ORDER = "Your order ORD-1234 has shipped."
ORDER_LONG = "Order ORD-12345 is delayed."
BOOTS = "Hiking boots are on sale this week."


async def _add(
    client: httpx.AsyncClient, ws: str, session: str, *msgs: tuple[str, str]
) -> list[str]:
    """Create messages (peer, content) in ``session``; returns their ids in order."""
    body = {"messages": [{"peer_id": peer, "content": content} for peer, content in msgs]}
    r = await client.post(f"/v3/workspaces/{ws}/sessions/{session}/messages", json=body)
    assert r.status_code == 201, r.text
    return [m["id"] for m in r.json()]


async def _search(
    client: httpx.AsyncClient, path: str, query: str, **body: Any
) -> list[dict[str, Any]]:
    r = await client.post(f"/v3/workspaces/{path}/search", json={"query": query, **body})
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def _contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages]


@pytest.fixture
async def corpus(client: httpx.AsyncClient, ws: str) -> dict[str, str]:
    """Two sessions; returns content -> message id."""
    s1 = [
        ("alice", SUSHI),
        ("bob", HIKING),
        ("alice", HIKED),
        ("bob", ORDER),
        ("bob", ORDER_LONG),
    ]
    s2 = [("carol", RAMEN), ("bob", BOOTS)]
    ids = await _add(client, ws, "s1", *s1) + await _add(client, ws, "s2", *s2)
    return dict(zip([c for _, c in s1 + s2], ids, strict=True))


async def _deactivate(app: FastAPI, ws: str, session: str) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE sessions SET is_active = false WHERE workspace_name = :w AND name = :s"),
            {"w": ws, "s": session},
        )


# --- matching -------------------------------------------------------------------------------


async def test_word_query_returns_plain_message_array(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    found = await _search(client, ws, "sushi")
    assert [m["id"] for m in found] == [corpus[SUSHI]]
    assert list(found[0]) == [
        "id",
        "content",
        "peer_id",
        "session_id",
        "metadata",
        "created_at",
        "workspace_id",
        "token_count",
    ]
    assert found[0]["peer_id"] == "alice" and found[0]["session_id"] == "s1"
    assert found[0]["workspace_id"] == ws
    assert _contents(await _search(client, ws, "SUSHI")) == [SUSHI]  # case-insensitive


async def test_natural_language_question_with_punctuation(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    found = _contents(await _search(client, ws, "What's Alice's favourite food?"))
    assert found[0] == RAMEN  # the one message with every word comes first
    assert SUSHI in found  # favourite food, not Alice: still a candidate
    found = _contents(await _search(client, ws, "Which food does Alice love??"))
    assert found[:2] == [RAMEN, SUSHI]  # two of the words, then one
    found = _contents(await _search(client, ws, '"food is sushi" -- right?'))
    assert found[0] == SUSHI  # a quoted phrase


async def test_stemming(client: httpx.AsyncClient, ws: str, corpus: dict[str, str]) -> None:
    found = _contents(await _search(client, ws, "hiking"))
    assert set(found) == {HIKING, HIKED, BOOTS}
    assert set(_contents(await _search(client, ws, "hikes"))) == {HIKING, HIKED, BOOTS}


async def test_identifier_substring(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    found = _contents(await _search(client, ws, "ORD-1234"))
    assert found[:2] == [ORDER, ORDER_LONG]  # the whole identifier before a longer one
    assert _contents(await _search(client, ws, "ord-1234?"))[:2] == [ORDER, ORDER_LONG]
    partial = _contents(await _search(client, ws, "RD-123"))
    assert set(partial) == {ORDER, ORDER_LONG}


async def test_partial_word_falls_back_to_substring(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    assert _contents(await _search(client, ws, "rame")) == [RAMEN]


async def test_no_match(client: httpx.AsyncClient, ws: str, corpus: dict[str, str]) -> None:
    assert await _search(client, ws, "xylophone") == []


@pytest.mark.parametrize(
    "query",
    [
        "?",
        "???",
        "the",
        "the of and",
        "%",
        "_",
        "\\",
        "%_\\",
        "(a+b)*[c]{2}|^$.",
        "'",
        '"',
        '"unterminated',
        "-",
        "--sushi",
        "a:b & c | !d <-> e",
        "or",
        "sushi or or",
        "été café",
        "\u0001\u0002",
        "x" * 30_000,
        "sushi " * 2_000,
    ],
)
async def test_awkward_queries_never_fail(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str], query: str
) -> None:
    found = await _search(client, ws, query, limit=100)
    assert all(m["workspace_id"] == ws for m in found)


async def test_query_nul_is_stripped(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    assert _contents(await _search(client, ws, "su\u0000shi")) == [SUSHI]


async def test_empty_query_returns_newest_messages(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    newest = await _add(client, ws, "s3", ("dave", "the newest message"))
    for query in ("", "   "):
        found = await _search(client, ws, query, limit=3)
        assert len(found) == 3 and found[0]["id"] == newest[0]


async def test_substring_matches_rank_whole_words_first(client: httpx.AsyncClient, ws: str) -> None:
    await _add(client, ws, "s", ("a", "green tea please"))
    await _add(client, ws, "s", *[("a", f"steam engine number {i}") for i in range(5)])
    assert _contents(await _search(client, ws, "tea", limit=1)) == ["green tea please"]


# --- limit ----------------------------------------------------------------------------------


async def test_limit(client: httpx.AsyncClient, ws: str) -> None:
    await _add(client, ws, "s", *[("a", f"apple number {i}") for i in range(15)])
    assert len(await _search(client, ws, "apple")) == 10
    assert len(await _search(client, ws, "apple", limit=5)) == 5
    assert len(await _search(client, ws, "apple", limit=100)) == 15
    for bad in (0, 101, -1, "many"):
        r = await client.post(f"/v3/workspaces/{ws}/search", json={"query": "a", "limit": bad})
        assert r.status_code == 422, r.text


async def test_body_validation(client: httpx.AsyncClient, ws: str) -> None:
    for body in ({}, {"query": None}, {"query": 5}, {"query": "a", "filters": [1]}):
        r = await client.post(f"/v3/workspaces/{ws}/search", json=body)
        assert r.status_code == 422, body


# --- filters --------------------------------------------------------------------------------


async def test_filters(client: httpx.AsyncClient, ws: str) -> None:
    body = {
        "messages": [
            {"peer_id": "alice", "content": "pasta tonight", "metadata": {"mood": "happy"}},
            {
                "peer_id": "bob",
                "content": "pasta again",
                "metadata": {"mood": "sad"},
                "created_at": "2020-01-01T00:00:00Z",
            },
            {"peer_id": "bob", "content": "more pasta", "metadata": {"mood": "happy"}},
        ]
    }
    r = await client.post(f"/v3/workspaces/{ws}/sessions/s/messages", json=body)
    assert r.status_code == 201

    async def contents(filters: dict[str, Any]) -> set[str]:
        return set(_contents(await _search(client, ws, "pasta", filters=filters)))

    assert await contents({"metadata": {"mood": "happy"}}) == {"pasta tonight", "more pasta"}
    assert await contents({"peer_id": "bob"}) == {"pasta again", "more pasta"}
    assert await contents({"created_at": {"lt": "2021-01-01T00:00:00Z"}}) == {"pasta again"}
    assert await contents({"peer_id": "bob", "metadata": {"mood": "happy"}}) == {"more pasta"}
    assert await contents({"OR": [{"peer_id": "alice"}, {"metadata": {"mood": "sad"}}]}) == {
        "pasta tonight",
        "pasta again",
    }
    assert await contents({"session_id": "other"}) == set()
    assert await contents({}) == {"pasta tonight", "pasta again", "more pasta"}


@pytest.mark.parametrize(
    "filters",
    [
        {"content": "pasta"},
        {"peer_perspective": "alice"},
        {"nope": 1},
        {"created_at": "not a date"},
        {"token_count": {"gt": "many"}},
        {"token_count": {"bogus": 1}},
        {"AND": {"peer_id": "a"}},
    ],
)
async def test_invalid_filters_are_422_strings(
    client: httpx.AsyncClient, ws: str, filters: dict[str, Any]
) -> None:
    await _add(client, ws, "s", ("a", "pasta"))
    for path in (ws, f"{ws}/sessions/s", f"{ws}/peers/a"):
        r = await client.post(
            f"/v3/workspaces/{path}/search", json={"query": "pasta", "filters": filters}
        )
        assert r.status_code == 422, r.text
        assert isinstance(r.json()["detail"], str)


# --- forced scope ---------------------------------------------------------------------------


async def test_session_search_is_forced_to_its_session(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    found = await _search(client, f"{ws}/sessions/s1", "hiking")
    assert set(_contents(found)) == {HIKING, HIKED}
    widened = await _search(client, f"{ws}/sessions/s1", "hiking", filters={"session_id": "s2"})
    assert set(_contents(widened)) == {HIKING, HIKED}
    assert _contents(await _search(client, f"{ws}/sessions/s2", "hiking")) == [BOOTS]


async def test_peer_search_returns_only_that_authors_messages(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    assert _contents(await _search(client, f"{ws}/peers/alice", "hiking")) == [HIKED]
    widened = await _search(client, f"{ws}/peers/alice", "hiking", filters={"peer_id": "bob"})
    assert _contents(widened) == [HIKED]
    found = await _search(client, f"{ws}/peers/bob", "hiking", filters={"session_id": "s2"})
    assert _contents(found) == [BOOTS]
    everything = await _search(client, f"{ws}/peers/bob", "", limit=100)
    assert {m["peer_id"] for m in everything} == {"bob"} and len(everything) == 4


async def test_workspace_is_forced(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    other = f"{ws}-other"
    await _add(client, other, "s1", ("alice", "sushi elsewhere"))
    found = await _search(client, ws, "sushi", filters={"workspace_id": other})
    assert _contents(found) == [SUSHI]
    assert _contents(await _search(client, other, "sushi")) == ["sushi elsewhere"]


async def test_unknown_workspace_session_or_peer_is_empty(
    client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    assert await _search(client, f"{ws}-missing", "sushi") == []
    assert await _search(client, f"{ws}/sessions/missing", "sushi") == []
    assert await _search(client, f"{ws}/peers/missing", "sushi") == []
    assert await _search(client, f"{ws}/sessions/missing", "") == []


async def test_inactive_sessions_are_absent(
    app: FastAPI, client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    await _add(client, ws, "gone", ("alice", "zebra crossing"), ("bob", "sushi in gone"))
    assert _contents(await _search(client, ws, "zebra")) == ["zebra crossing"]
    await _deactivate(app, ws, "gone")
    assert await _search(client, ws, "zebra") == []
    assert await _search(client, f"{ws}/sessions/gone", "zebra") == []
    assert await _search(client, f"{ws}/peers/alice", "zebra") == []
    assert _contents(await _search(client, ws, "sushi")) == [SUSHI]
    assert all(m["session_id"] != "gone" for m in await _search(client, ws, "", limit=100))


async def test_deleted_workspace_is_absent(
    app: FastAPI, client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE workspaces SET deleted_at = now() WHERE name = :w"), {"w": ws}
        )
    assert await _search(client, ws, "sushi") == []


async def test_scope_restricts_workspace_search(
    app: FastAPI, client: httpx.AsyncClient, ws: str, corpus: dict[str, str]
) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO scopes (workspace_name, name) VALUES (:w, 'team')"), {"w": ws}
        )
        await conn.execute(
            text(
                "INSERT INTO scope_sessions (workspace_name, scope_name, session_name) "
                "VALUES (:w, 'team', 's2')"
            ),
            {"w": ws},
        )
    assert _contents(await _search(client, ws, "hiking", scope="team")) == [BOOTS]
    assert await _search(client, ws, "hiking", scope="nobody") == []
    r = await client.post(
        f"/v3/workspaces/{ws}/search",
        json={"query": "hiking", "scope": "team", "filters": {"session_id": "s1"}},
    )
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    r = await client.post(f"/v3/workspaces/{ws}/search", json={"query": "a", "scope": "a.b"})
    assert r.status_code == 422


async def test_openapi_body_is_message_search_options(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schema = spec["components"]["schemas"]["MessageSearchOptions"]
    assert set(schema["properties"]) == {"query", "filters", "limit"}
    assert schema["required"] == ["query"]
    for path in (
        "/v3/workspaces/{workspace_id}/search",
        "/v3/workspaces/{workspace_id}/sessions/{session_id}/search",
        "/v3/workspaces/{workspace_id}/peers/{peer_id}/search",
    ):
        post = spec["paths"][path]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/MessageSearchOptions")
        items = post["responses"]["200"]["content"]["application/json"]["schema"]["items"]
        assert items["$ref"].endswith("/Message")
