"""The real old clients, unchanged, against a live ``serve``: ``honcho-ai`` 1.6.0 (the last
1.x) over ``honcho-core`` 1.8.0 in a venv of their own, and ``@honcho-ai/core`` 1.8.0 from npm.
Each script asserts every step of its scenario; here what it wrote is read back through v3."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx
from honcho import Honcho
from v2_support import CLIENTS, run_client

from fakes.openai_server import FakeOpenAIServer


def test_honcho_ai_1x_quickstart_and_scenario(
    v2_python: Path,
    v2_server: str,
    admin_key: str,
    admin: httpx.Client,
    chat_llm: FakeOpenAIServer,
) -> None:
    ws = f"v2ai-{uuid.uuid4().hex[:10]}"
    script = str(CLIENTS / "honcho_ai_v1.py")
    found = run_client([str(v2_python), script, v2_server, ws, admin_key])

    # what honcho-ai 1.x wrote, read through v3
    w = f"/v3/workspaces/{ws}"
    listed = admin.post(f"{w}/sessions/conversation-1/messages/list", json={}).json()
    assert [m["content"] for m in listed["items"]] == found["messages"]
    assert [m["id"] for m in listed["items"]] == found["message_ids"]
    assert listed["items"][0]["metadata"] == {"edited": True}
    conclusions = admin.post(f"{w}/conclusions/list", json={}).json()["items"]
    assert sorted(c["id"] for c in conclusions) == found["observations"]
    assert {c["level"] for c in conclusions} == {"explicit"}
    assert admin.get(w).json()["metadata"] == {"app": "v2-client"}
    peers = admin.post(f"{w}/peers/list", json={}).json()["items"]
    assert {p["id"]: p["metadata"] for p in peers}["alice"] == {"age": 30}
    config = admin.get(f"{w}/sessions/conversation-1/peers/bob/config").json()
    assert config["observe_others"] is True
    # and through the v3 SDK (honcho-ai 2.x, this venv's): an old app and a new one, one memory
    new = Honcho(base_url=v2_server, workspace_id=ws, api_key=admin_key, max_retries=0)
    session = new.session("conversation-1")
    assert [m.content for m in session.messages()] == found["messages"]
    conclusions_v3 = sorted(c.content for c in new.peer("alice").conclusions.list())
    assert conclusions_v3 == ["alice hikes in Sintra", "alice lives in Lisbon"]
    new.session("conversation-1").add_messages([new.peer("bob").message("Written by v3")])
    back = admin.post(
        f"/v2/workspaces/{ws}/sessions/conversation-1/messages/list",
        json={},
        params={"reverse": True},
    ).json()
    assert back["items"][0]["content"] == "Written by v3"
    # the chat reached the fake LLM with what alice said
    bodies = chat_llm.state.chat_bodies()
    assert bodies and any("What did Bob say to me?" in str(b["messages"]) for b in bodies)


def test_honcho_core_stainless_client(
    v2_python: Path, v2_server: str, admin_key: str, admin: httpx.Client, chat_llm: FakeOpenAIServer
) -> None:
    ws = f"v2core-{uuid.uuid4().hex[:10]}"
    script = str(CLIENTS / "honcho_core_v2.py")
    found = run_client([str(v2_python), script, v2_server, ws, admin_key])
    w = f"/v3/workspaces/{ws}"
    listed = admin.post(f"{w}/sessions/s1/messages/list", json={}).json()["items"]
    assert [m["content"] for m in listed] == found["messages"]
    card = admin.get(f"{w}/peers/alice/card").json()
    assert card["peer_card"] == ["Name: Alice", "Lives in Lisbon"]


def test_honcho_ai_core_typescript_client(
    v2_node_modules: tuple[Path, dict[str, str], Path],
    v2_server: str,
    admin_key: str,
    admin: httpx.Client,
    chat_llm: FakeOpenAIServer,
) -> None:
    node, env, root = v2_node_modules
    script = root / "core_v2.mjs"  # beside its node_modules, where `import` finds the client
    shutil.copyfile(CLIENTS / "core_v2.mjs", script)
    ws = f"v2ts-{uuid.uuid4().hex[:10]}"
    found = run_client([str(node), str(script), v2_server, ws, admin_key], env)
    w = f"/v3/workspaces/{ws}"
    listed = admin.post(f"{w}/sessions/s1/messages/list", json={}).json()["items"]
    assert [m["content"] for m in listed] == found["messages"]
    conclusions = admin.post(f"{w}/conclusions/list", json={}).json()["items"]
    assert [c["content"] for c in conclusions] == ["alice lives in Lisbon"]
