"""The cluster and its database: version check, initdb (password auth), CREATE DATABASE."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import stat
import time
from typing import Final

from .accounts import give_to_server_user
from .commands import Binaries
from .errors import EmbeddedPostgresError
from .logs import logger, tail
from .ports import HOST
from .security import scram_verifier, write_hba

PG_SUPERUSER: Final = "postgres"
"""Database superuser created by initdb (password authentication, see :mod:`.security`)."""


def check_binaries(tools: Binaries) -> str:
    """Run ``postgres -V`` as the server user; return the major version."""
    code, output = tools.run("postgres", ["-V"], as_server=True, timeout=10)
    match = re.search(r"PostgreSQL\)?\s+(\d+)", output)
    if code != 0 or match is None:
        who = tools.run_as.name if tools.run_as else "the current user"
        raise EmbeddedPostgresError(
            f"the bundled postgres binary is not runnable by {who} "
            f"(exit {code}): {tail(output)}\nCheck that {tools.layout.data_dir} is not on a "
            "noexec mount and that the user can traverse it."
        )
    return match.group(1)


def ensure_cluster(tools: Binaries, password: str) -> bool:
    """initdb the cluster if needed (atomically) and check its version; True if created.

    A new cluster's superuser has ``password`` and its pg_hba.conf is :data:`.security.HBA`
    before it ever starts.
    """
    major = check_binaries(tools)
    pgdata = tools.layout.pgdata
    run_as = tools.run_as
    version_file = pgdata / "PG_VERSION"
    if version_file.exists():
        found = version_file.read_text().strip()
        if found != major:
            raise EmbeddedPostgresError(
                f"{pgdata} holds a PostgreSQL {found} cluster but the bundled "
                f"binaries are PostgreSQL {major}; dump it with a PostgreSQL {found} "
                f"pg_dump (or pg_upgrade) and move the directory away"
            )
        if run_as is not None and pgdata.stat().st_uid != run_as.uid:
            logger.warning("re-owning %s to %r", pgdata, run_as.name)
            give_to_server_user(pgdata, run_as, recursive=True)
        if stat.S_IMODE(pgdata.stat().st_mode) not in (0o700, 0o750):
            pgdata.chmod(0o700)  # postgres refuses group/world-accessible data
        return False
    if pgdata.exists() and any(pgdata.iterdir()):
        raise EmbeddedPostgresError(
            f"{pgdata} is not empty but has no PG_VERSION: not a PostgreSQL cluster; move it away"
        )
    _initdb(tools, password)
    return True


def _initdb(tools: Binaries, password: str) -> None:
    """Create the cluster in a staging directory, then rename it into place."""
    pgdata = tools.layout.pgdata
    began = time.monotonic()
    staging = tools.layout.initdb_staging
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    give_to_server_user(staging, tools.run_as, recursive=False)
    # initdb reads the password from a file; PostgreSQL stores a SCRAM verifier as given,
    # so the file (readable by the server user only, removed at once) holds just that.
    pwfile = tools.layout.server_dir / f".initdb-pw.{os.getpid()}"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(scram_verifier(password) + "\n")
    give_to_server_user(pwfile, tools.run_as, recursive=False)
    try:
        code, output = _run_initdb(tools, staging, pwfile)
    finally:
        pwfile.unlink(missing_ok=True)
    if code != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbeddedPostgresError(f"initdb failed (exit {code}):\n{tail(output)}")
    write_hba(staging, tools.run_as)
    with contextlib.suppress(FileNotFoundError):
        pgdata.rmdir()  # an empty leftover directory
    staging.rename(pgdata)
    logger.info("initialised PostgreSQL cluster %s in %.2fs", pgdata, time.monotonic() - began)


def _run_initdb(tools: Binaries, staging: pathlib.Path, pwfile: pathlib.Path) -> tuple[int, str]:
    return tools.run(
        "initdb",
        [
            "-D", str(staging),
            "-U", PG_SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "--encoding=UTF8",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--locale=C",
            "--no-instructions",
        ],
        as_server=True,
    )  # fmt: skip


def ensure_database(tools: Binaries, port: int, database: str, password: str) -> None:
    """CREATE DATABASE if missing, through the bundled psql over TCP."""
    script = (
        "SELECT format('CREATE DATABASE %I', :'dbname') "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname') \\gexec\n"
    )
    code, output = tools.run(
        "psql",
        [
            "-X", "-w", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", HOST, "-p", str(port), "-U", PG_SUPERUSER, "-d", "postgres",
            "-v", f"dbname={database}",
        ],
        as_server=False,
        stdin=script,
        password=password,
    )  # fmt: skip
    if code != 0:
        if "password authentication failed" in output:
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL refused the password in {tools.layout.password_file}."
                "\nStop every honcho-server using this data directory, delete that file and "
                "start again: a new password is generated and set."
            )
        raise EmbeddedPostgresError(
            f"could not create database {database!r} (psql exit {code}):\n{tail(output)}"
        )
