"""Start-up mistakes end in one or two lines that say what is wrong and what to do, and a
non-zero exit — never a traceback with the useful line at its bottom (``--debug`` shows it)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from servers import ROOT, free_port


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_CONNECTION_URI")}
    return subprocess.run(
        [sys.executable, "-m", "honcho_server", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _message(out: subprocess.CompletedProcess[str]) -> str:
    """The error line (log lines before it are the normal start-up log)."""
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("honcho-server: ")]
    assert len(lines) == 1, out.stderr
    return lines[0].removeprefix("honcho-server: ")


# where the test server's database is: its unix socket (the embedded default), or host:port
_WHERE = r"(?:on socket /\S+/\.s\.PGSQL\.\d+|at 127\.0\.0\.1:\d+)"


def _with_port(url: str, port: int) -> str:
    return make_url(url).set(port=port).render_as_string(hide_password=False)


def test_a_bad_setting_is_named_with_its_value() -> None:
    out = _run("status", AUTH_USE_AUTH="ture")
    assert out.returncode == 2
    assert _message(out) == (
        "configuration error: AUTH_USE_AUTH: Input should be a valid boolean, unable to "
        "interpret input (got 'ture')"
    )


def test_a_secret_is_never_echoed() -> None:
    out = _run("status", AUTH_USE_AUTH="true", AUTH_JWT_SECRET="short")
    assert out.returncode == 2
    assert "AUTH_JWT_SECRET is too weak" in _message(out) and "short" not in out.stderr


def test_nothing_listens_at_the_database_url() -> None:
    port = free_port()
    out = _run("migrate", DATABASE_URL=f"postgresql://u:p@127.0.0.1:{port}/honcho")
    assert out.returncode == 1
    assert _message(out) == (
        f"the database 'honcho' at 127.0.0.1:{port} refused the connection (nothing listens "
        "there); start PostgreSQL or fix DATABASE_URL"
    )
    assert "--debug" in out.stderr


def test_no_socket_at_the_database_url(tmp_path: Path) -> None:
    url = f"postgresql://u:p@/honcho?host={tmp_path}&port=5999"  # a directory with no socket
    out = _run("migrate", DATABASE_URL=url)
    assert out.returncode == 1
    assert _message(out) == (
        f"the database 'honcho' on socket {tmp_path}/.s.PGSQL.5999 refused the connection "
        "(nothing listens there); start PostgreSQL or fix DATABASE_URL"
    )


def test_an_unknown_database_host() -> None:
    out = _run("migrate", DATABASE_URL="postgresql://u:p@no-such-host.invalid/honcho")
    assert out.returncode == 1
    assert _message(out) == (
        "the database 'honcho' at no-such-host.invalid:5432: unknown host; check the host "
        "name in DATABASE_URL"
    )


def test_a_wrong_password_and_a_missing_database(database_url: str) -> None:
    url = make_url(database_url).set(drivername="postgresql")
    wrong = url.set(password="not-the-password").render_as_string(hide_password=False)
    out = _run("migrate", DATABASE_URL=wrong)
    assert out.returncode == 1
    assert re.fullmatch(
        rf"the database '\w+' {_WHERE} refused the user name or password; "
        r"check DATABASE_URL",
        _message(out),
    )
    missing = url.set(database="no_such_db").render_as_string(hide_password=False)
    out = _run("migrate", DATABASE_URL=missing)
    assert out.returncode == 1
    assert re.fullmatch(
        rf"the database 'no_such_db' {_WHERE}: database \"no_such_db\" does not "
        r"exist; create it \(createdb\) or fix DATABASE_URL",
        _message(out),
    )


def test_the_port_is_in_use_before_anything_starts(database_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = _run("serve", "--port", str(port), DATABASE_URL=database_url)
    assert out.returncode == 1
    assert _message(out) == (
        f"port {port} on 127.0.0.1 is already in use (another honcho-server?); stop it, or "
        "choose another port with --port"
    )
    assert "starting the Honcho" not in out.stderr  # nothing claimed to be serving


def test_a_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = _run("migrate", HONCHO_DATA_DIR=str(blocker / "data"))
    assert out.returncode == 1
    message = _message(out)
    assert message.startswith(f"HONCHO_DATA_DIR={blocker / 'data'} cannot be used (")
    assert message.endswith("fix its permissions or choose another directory")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(where: str) -> None:
    url = f"postgresql://u:p@127.0.0.1:{free_port()}/honcho"
    args = ["--debug", "migrate"] if where == "before" else ["migrate", "--debug"]
    out = _run(*args, DATABASE_URL=url)
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "ConnectionRefusedError" in out.stderr
