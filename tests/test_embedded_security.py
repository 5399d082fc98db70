"""The embedded PostgreSQL is not open to every local user: every connection (TCP on loopback
and the unix socket) needs the random password kept 0600 in the data dir; nothing above the
data dir changes mode (as root, where the server user cannot reach the data dir, its files
live in a directory it owns instead); a data dir made by an older version (trust, no
password) is secured in place on its next start and keeps its data, whether its server was
stopped or is still running. Real servers, real sockets, the bundled psql and asyncpg."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from honcho_server.db.embedded import DEFAULT_SYSTEM_USER, EmbeddedPostgres
from honcho_server.db.embedded.security import HBA
from servers import start_server, stop_server

ROOT = os.geteuid() == 0


def scratch_dir() -> Path:
    """A new directory (mode 0700, ours) outside pytest's tmp_path (see conftest)."""
    return Path(tempfile.mkdtemp(prefix="honcho-test-"))


OLD_HBA = """\
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
host    replication     all             ::1/128                 trust
"""
"""The rules ``initdb --auth=trust`` wrote for the clusters of older versions."""


@pytest.fixture
def base() -> Iterator[Path]:
    """A scratch directory other users may traverse (like /var/lib or /srv)."""
    path = scratch_dir()
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ancestors(path: Path) -> dict[Path, tuple[int, int, int]]:
    """(mode, uid, gid) of every directory above ``path``."""
    return {p: _owner_mode(p) for p in path.parents}


def _owner_mode(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mode, st.st_uid, st.st_gid


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def connect(host: str, port: int, password: str | None) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=host, port=port, user="postgres", password=password, database="honcho", timeout=10
    )


def refused(host: str, port: int, password: str | None) -> str:
    """The error a connection as postgres gets (fails the test if it is let in)."""

    async def attempt() -> str:
        try:
            conn = await connect(host, port, password)
        except asyncpg.InvalidPasswordError as exc:  # includes "no password supplied"
            return str(exc)
        await conn.close()
        raise AssertionError(f"connected to {host}:{port} with password={password!r}")

    return str(run(attempt()))


