"""Password authentication for the embedded server: the password file, pg_hba.conf, upgrades.

Every connection needs the superuser's password (SCRAM-SHA-256), over TCP on loopback and on
the unix socket alike; nothing is ``trust``-ed. The password is random, generated at the
first start and kept in ``data_dir/password`` (mode 0600, owned by the user running
honcho-server; the server user never reads it). PostgreSQL only ever sees its SCRAM
verifier (given to initdb, or to ``ALTER ROLE``), never the password itself.

A cluster made by older versions (``trust`` for every local connection, no password) is
secured in place on its next start: offline when no server runs (``postgres --single``
sets the verifier; pg_hba.conf is rewritten before the postmaster starts, so it never
trusts anyone again), or online when one still runs (``ALTER ROLE``, rewrite, reload,
then checked: a connection without the password must be refused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pathlib
import secrets
import stat
import time
from typing import Final

from .accounts import RunAs, give_to_server_user
from .commands import Binaries
from .errors import EmbeddedPostgresError
from .logs import logger, tail
from .ports import HOST

HBA: Final = """\
# Written by honcho-server (rewritten on every start): every connection needs the password
# (SCRAM-SHA-256) kept in the data directory's `password` file. Nothing is trusted.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""

_SCRAM_ITERATIONS: Final = 4096  # PostgreSQL's default (scram_iterations)


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677).

    ``password`` must be ASCII without control characters (SASLprep is then the identity).
    """
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def read_password(path: pathlib.Path) -> str | None:
    """The password kept in ``path``; None if there is no such file. Tightens a loose mode."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EmbeddedPostgresError(f"cannot read the password file {path}: {exc}") from exc
    with os.fdopen(fd, "r") as fh:
        st = os.fstat(fh.fileno())
        if stat.S_IMODE(st.st_mode) & 0o077:
            logger.warning("%s was readable by others; making it 0600", path)
            os.fchmod(fh.fileno(), 0o600)
        password = fh.read().strip()
    if not password or not password.isascii() or not password.isprintable():
        raise EmbeddedPostgresError(
            f"the database password file {path} is empty or not one line of printable ASCII; "
            "delete it and start again with no honcho-server running (a new one is set)"
        )
    return password


def ensure_password(path: pathlib.Path) -> tuple[str, bool]:
    """(The password in ``path``, whether the file was just created: random, mode 0600)."""
    found = read_password(path)
    if found is not None:
        return found, False
    password = secrets.token_urlsafe(32)  # 256 bits; URL-safe, so it goes in a URL as is
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{password}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    staging.replace(path)
    logger.info("generated the embedded PostgreSQL password in %s (mode 0600)", path)
    return password, True


def hba_is_current(pgdata: pathlib.Path) -> bool:
    """Whether the cluster's pg_hba.conf is exactly :data:`HBA`."""
    try:
        return (pgdata / "pg_hba.conf").read_text() == HBA
    except FileNotFoundError:
        return False


def write_hba(pgdata: pathlib.Path, run_as: RunAs | None) -> None:
    """Replace the cluster's pg_hba.conf by :data:`HBA` (atomically; owned by the server user)."""
    staging = pgdata / f".pg_hba.conf.{os.getpid()}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(HBA)
        fh.flush()
        os.fsync(fh.fileno())
    give_to_server_user(staging, run_as, recursive=False)
    staging.replace(pgdata / "pg_hba.conf")


def secure_offline(tools: Binaries, superuser: str, password: str) -> None:
    """Set the password and write pg_hba.conf of a cluster no server runs on."""
    began = time.monotonic()
    code, output = tools.run(
        "postgres",
        ["--single", "-D", str(tools.layout.pgdata), "-c", "exit_on_error=on", "postgres"],
        as_server=True,
        stdin=f"ALTER ROLE {_ident(superuser)} PASSWORD '{scram_verifier(password)}';\n",
    )
    if code != 0:
        raise EmbeddedPostgresError(
            f"could not set the password of the embedded PostgreSQL (postgres --single exit "
            f"{code}):\n{tail(output, 10)}"
        )
    write_hba(tools.layout.pgdata, tools.run_as)
    logger.warning(
        "embedded PostgreSQL in %s now requires the password in %s (pg_hba.conf rewritten; "
        "took %.2fs)",
        tools.layout.pgdata,
        tools.layout.password_file,
        time.monotonic() - began,
    )


def secure_online(tools: Binaries, port: int, superuser: str, password: str) -> None:
    """Set the password, rewrite pg_hba.conf and reload a running server; check the result.

    Connects as it can: an old cluster still trusts local connections, a current one takes
    the password.
    """
    began = time.monotonic()
    alter = f"ALTER ROLE {_ident(superuser)} PASSWORD '{scram_verifier(password)}';\n"
    _psql(tools, port, superuser, password, alter, "could not set the password")
    write_hba(tools.layout.pgdata, tools.run_as)
    _psql(tools, port, superuser, password, "SELECT pg_reload_conf();\n", "could not reload")
    deadline = time.monotonic() + 10
    while accepts_without_password(tools, port, superuser):
        if time.monotonic() > deadline:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL on {HOST}:{port} still accepts connections without a "
                f"password after pg_hba.conf was rewritten and reloaded; stop it"
            )
        time.sleep(0.1)
    logger.warning(
        "running embedded PostgreSQL on %s:%d now requires the password in %s (pg_hba.conf "
        "rewritten and reloaded in %.2fs)",
        HOST,
        port,
        tools.layout.password_file,
        time.monotonic() - began,
    )


def accepts_without_password(tools: Binaries, port: int, superuser: str) -> bool:
    """Whether the server on ``port`` lets ``superuser`` in without a password."""
    code, _output = tools.run(
        "psql",
        ["-X", "-w", "-q", "-h", HOST, "-p", str(port), "-U", superuser, "-d", "postgres",
         "-c", "SELECT 1"],
        as_server=False,
    )  # fmt: skip
    return code == 0


def _psql(tools: Binaries, port: int, user: str, password: str, sql: str, what: str) -> None:
    code, output = tools.run(
        "psql",
        ["-X", "-w", "-q", "-v", "ON_ERROR_STOP=1",
         "-h", HOST, "-p", str(port), "-U", user, "-d", "postgres"],
        as_server=False,
        stdin=sql,
        password=password,
    )  # fmt: skip
    if code != 0:
        raise EmbeddedPostgresError(f"{what} (psql exit {code}):\n{tail(output, 10)}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
