"""Finding the running postmaster: ``postmaster.pid``, /proc, stale pid files, orphans."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import time
from dataclasses import dataclass

from .accounts import RunAs
from .errors import EmbeddedPostgresError
from .layout import Layout
from .logs import logger, read_from, tail
from .ports import HOST, tcp_accepts


@dataclass(frozen=True)
class PidFile:
    """Parsed ``postmaster.pid`` (see PostgreSQL's ``pidfile.h``)."""

    pid: int
    port: int | None
    socket_dir: str
    listen: str
    status: str  # "starting", "stopping", "ready", "standby" or "" (not yet written)


def listens_on_loopback(info: PidFile) -> bool:
    """Whether the server listens on ``HOST`` and nowhere else (as :func:`.control.start_server`
    starts it); a server also listening on other addresses is not reused."""
    return info.listen == HOST


def proc_state(pid: int) -> str | None:
    """Linux process state letter from /proc (e.g. "S", "Z"); None if unknown/gone."""
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rpartition(")")[2].split()
    return fields[0] if fields else None


def read_pidfile(pgdata: pathlib.Path) -> PidFile | None:
    """The cluster's ``postmaster.pid``; None if there is none (pid 0 if unparseable)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise EmbeddedPostgresError(f"cannot read {pgdata}/postmaster.pid: {exc}") from exc
    fields = [*[line.strip() for line in lines], *[""] * 8][:8]
    try:
        pid = int(fields[0])
    except ValueError:
        return PidFile(pid=0, port=None, socket_dir="", listen="", status="")
    port = int(fields[3]) if fields[3].isdigit() else None
    return PidFile(pid, port, fields[4], fields[5], fields[7])


def is_our_postmaster(pid: int, pgdata: pathlib.Path, run_as: RunAs | None) -> bool:
    """Is ``pid`` alive (not a zombie) and a postmaster serving the cluster ``pgdata``?"""
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
    if proc_state(pid) == "Z":
        return False  # killed but not yet reaped (e.g. pid 1 that does not reap)
    server_uid = run_as.uid if run_as is not None else os.geteuid()
    try:
        if os.stat(f"/proc/{pid}").st_uid != server_uid:
            return False
        cwd = os.readlink(f"/proc/{pid}/cwd")  # the postmaster chdirs to PGDATA
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot inspect; let postgres' own interlock decide
    return os.path.realpath(cwd) == os.path.realpath(pgdata)


def live_postmaster(pgdata: pathlib.Path, run_as: RunAs | None, timeout: float) -> PidFile | None:
    """The running postmaster of the cluster, or None (removing an alien pid file)."""
    info = read_pidfile(pgdata)
    if info is None or info.pid == 0:
        return None
    if is_our_postmaster(info.pid, pgdata, run_as):
        return info
    state = proc_state(info.pid)
    if state is None:
        logger.info("stale postmaster.pid: pid %d is gone", info.pid)
        return None  # postgres itself discards a pid file naming a dead process
    # The pid is a zombie (killed, not yet reaped by a lazy pid 1) or was recycled
    # by an unrelated process (reboot / container restart): postgres would refuse
    # to start ("lock file already exists"). Once no orphaned backend of the old
    # server is left (the pid file's shared-memory interlock guards against
    # those), remove the pid file ourselves.
    _wait_for_orphans(pgdata, timeout)
    logger.warning(
        "removing stale %s/postmaster.pid (pid %d is %s)",
        pgdata,
        info.pid,
        "a zombie" if state == "Z" else "now another process",
    )
    with contextlib.suppress(FileNotFoundError):
        (pgdata / "postmaster.pid").unlink()
    return None


def _orphans(pgdata: pathlib.Path) -> list[int]:
    """Live postgres processes whose cwd is the cluster (Linux /proc only)."""
    target = os.path.realpath(pgdata)
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
        if proc_state(int(entry.name)) not in (None, "Z"):
            found.append(int(entry.name))
    return found


def running_postmaster(pgdata: pathlib.Path, run_as: RunAs | None) -> PidFile | None:
    """The live postmaster named by the cluster's ``postmaster.pid``, or None; no side effects."""
    info = read_pidfile(pgdata)
    if info is None or not is_our_postmaster(info.pid, pgdata, run_as):
        return None
    return info


def clear_dead_postmaster(pgdata: pathlib.Path, timeout: float) -> list[int]:
    """Make a cluster whose postmaster died (e.g. SIGKILL) startable again; the pids killed.

    The processes the dead postmaster left behind (a backend busy in a long query does not
    notice its death) are killed with SIGKILL and waited for: PostgreSQL refuses to start
    while they still hold the old shared memory, and no postmaster protects them anyway
    (crash recovery replays the WAL, so nothing committed is lost). A ``postmaster.pid``
    naming a zombie or a recycled pid is removed (postgres would refuse it); one naming a
    vanished pid is left for postgres, which discards it and the old shared-memory segment
    itself. The caller holds the start lock and has checked that no postmaster is alive.
    """
    killed = kill_orphans(pgdata, timeout)
    if killed:
        logger.debug("killed %d orphaned PostgreSQL process(es): %s", len(killed), killed)
    info = read_pidfile(pgdata)
    if info is not None and (info.pid <= 0 or proc_state(info.pid) is not None):
        logger.debug("removing stale %s/postmaster.pid (pid %d)", pgdata, info.pid)
        with contextlib.suppress(FileNotFoundError):
            (pgdata / "postmaster.pid").unlink()
    return killed


def kill_orphans(pgdata: pathlib.Path, timeout: float) -> list[int]:
    """SIGKILL the postgres processes still using ``pgdata``; wait until they are gone.

    Only for a cluster whose postmaster is dead (the caller checked, under the start lock).
    """
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while orphans := _orphans(pgdata):
        for pid in orphans:
            if pid not in killed:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        if time.monotonic() >= deadline:
            raise EmbeddedPostgresError(
                f"processes of a dead PostgreSQL server still use {pgdata} after SIGKILL: "
                f"pids {orphans}"
            )
        time.sleep(0.05)
    return killed


def _wait_for_orphans(pgdata: pathlib.Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while orphans := _orphans(pgdata):
        if time.monotonic() >= deadline:
            raise EmbeddedPostgresError(
                f"processes of a dead PostgreSQL server still use {pgdata}: "
                f"pids {orphans}; kill them and retry"
            )
        time.sleep(0.1)


def wait_until_settled(
    info: PidFile, layout: Layout, run_as: RunAs | None, timeout: float
) -> PidFile | None:
    """Wait for a running server to be ready (return it) or gone (return None)."""
    deadline = time.monotonic() + timeout
    current: PidFile | None = info
    while current is not None:
        if current.status == "ready":
            if current.port is None or not listens_on_loopback(current):
                return current  # the caller reports the mismatch
            if tcp_accepts(current.port):
                return current
        if time.monotonic() >= deadline:
            raise EmbeddedPostgresError(
                f"PostgreSQL (pid {current.pid}) on {layout.pgdata} is running but not "
                f"accepting connections (status {current.status!r}) after "
                f"{timeout:.0f}s\n--- server log tail ({layout.log_file}) ---\n"
                f"{tail(read_from(layout.log_file))}"
            )
        time.sleep(0.1)
        current = live_postmaster(layout.pgdata, run_as, timeout)
    return None
