"""The :class:`EmbeddedPostgres` lifecycle: start or reuse the server, stop it when last out."""

from __future__ import annotations

import fcntl
import os
import pathlib
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

from .accounts import DEFAULT_SYSTEM_USER, RunAs, ensure_system_user, give_to_server_user
from .cluster import PG_SUPERUSER, ensure_cluster, ensure_database
from .commands import Binaries
from .control import start_server, stop_server
from .errors import DataDirInUse, EmbeddedPostgresError
from .layout import Layout
from .locks import acquire_flock, flocked
from .logs import logger
from .placement import SERVER_HOME, place
from .ports import HOST, remember_port
from .processes import (
    clear_dead_postmaster,
    listens_on_loopback,
    live_postmaster,
    running_postmaster,
    wait_until_settled,
)
from .runtime import Runtime, cleanup_old_runtimes, ensure_runtime
from .security import ensure_password, hba_is_current, secure_offline, secure_online


@dataclass(frozen=True)
class Restarted:
    """The outcome of :meth:`EmbeddedPostgres.restart`."""

    pid: int
    """The postmaster now serving the cluster."""
    port: int
    by_us: bool
    """False when another process using the cluster restarted it first."""
    orphans_killed: int = 0
    """Processes of the dead server that were still running (e.g. a backend in a query)."""


