"""The built-in MCP server, driven by the official ``mcp`` client: over Streamable HTTP against
a live ``serve`` with auth on, and over stdio against a spawned ``honcho-server mcp``."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from honcho_server.auth.keys import mint
from honcho_server.mcp.server import build_server
from servers import ROOT, start_server, stop_server

SECRET = "mcp-tests-secret-4b8d2f6a0c3e5a7b9d1f3a5c7e9b2d4f"
W = "workspace_id"
# upstream's tools (plastic-labs/honcho mcp/src/tools): name -> (required, optional) arguments
SIGNATURES: dict[str, tuple[set[str], set[str]]] = {
    # workspace
    "inspect_workspace": (set(), {W}),
    "list_workspaces": (set(), {"page", "size"}),
    "create_workspace": (set(), {W, "metadata"}),
    "search": (
        {"query"},
        {
            W,
            "peer_id",
            "session_id",
            "message_limit",
            "message_filters",
            "conclusion_top_k",
            "conclusion_filters",
        },
    ),
    "get_metadata": (set(), {W, "peer_id", "session_id"}),
    "set_metadata": ({"metadata"}, {W, "peer_id", "session_id"}),
    # peers
    "create_peer": ({"peer_id"}, {W, "configuration"}),
    "list_peers": (set(), {W}),
    "chat": ({"peer_id", "query"}, {W, "target_peer_id", "session_id", "reasoning_level"}),
    "get_peer_card": ({"peer_id"}, {W, "target_peer_id"}),
    "set_peer_card": ({"peer_id", "peer_card"}, {W, "target_peer_id"}),
    "get_peer_context": ({"peer_id"}, {W, "target_peer_id", "search_query", "max_conclusions"}),
    "get_representation": (
        {"peer_id"},
        {W, "target_peer_id", "session_id", "search_query", "max_conclusions"},
    ),
    # sessions
    "create_session": ({"session_id"}, {W}),
    "list_sessions": (set(), {W}),
    "delete_session": ({"session_id"}, {W}),
    "clone_session": ({"session_id"}, {W, "message_id"}),
    "add_peers_to_session": ({"session_id", "peers"}, {W}),
    "remove_peers_from_session": ({"session_id", "peer_ids"}, {W}),
    "get_session_peers": ({"session_id"}, {W}),
    "inspect_session": ({"session_id"}, {W}),
    "add_messages_to_session": ({"session_id", "messages"}, {W}),
    "get_session_messages": ({"session_id"}, {W, "filters"}),
    "get_session_message": ({"session_id", "message_id"}, {W}),
    "get_session_context": ({"session_id"}, {W, "summary", "tokens"}),
    # conclusions
    "list_conclusions": ({"peer_id"}, {W, "target_peer_id"}),
    "query_conclusions": ({"peer_id", "query"}, {W, "target_peer_id", "top_k", "filters"}),
    "create_conclusions": ({"peer_id", "target_peer_id", "conclusions"}, {W, "session_id"}),
    "delete_conclusion": ({"peer_id", "target_peer_id", "conclusion_id"}, {W}),
    # system
    "schedule_dream": ({"peer_id"}, {W, "target_peer_id", "session_id"}),
    "get_queue_status": (set(), {W}),
}
TOOLS = set(SIGNATURES)
QUIET = {
    "LOG_LEVEL": "WARNING",
    "EMBED_MESSAGES": "false",
    "DERIVER_ENABLED": "false",
    "SUMMARY_ENABLED": "false",
}


@pytest.fixture(scope="module")
def auth_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("mcp") / "server.log"
    env = {
        "DATABASE_URL": database_url,
        "AUTH_USE_AUTH": "true",
        "AUTH_JWT_SECRET": SECRET,
        **QUIET,
    }
    process, base_url = start_server(env, log_path)
    try:
        yield base_url
    finally:
        stop_server(process)


@asynccontextmanager
async def connect(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def bearer(token: str, workspace: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if workspace is not None:
        headers["X-Honcho-Workspace-ID"] = workspace
    return headers


async def ok(session: ClientSession, tool: str, **arguments: Any) -> Any:
    result = await session.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, (tool, text)
    try:
        return json.loads(text)
    except ValueError:
        return text


async def error(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, (tool, result.content)
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def test_tools_take_upstreams_arguments() -> None:
    tools = await build_server().list_tools()
    assert len(tools) == 31
    for tool in tools:
        required, optional = SIGNATURES[tool.name]
        schema = tool.input_schema
        assert set(schema.get("required", [])) == required, tool.name
        assert set(schema["properties"]) == required | optional, tool.name
        assert tool.description and len(tool.description) > 40, tool.name


async def test_tools_list_and_one_call_per_group(auth_server: str) -> None:
    w = f"mcp-{uuid.uuid4().hex[:10]}"
    admin = mint(SECRET, admin=True)
    async with connect(auth_server, bearer(admin)) as s:
        names = {tool.name for tool in (await s.list_tools()).tools}
        assert names == TOOLS
        # workspace
        created = await ok(s, "create_workspace", workspace_id=w, metadata={"purpose": "mcp"})
        assert created["id"] == w and created["metadata"] == {"purpose": "mcp"}
        listed = await ok(s, "list_workspaces", size=100)
        assert "workspaces" in listed and listed["total"] >= 1
    # the header is the workspace: no workspace_id on the calls below
    async with connect(auth_server, bearer(admin, workspace=w)) as s:
        # peers
        assert (await ok(s, "create_peer", peer_id="alice"))["peer_id"] == "alice"
        await ok(s, "create_peer", peer_id="bob")
        assert (await ok(s, "list_peers"))["total"] == 2
        card = await ok(s, "set_peer_card", peer_id="alice", peer_card=["Likes tea"])
        assert card == ["Likes tea"]
        assert await ok(s, "get_peer_card", peer_id="alice") == ["Likes tea"]
        # sessions
        assert await ok(s, "create_session", session_id="s1") == {"session_id": "s1"}
        await ok(s, "add_peers_to_session", session_id="s1", peers=["alice", {"peer_id": "bob"}])
        await ok(
            s,
            "add_messages_to_session",
            session_id="s1",
            messages=[
                {"peer_id": "alice", "content": "I love green tea"},
                {"peer_id": "bob", "content": "Noted", "metadata": {"k": 1}},
            ],
        )
        page = await ok(s, "get_session_messages", session_id="s1")
        assert [m["content"] for m in page["messages"]] == ["I love green tea", "Noted"]
        one = await ok(
            s, "get_session_message", session_id="s1", message_id=page["messages"][1]["id"]
        )
        assert one["metadata"] == {"k": 1} and one["peer_id"] == "bob"
        assert sorted(await ok(s, "get_session_peers", session_id="s1")) == ["alice", "bob"]
        inspected = await ok(s, "inspect_session", session_id="s1")
        assert inspected["message_count"] == 2
        context = await ok(s, "get_session_context", session_id="s1", summary=False)
        assert len(context["messages"]) == 2
        # conclusions
        done = await ok(
            s,
            "create_conclusions",
            peer_id="alice",
            target_peer_id="alice",
            conclusions=["Alice drinks green tea"],
        )
        assert done == "Created 1 conclusion successfully"
        listed = await ok(s, "list_conclusions", peer_id="alice")
        assert [c["content"] for c in listed["conclusions"]] == ["Alice drinks green tea"]
        # system
        status = await ok(s, "get_queue_status")
        assert isinstance(status, dict)
        # metadata goes to the workspace, a peer or a session
        await ok(s, "set_metadata", metadata={"a": 1}, session_id="s1")
        assert await ok(s, "get_metadata", session_id="s1") == {"a": 1}
        inspected_ws = await ok(s, "inspect_workspace")
        assert inspected_ws["peer_count"] == 2 and inspected_ws["session_count"] == 1
        # a mistake is a tool error with Honcho's message; the session goes on
        message = await error(s, "get_session_message", session_id="s1", message_id="nope")
        assert "Failed to get message: Message with ID nope not found" in message
        assert (await ok(s, "list_sessions"))["total"] == 1


async def test_keys_reach_through_mcp_what_they_reach_through_rest(auth_server: str) -> None:
    w = f"mcp-{uuid.uuid4().hex[:10]}"
    admin = mint(SECRET, admin=True)
    async with connect(auth_server, bearer(admin, workspace=w)) as s:
        await ok(s, "create_workspace")
        for peer, fact in (("alice", "Alice fact"), ("bob", "Bob secret")):
            await ok(s, "create_peer", peer_id=peer)
            await ok(s, "set_peer_card", peer_id=peer, peer_card=[fact])
    alice = mint(SECRET, workspace=w, peer="alice")
    async with connect(auth_server, bearer(alice, workspace=w)) as s:
        assert await ok(s, "get_peer_card", peer_id="alice") == ["Alice fact"]
        refused = await error(s, "get_peer_card", peer_id="bob")
        assert "Bob secret" not in refused and "not permissioned" in refused
        assert "only possible with an admin API key" in await error(s, "list_workspaces")
        # another workspace is out of a workspace-bound key's reach, as over REST
        await error(s, "list_peers", workspace_id=f"{w}-other")


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "No access token provided"),
        ("Bearer not-a-key", "Invalid JWT"),
        (f"Bearer {mint(SECRET.replace('4', '5'), admin=True)}", "Invalid JWT"),
    ],
)
def test_a_bad_key_is_refused_at_the_door(
    auth_server: str, authorization: str | None, detail: str
) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if authorization is not None:
        headers["Authorization"] = authorization
    init = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = httpx.post(auth_server + "/mcp", json=init, headers=headers)
    assert r.status_code == 401 and r.json() == {"detail": detail}


async def test_unknown_or_missing_workspace_is_a_tool_error(auth_server: str) -> None:
    admin = mint(SECRET, admin=True)
    async with connect(auth_server, bearer(admin)) as s:
        unknown = await error(s, "list_peers", workspace_id=f"missing-{uuid.uuid4().hex[:8]}")
        assert unknown.endswith("not found") and "Workspace missing-" in unknown
        assert "workspace_id" in await error(s, "list_sessions")  # neither argument nor header
        assert (await ok(s, "list_workspaces"))["total"] >= 0  # the session still works


@asynccontextmanager
async def spawn(env: dict[str, str], log: Path) -> AsyncIterator[ClientSession]:
    """``honcho-server mcp`` as an MCP client starts it: over stdin and stdout."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "honcho_server", "mcp"], env=env, cwd=ROOT
    )
    with log.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            yield s


