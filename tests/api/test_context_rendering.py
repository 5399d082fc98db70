"""Session context is rendered from rows without a model per message (issue 17); the body
must stay byte for byte what pydantic renders for ``SessionContext``."""

from __future__ import annotations

import httpx

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
