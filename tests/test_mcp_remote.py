"""``honcho-server mcp --url``: stdio MCP that forwards every tool call to a running server
over HTTP, with the given key (no database of its own)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from honcho_server.auth.keys import mint
from servers import ROOT, free_port
from test_mcp import SECRET, TOOLS, auth_server, bearer, connect, error, ok
from transfer_support import honcho_cli

__all__ = ["auth_server"]  # the fixture: a live ``serve`` with auth on

NO_DATABASE = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "LOG_LEVEL": "WARNING"}


@asynccontextmanager
async def spawn(env: dict[str, str], log: Path, args: list[str]) -> AsyncIterator[ClientSession]:
    """``honcho-server mcp ARGS`` as an MCP client starts it: over stdin and stdout."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "honcho_server", "mcp", *args], env=env, cwd=ROOT
    )
    with log.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            yield s


async def test_stdio_forwards_to_a_live_server_with_the_key(
    auth_server: str, tmp_path: Path
) -> None:
    w = f"mcp-url-{uuid.uuid4().hex[:8]}"
    admin = mint(SECRET, admin=True)
    env = {**NO_DATABASE, "HONCHO_WORKSPACE_ID": w}
    async with spawn(
        env, tmp_path / "admin.log", ["--url", auth_server + "/", "--api-key", admin]
    ) as s:
        assert {tool.name for tool in (await s.list_tools()).tools} == TOOLS
        assert (await ok(s, "create_workspace"))["id"] == w
        await ok(s, "add_messages_to_session", session_id="s1", messages=[
            {"peer_id": "alice", "content": "I moved to Lisbon"},
            {"peer_id": "bob", "content": "How is it?"},
        ])  # fmt: skip
        await ok(s, "set_peer_card", peer_id="bob", peer_card=["bob fact"])
        messages = await ok(s, "get_session_messages", session_id="s1")
        assert [m["content"] for m in messages["messages"]] == ["I moved to Lisbon", "How is it?"]
        unknown = await error(s, "list_peers", workspace_id=f"missing-{uuid.uuid4().hex[:8]}")
        assert "Workspace missing-" in unknown and unknown.endswith("not found")
    # what the server wrote is what its own /mcp reads
    async with connect(auth_server, bearer(admin, workspace=w)) as s:
        assert (await ok(s, "inspect_workspace"))["session_count"] == 1

    peer_key = mint(SECRET, workspace=w, peer="alice")  # from HONCHO_API_KEY this time
    env = {**NO_DATABASE, "HONCHO_WORKSPACE_ID": w, "HONCHO_API_KEY": peer_key}
    async with spawn(env, tmp_path / "peer.log", ["--url", auth_server]) as s:
        assert "not permissioned" in await error(s, "get_peer_card", peer_id="bob")


def test_an_unreachable_url_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out = honcho_cli(["mcp", "--url", url], NO_DATABASE)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith(f"honcho-server mcp: cannot reach {url}: ")
    assert lines[1] == "Start it (`honcho-server serve`) or correct --url."