async def test_stdio_acts_with_the_key_in_honcho_api_key(
    auth_server: str, database_url: str, tmp_path: Path
) -> None:
    w = f"mcp-stdio-{uuid.uuid4().hex[:8]}"
    async with connect(auth_server, bearer(mint(SECRET, admin=True), workspace=w)) as s:
        await ok(s, "create_workspace")
        for peer in ("alice", "bob"):
            await ok(s, "create_peer", peer_id=peer)
            await ok(s, "set_peer_card", peer_id=peer, peer_card=[f"{peer} fact"])
    env = {
        "DATABASE_URL": database_url,
        "AUTH_USE_AUTH": "true",
        "AUTH_JWT_SECRET": SECRET,
        "HONCHO_API_KEY": mint(SECRET, workspace=w, peer="alice"),
        "HONCHO_WORKSPACE_ID": w,
        **QUIET,
    }
    async with spawn(env, tmp_path / "stderr.log") as s:
        assert await ok(s, "get_peer_card", peer_id="alice") == ["alice fact"]
        assert "not permissioned" in await error(s, "get_peer_card", peer_id="bob")


async def test_stdio_round_trip(database_url: str, tmp_path: Path) -> None:
    w = f"mcp-stdio-{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": database_url, "HONCHO_WORKSPACE_ID": w, **QUIET}
    async with spawn(env, tmp_path / "stderr.log") as s:
        assert {tool.name for tool in (await s.list_tools()).tools} == TOOLS
        assert (await ok(s, "create_workspace"))["id"] == w
        await ok(s, "create_peer", peer_id="alice")
        assert (await ok(s, "list_peers"))["peers"] == [{"id": "alice"}]


async def test_auth_off_needs_no_key(live_server: str) -> None:
    w = f"mcp-open-{uuid.uuid4().hex[:8]}"
    async with connect(live_server, {"X-Honcho-Workspace-ID": w}) as s:
        assert {tool.name for tool in (await s.list_tools()).tools} == TOOLS
        assert (await ok(s, "create_workspace"))["id"] == w
        assert (await ok(s, "create_session", session_id="s1")) == {"session_id": "s1"}
        assert (await ok(s, "inspect_workspace"))["session_count"] == 1