def psql(server_dir: Path, host: str, port: int, password: str | None, sql: str) -> tuple[int, str]:
    """The bundled psql, as the current user; never prompts."""
    binary = next(server_dir.rglob("pginstall/bin/psql"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password is not None:
        env["PGPASSWORD"] = password
    proc = subprocess.run(
        [str(binary), "-X", "-w", "-At", "-h", host, "-p", str(port), "-U", "postgres",
         "-d", "honcho", "-c", sql],
        env=env, capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def assert_locked_down(pg: EmbeddedPostgres, data_dir: Path) -> str:
    """Everything the security model promises about a started server; returns the password."""
    password_file = data_dir / "password"
    st = password_file.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == os.geteuid()
    password = password_file.read_text().strip()
    assert len(password) >= 40
    assert f":{password}@" in pg.url  # the app's DATABASE_URL carries it
    port, socket_dir = pg.port, pg.server_dir / "run"

    # No password, or a wrong one: refused on TCP and on the unix socket, by asyncpg ...
    for host in ("127.0.0.1", str(socket_dir)):
        assert "password" in refused(host, port, None)
        assert "password authentication failed" in refused(host, port, "wrong" + password)
    # ... and by psql (which would otherwise try ~/.pgpass, PGPASSWORD, ...)
    for host in ("127.0.0.1", str(socket_dir)):
        code, output = psql(pg.server_dir, host, port, None, "SELECT 1")
        assert code == 2 and "no password supplied" in output, output
        code, output = psql(pg.server_dir, host, port, password, "SELECT current_user")
        assert (code, output.strip()) == (0, "postgres"), output

    async def settings() -> tuple[Any, ...]:
        conn = await connect("127.0.0.1", port, password)
        try:
            rules = await conn.fetch(
                "SELECT type, database, user_name, address, auth_method, error "
                "FROM pg_hba_file_rules ORDER BY rule_number"
            )
            listen = await conn.fetchval("SHOW listen_addresses")
            encryption = await conn.fetchval(
                "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'postgres'"
            )
        finally:
            await conn.close()
        socket = await connect(str(socket_dir), port, password)  # the socket works with it
        await socket.close()
        return [tuple(r.values()) for r in rules], listen, encryption

    rules, listen, encryption = run(settings())
    assert rules == [
        ("local", ["all"], ["all"], None, "scram-sha-256", None),
        ("host", ["all"], ["all"], "127.0.0.1", "scram-sha-256", None),
        ("host", ["all"], ["all"], "::1", "scram-sha-256", None),
    ]
    assert listen == "127.0.0.1"
    assert encryption == "SCRAM-SHA-256$"

    # The socket's directory: 0700, the server user's (only it and root get in at all).
    st = socket_dir.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700
    server_uid = pwd.getpwnam(DEFAULT_SYSTEM_USER).pw_uid if ROOT else os.geteuid()
    assert st.st_uid == server_uid
    assert (pg.server_dir / "pgdata").stat().st_uid == server_uid
    return password


def test_password_required_and_nothing_above_the_data_dir_changes(base: Path) -> None:
    data_dir = base / "data" / "postgres"
    (base / "data").mkdir()
    before = ancestors(data_dir)
    pg = EmbeddedPostgres(data_dir)
    try:
        pg.start()
        assert pg.server_dir == data_dir  # reachable: the cluster stays in the data dir
        password = assert_locked_down(pg, data_dir)
        port = pg.port
    finally:
        pg.stop()
    assert ancestors(data_dir) == before

    # The next start keeps the password (the app's URL stays valid across restarts).
    pg = EmbeddedPostgres(data_dir)
    try:
        pg.start()
        assert (data_dir / "password").read_text().strip() == password
        assert pg.port == port
        assert_locked_down(pg, data_dir)
    finally:
        pg.stop()
    assert ancestors(data_dir) == before


def _server_address(url: str) -> str | None:
    """Where a connection made from ``url`` reached the server: its IP, None over a socket."""

    async def address() -> str | None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            found: str | None = await conn.fetchval("SELECT host(inet_server_addr())")
            return found
        finally:
            await conn.close()

    found: str | None = run(address())
    return found


def test_the_url_takes_the_unix_socket_or_tcp_when_its_path_is_too_long(base: Path) -> None:
    """The app's URL reaches the server over its socket (cheaper per round trip than loopback
    TCP); where the socket's path would be too long for the system, over 127.0.0.1."""
    for data_dir, socket in ((base / "short", True), (base / ("d" * 100) / "postgres", False)):
        pg = EmbeddedPostgres(data_dir)
        try:
            url = pg.start()
            run_dir = pg.server_dir / "run"
            if socket:
                assert url.endswith(f"@/honcho?host={run_dir}&port={pg.port}"), url
                assert _server_address(url) is None  # a unix socket has no address
            else:
                assert url.endswith(f"@127.0.0.1:{pg.port}/honcho"), url
                assert _server_address(url) == "127.0.0.1"
        finally:
            pg.stop()


@pytest.mark.skipif(not ROOT, reason="the server user and relocation exist only as root")
def test_serve_as_root_under_a_closed_directory(tmp_path: Path) -> None:
    """Like root's default data dir (/root is 0700): `serve` works, nothing above the data
    dir is opened up; the cluster lives in a directory the server user owns, linked."""
    closed = scratch_dir()  # mode 0700, owned by root: honcho-pg cannot traverse it
    data_dir = closed / "honcho"
    data_dir.mkdir(mode=0o700)
    before = ancestors(data_dir) | {data_dir: _owner_mode(data_dir)}
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    for key in ("DATABASE_URL", "DB_CONNECTION_URI"):
        os.environ.pop(key, None)
    env = {"HONCHO_DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO", "EMBEDDED_WORKER": "false"}
    relocated: Path | None = None
    process, url = start_server(env, tmp_path / "serve.log")
    try:
        created = httpx.post(
            f"{url}/v3/workspaces/closed-ws/sessions/s/messages",
            json={"messages": [{"peer_id": "alice", "content": "private"}]},
        )
        assert created.status_code == 201
        link = data_dir / "postgres" / "server"
        assert link.is_symlink()
        relocated = Path(os.readlink(link))
        assert relocated.parent == Path("/var/lib/honcho-pg")
        st = relocated.stat()
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert st.st_uid == pwd.getpwnam(DEFAULT_SYSTEM_USER).pw_uid
        assert (relocated / "DATA_DIR").read_text().strip() == str(data_dir / "postgres")

        port = int((data_dir / "postgres" / "port").read_text())
        password = (data_dir / "postgres" / "password").read_text().strip()
        assert stat.S_IMODE((data_dir / "postgres" / "password").stat().st_mode) == 0o600
        for host in ("127.0.0.1", str(relocated / "run")):
            assert "password" in refused(host, port, None)
            code, output = psql(relocated, host, port, password, "SELECT count(*) FROM messages")
            assert (code, output.strip()) == (0, "1"), output
        log = (tmp_path / "serve.log").read_text()
        assert "adding o+x" not in log
        assert f"cannot traverse {closed} (mode 0700)" in log
    finally:
        assert stop_server(process) == 0
        after = ancestors(data_dir) | {data_dir: _owner_mode(data_dir)}
        shutil.rmtree(closed, ignore_errors=True)
        if relocated is not None:
            shutil.rmtree(relocated, ignore_errors=True)
    assert after == before


# ---- data dirs of older versions --------------------------------------------------------


def _as_server_user() -> dict[str, Any]:
    if not ROOT:
        return {}
    entry = pwd.getpwnam(DEFAULT_SYSTEM_USER)
    return {
        "user": entry.pw_uid,
        "group": entry.pw_gid,
        "extra_groups": os.getgrouplist(entry.pw_name, entry.pw_gid),
    }


def make_old_style(data_dir: Path) -> None:
    """Turn a stopped data dir into what older versions left: trust rules, no password."""
    pgdata = data_dir / "pgdata"
    binary = next(data_dir.rglob("pginstall/bin/postgres"))
    subprocess.run(
        [str(binary), "--single", "-D", str(pgdata), "-c", "exit_on_error=on", "postgres"],
        input=b"ALTER ROLE postgres PASSWORD NULL;\n",
        capture_output=True,
        check=True,
        cwd=data_dir,
        **_as_server_user(),
    )
    hba = pgdata / "pg_hba.conf"
    hba.write_text(OLD_HBA)
    (data_dir / "password").unlink()


def start_like_an_old_version(data_dir: Path) -> int:
    """pg_ctl start as older versions did (loopback, trust); the postmaster's pid."""
    pg_ctl = next(data_dir.rglob("pginstall/bin/pg_ctl"))
    port = (data_dir / "port").read_text().strip()
    subprocess.run(
        [str(pg_ctl), "start", "-D", str(data_dir / "pgdata"), "-l", str(data_dir / "log/old.log"),
         "-w", "-s", "-o", f"-h 127.0.0.1 -p {port} -k {data_dir / 'run'}"],
        capture_output=True, check=True, cwd=data_dir, **_as_server_user(),
    )  # fmt: skip
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def _seed(pg: EmbeddedPostgres) -> None:
    async def seed() -> None:
        conn = await asyncpg.connect(pg.url.replace("+asyncpg", ""))
        await conn.execute("CREATE TABLE memory (id int PRIMARY KEY, note text)")
        await conn.execute("INSERT INTO memory VALUES (1, 'kept'), (2, 'also kept')")
        await conn.close()

    run(seed())


def _notes(pg: EmbeddedPostgres) -> list[str]:
    async def read() -> list[str]:
        conn = await asyncpg.connect(pg.url.replace("+asyncpg", ""))
        rows = await conn.fetch("SELECT note FROM memory ORDER BY id")
        await conn.close()
        return [r["note"] for r in rows]

    return list(run(read()))


def test_old_trust_data_dir_is_secured_in_place(base: Path) -> None:
    data_dir = base / "pg"
    pg = EmbeddedPostgres(data_dir)
    pg.start()
    _seed(pg)
    port = pg.port
    pg.stop()
    make_old_style(data_dir)

    # Stopped old data dir: the password is set offline and the rules are rewritten before
    # the postmaster starts, so it never trusts anyone again.
    before = ancestors(data_dir)
    pg = EmbeddedPostgres(data_dir)
    try:
        pg.start()
        assert pg.port == port
        assert (data_dir / "pgdata" / "pg_hba.conf").read_text() == HBA
        assert_locked_down(pg, data_dir)
        assert _notes(pg) == ["kept", "also kept"]
    finally:
        pg.stop()
    assert ancestors(data_dir) == before


def test_old_server_still_running_is_secured_online(base: Path) -> None:
    """A server an older version left running (trust) is adopted: password set, rules
    rewritten and reloaded (the same postmaster), then a passwordless login is refused."""
    data_dir = base / "pg"
    pg = EmbeddedPostgres(data_dir)
    pg.start()
    _seed(pg)
    port = pg.port
    pg.stop()
    make_old_style(data_dir)
    pid = start_like_an_old_version(data_dir)
    try:
        code, output = psql(data_dir, "127.0.0.1", port, None, "SELECT note FROM memory LIMIT 1")
        assert (code, output.strip()) == (0, "kept"), "the old style really trusted everyone"

        pg = EmbeddedPostgres(data_dir)
        pg.start()
        try:
            assert pg.postmaster_pid() == pid  # reused and reloaded, not restarted
            assert (data_dir / "pgdata" / "pg_hba.conf").read_text() == HBA
            assert_locked_down(pg, data_dir)
            assert _notes(pg) == ["kept", "also kept"]
        finally:
            pg.stop()
        assert pg.postmaster_pid() is None
    finally:
        pg_ctl = next(data_dir.rglob("pginstall/bin/pg_ctl"))
        subprocess.run(
            [str(pg_ctl), "stop", "-D", str(data_dir / "pgdata"), "-m", "immediate"],
            capture_output=True, check=False, cwd=data_dir, **_as_server_user(),
        )  # fmt: skip


def test_lost_password_file_is_replaced_on_a_stopped_server(base: Path) -> None:
    data_dir = base / "pg"
    pg = EmbeddedPostgres(data_dir)
    pg.start()
    _seed(pg)
    pg.stop()
    old = (data_dir / "password").read_text()
    (data_dir / "password").unlink()
    pg = EmbeddedPostgres(data_dir)
    try:
        pg.start()
        assert (data_dir / "password").read_text() != old
        assert_locked_down(pg, data_dir)
        assert "password authentication failed" in refused("127.0.0.1", pg.port, old.strip())
        assert _notes(pg) == ["kept", "also kept"]
    finally:
        pg.stop()
