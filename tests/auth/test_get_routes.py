"""The two reads beyond upstream (GET a workspace, GET a session): the same audience as the
other reads of their kind — a workspace is read with a workspace-level key, a session by its
own session key or a peer key of an active member."""

from __future__ import annotations

import uuid

import httpx
from auth_support import seed


async def test_session_and_workspace_reads_by_key(auth_client: httpx.AsyncClient) -> None:
    a = await seed(auth_client, f"ws-a-{uuid.uuid4().hex[:10]}", "ws-unused")
    ws, s1, s2 = (
        f"/v3/workspaces/{a.workspace}" + rest for rest in ("", "/sessions/s1", "/sessions/s2")
    )
    admin = (await auth_client.get(s1, headers=a.keys["admin"])).json()

    for kind in ("ws_own", "session_own", "peer_own"):  # alice is an active member of s1
        r = await auth_client.get(s1, headers=a.keys[kind])
        assert r.status_code == 200 and r.json() == admin, kind
    for kind in ("peer_nonmember", "session_sibling", "ws_other", "peer_other", "none"):
        r = await auth_client.get(s1, headers=a.keys[kind])  # carol is not in s1
        assert r.status_code == 401 and set(r.json()) == {"detail"}, kind
    r = await auth_client.get(s2, headers=a.keys["peer_own"])  # alice is not in s2
    assert r.status_code == 401 and a.secret not in r.text

    assert (await auth_client.get(ws, headers=a.keys["ws_own"])).status_code == 200
    for kind in ("peer_own", "session_own", "ws_other"):
        r = await auth_client.get(ws, headers=a.keys[kind])
        assert r.status_code == 401 and a.marker not in r.text, kind
    missing = await auth_client.get(ws + "/sessions/nope", headers=a.keys["ws_own"])
    assert missing.status_code == 404