class EmbeddedPostgres:
    """A PostgreSQL 18 + pgvector server owned by this process, stored in ``data_dir``.

    Typical use::

        pg = EmbeddedPostgres(pathlib.Path("~/.local/share/honcho").expanduser())
        url = pg.start()          # postgresql+asyncpg://postgres:PASSWORD@/honcho?host=DIR&port=PORT
        atexit.register(pg.stop)  # the caller owns signal / exit handling

    Every connection needs the password (see :mod:`.security`); it is generated at the first
    start and kept in :attr:`password_file`.

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
        server_home: pathlib.Path = SERVER_HOME,
    ) -> None:
        """Describe a server; nothing touches the disk until :meth:`start`.

        Args:
            data_dir: Directory holding the cluster, logs and binaries (created).
            database: Database created on start if missing (the URL points at it).
            system_user: OS user the server runs as when we are root (created).
            timeout: Seconds allowed for each of initdb/start/stop and lock waits.
            server_home: Where the server user's files go as root when it cannot reach
                ``data_dir`` (see :mod:`.placement`).
        """
        if not database or len(database.encode()) > 63 or "\x00" in database:
            raise ValueError(f"invalid PostgreSQL database name: {database!r}")
        data_dir = pathlib.Path(data_dir).expanduser().absolute()
        self._layout = Layout(data_dir, data_dir)  # placed for real by start()
        self._server_home = server_home
        self._password: str | None = None
        self._database = database
        self._system_user = system_user
        self._timeout = timeout
        self._mutex = threading.Lock()
        self._users_fd: int | None = None
        self._port: int | None = None
        self._runtime: Runtime | None = None
        self._run_as: RunAs | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database; only valid after :meth:`start`.

        Its unix socket when the server has one (``host=`` the socket directory, as asyncpg,
        SQLAlchemy and libpq read it), else ``127.0.0.1:port``."""
        if self._port is None or self._password is None:
            raise EmbeddedPostgresError("embedded PostgreSQL is not started")
        base = f"postgresql+asyncpg://{PG_SUPERUSER}:{quote(self._password, safe='')}@"
        database = quote(self._database, safe="")
        socket = self._layout.run_dir / f".s.PGSQL.{self._port}"
        if socket.exists():  # a round trip over it costs a third of one over loopback TCP
            directory = quote(str(socket.parent), safe="/")
            return f"{base}/{database}?host={directory}&port={self._port}"
        return f"{base}{HOST}:{self._port}/{database}"  # no socket (path too long, older server)

    @property
    def password_file(self) -> pathlib.Path:
        """The file (mode 0600) holding the superuser's password, in ``data_dir``."""
        return self._layout.password_file

    @property
    def server_dir(self) -> pathlib.Path:
        """Where the cluster, its log and socket live (``data_dir`` unless relocated as root)."""
        return self._layout.server_dir

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

    def start(self, *, exclusive: bool = False) -> str:
        """Start (or reuse) the server; ensure the database exists; return :attr:`url`.

        A server already running on this cluster (e.g. left by a crashed process)
        is reused. A stale ``postmaster.pid`` is handled. Raises
        :class:`EmbeddedPostgresError` with the relevant log tail on failure.

        ``exclusive``: be the only user until :meth:`stop` (e.g. to restore a backup);
        raises :class:`DataDirInUse` if another process uses the server, and makes other
        processes wait (then fail) while we hold it.
        """
        layout = self._layout
        with self._mutex:
            if self._users_fd is not None and self._port is not None:
                return self.url
            began = time.monotonic()
            layout.data_dir.mkdir(parents=True, exist_ok=True)
            if exclusive:
                users_fd = self._lock_exclusively()
            else:
                users_fd = acquire_flock(
                    layout.users_lock, fcntl.LOCK_SH, self._timeout, "a stop or a restore"
                )
            try:
                with flocked(layout.start_lock, fcntl.LOCK_EX, self._timeout, "another start"):
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
                self._layout.pgdata,
                time.monotonic() - began,
            )
            return self.url

    def _lock_exclusively(self) -> int:
        """The users lock, exclusively: only while no other process uses the server."""
        path = self._layout.users_lock
        try:
            # A short wait covers a user that is just stopping the server.
            return acquire_flock(path, fcntl.LOCK_EX, min(self._timeout, 3.0), "")
        except EmbeddedPostgresError:
            raise DataDirInUse(
                f"{self._layout.data_dir} is in use by another honcho-server process "
                "(serve, worker or another command)"
            ) from None

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
                if self._runtime is not None:
                    stop_server(self._binaries())
            finally:
                os.close(fd)

    def has_cluster(self) -> bool:
        """Whether ``data_dir`` holds a database already (without starting anything)."""
        link = self._layout.server_link
        server_dir = pathlib.Path(os.readlink(link)) if link.is_symlink() else link.parent
        return (server_dir / "pgdata" / "PG_VERSION").exists()

    @property
    def started(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._users_fd is not None

    def postmaster_pid(self) -> int | None:
        """The pid of the live postmaster serving the cluster, or None if there is none.

        Cheap (reads ``postmaster.pid`` and /proc): meant to be polled by a supervisor.
        """
        info = running_postmaster(self._layout.pgdata, self._run_as)
        return None if info is None else info.pid

    def restart(self) -> Restarted | None:
        """Start the server again after its postmaster died, on the same port.

        The port stays the same so the clients' URL (:attr:`url`) stays valid; a taken
        port is an error. The dead server's orphaned processes are killed first and a
        stale ``postmaster.pid`` is handled (:func:`.processes.clear_dead_postmaster`);
        PostgreSQL's crash recovery replays the WAL. If another process using the cluster
        restarted it already, that server is adopted. Returns None (nothing done) after
        :meth:`stop` or before :meth:`start`. Raises :class:`EmbeddedPostgresError`.
        """
        layout = self._layout
        with self._mutex:
            port = self._port
            if self._users_fd is None or port is None:
                return None
            with flocked(layout.start_lock, fcntl.LOCK_EX, self._timeout, "another start"):
                info = running_postmaster(layout.pgdata, self._run_as)
                if info is not None:
                    info = wait_until_settled(info, layout, self._run_as, self._timeout)
                if info is not None:
                    if info.port != port or not listens_on_loopback(info):
                        raise EmbeddedPostgresError(
                            f"PostgreSQL (pid {info.pid}) was restarted on {layout.pgdata} "
                            f"with listen={info.listen!r} port={info.port}, not "
                            f"{HOST}:{port}; restart this process"
                        )
                    return Restarted(pid=info.pid, port=port, by_us=False)
                killed = clear_dead_postmaster(layout.pgdata, self._timeout)
                start_server(self._binaries(), port)
                started = running_postmaster(layout.pgdata, self._run_as)
                if started is None:
                    raise EmbeddedPostgresError(
                        f"PostgreSQL on {layout.pgdata} exited right after its restart"
                    )
                return Restarted(started.pid, port, by_us=True, orphans_killed=len(killed))

    def _binaries(self) -> Binaries:
        """The bundled tools as this server runs them (after :meth:`_prepare_layout`)."""
        assert self._runtime is not None
        return Binaries(self._layout, self._runtime.bin_dir, self._run_as, self._timeout)

    def _prepare_layout(self) -> None:
        """Place the files; create the server user, directories and private binaries."""
        if os.geteuid() == 0:
            self._run_as = ensure_system_user(self._system_user)
        self._layout = layout = place(self._layout.data_dir, self._run_as, self._server_home)
        self._runtime = ensure_runtime(layout.runtime_dir)
        for directory in (layout.run_dir, layout.log_dir):
            directory.mkdir(exist_ok=True)
            give_to_server_user(directory, self._run_as, recursive=True)
            directory.chmod(0o700)

    def _start_locked(self) -> bool:
        """Start or reuse the server; caller holds the start lock. True if reused."""
        assert self._runtime is not None
        tools = self._binaries()
        pgdata = self._layout.pgdata
        password, new_password = ensure_password(self._layout.password_file)
        info = live_postmaster(pgdata, self._run_as, self._timeout)
        if info is not None:
            info = wait_until_settled(info, self._layout, self._run_as, self._timeout)
        if info is not None:
            port = info.port
            if port is None or not listens_on_loopback(info):
                raise EmbeddedPostgresError(
                    f"a PostgreSQL server (pid {info.pid}) is running on {pgdata} but "
                    f"does not listen on {HOST} (listen={info.listen!r}, port={port}); "
                    f"stop it with: {tools.bin_dir / 'pg_ctl'} -D {pgdata} stop"
                )
            logger.info("reusing running PostgreSQL (pid %d) on port %d", info.pid, port)
            if new_password or not hba_is_current(pgdata):
                try:
                    secure_online(tools, port, PG_SUPERUSER, password)  # an older version's
                except EmbeddedPostgresError:
                    if new_password:  # not set: let a later (offline) start make one again
                        self._layout.password_file.unlink(missing_ok=True)
                    raise
        else:
            created = ensure_cluster(tools, password)
            if not created and (new_password or not hba_is_current(pgdata)):
                secure_offline(tools, PG_SUPERUSER, password)  # made by an older version
            cleanup_old_runtimes(self._runtime)
            port = start_server(tools)
        self._port = port
        self._password = password
        remember_port(self._layout.port_file, port)
        ensure_database(tools, port, self._database, password)
        return info is not None
