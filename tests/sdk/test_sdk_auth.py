"""The official SDK against a server started with AUTH_USE_AUTH=true (Bearer keys)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from honcho import AuthenticationError, Honcho

from honcho_server.auth.keys import mint
from servers import start_server, stop_server

SECRET = "sdk-auth-secret-1b6e0c93f5a74d28be41c7a09d3f6e52"


@pytest.fixture(scope="module")
def auth_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("auth") / "server.log"
    process, base_url = start_server(
        {
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "AUTH_USE_AUTH": "true",
            "AUTH_JWT_SECRET": SECRET,
            "EMBED_MESSAGES": "false",
            "DERIVER_ENABLED": "false",
            "SUMMARY_ENABLED": "false",
        },
        log_path,
    )
    try:
        yield base_url
    finally:
        stop_server(process)


@pytest.fixture
def sdk(auth_server: str) -> Callable[[str, str | None], Honcho]:
    def make(workspace: str, key: str | None) -> Honcho:
        return Honcho(base_url=auth_server, workspace_id=workspace, api_key=key, max_retries=0)

    return make


def test_workspace_key_works_on_its_workspace_only(
    sdk: Callable[[str, str | None], Honcho],
) -> None:
    mine, theirs = f"ws-{uuid.uuid4().hex[:10]}", f"ws-{uuid.uuid4().hex[:10]}"
    key = mint(SECRET, workspace=mine)
    honcho = sdk(mine, key)
    alice = honcho.peer("alice")
    session = honcho.session("s1")
    session.add_peers([alice])
    session.add_messages([alice.message("I keep bees")])
    assert [m.content for m in session.messages()] == ["I keep bees"]
    assert [p.id for p in honcho.peers()] == ["alice"]

    with pytest.raises(AuthenticationError):
        sdk(theirs, key).peer("alice")
    with pytest.raises(AuthenticationError):
        sdk(mine, None).peers()
    with pytest.raises(AuthenticationError):
        sdk(mine, mint("a-different-secret-of-sufficient-length-42", workspace=mine)).peers()


def test_peer_key_reads_its_sessions_and_writes_nothing_else(
    sdk: Callable[[str, str | None], Honcho],
) -> None:
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    admin = sdk(ws, mint(SECRET, admin=True))
    alice, bob = admin.peer("alice"), admin.peer("bob")
    shared = admin.session("shared")
    shared.add_peers([alice, bob])
    shared.add_messages([bob.message("bob was here")])
    admin.session("private").add_peers([bob])

    as_alice = sdk(ws, mint(SECRET, workspace=ws, peer="alice"))
    me = as_alice.peer("alice")
    me.set_card(["keeps bees"])
    assert me.get_card() == ["keeps bees"]
    mine = as_alice.session("shared")
    assert [m.content for m in mine.messages()] == ["bob was here"]
    with pytest.raises(AuthenticationError):
        as_alice.session("private")  # not a member
    with pytest.raises(AuthenticationError):
        mine.add_messages([me.message("a peer key cannot write to the session")])
    with pytest.raises(AuthenticationError):
        as_alice.peer("bob", metadata={"renamed": True})
    with pytest.raises(AuthenticationError):
        as_alice.peers()  # a workspace-level listing
    assert [m.content for m in shared.messages()] == ["bob was here"]
