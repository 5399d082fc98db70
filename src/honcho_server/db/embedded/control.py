"""Starting and stopping the postmaster with the bundled ``pg_ctl``."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shlex
import time
from typing import Final

from .commands import Binaries
from .errors import EmbeddedPostgresError
from .logs import logger, read_from, rotate_log, tail
from .ports import HOST, choose_port, tcp_accepts
from .processes import live_postmaster, read_pidfile

SERVER_SETTINGS: Final[tuple[tuple[str, str], ...]] = (
    ("max_connections", "200"),
    ("shared_buffers", "128MB"),
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
    ("password_encryption", "scram-sha-256"),
    ("unix_socket_permissions", "0700"),
    # Statistics within seconds of a bulk load (a new tenant, an import), not up to a minute:
    # until a table is analysed the planner guesses a new workspace holds about one row, and
    # search and context plans for it can cost seconds.
    ("autovacuum_naptime", "10s"),
    ("autovacuum_analyze_scale_factor", "0.05"),
)
"""Extra ``-c name=value`` options passed to the postmaster (it listens on ``HOST`` only)."""

_SOCKET_PATH_MAX: Final = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def socket_dir(run_dir: pathlib.Path, port: int) -> str:
    """The unix socket directory, or '' (TCP only) when the path would be too long."""
    path = str(run_dir)
    if len(os.fsencode(f"{path}/.s.PGSQL.{port}.lock")) > _SOCKET_PATH_MAX:
        logger.info("socket path under %s too long; unix socket disabled", path)
        return ""
    return path


def start_server(tools: Binaries, port: int | None = None) -> int:
    """pg_ctl start (retrying on port/shared-memory races); return the port.

    With ``port`` (a restart: the clients' URLs name it) only that port is used and a
    taken port is an error; otherwise the remembered port if free, else a free one.
    """
    layout = tools.layout
    rotate_log(layout.log_file)
    for leftover in layout.run_dir.iterdir():  # stale socket lock files of a dead server
        with contextlib.suppress(OSError):
            leftover.unlink()
    taken: set[int] = set()
    last_error = ""
    fixed = port is not None
    if port is None:
        port = choose_port(layout.port_file, taken)
    for attempt in range(1, 6):
        options = [
            "-h", HOST,
            "-p", str(port),
            "-k", socket_dir(layout.run_dir, port),
            *[arg for name, value in SERVER_SETTINGS for arg in ("-c", f"{name}={value}")],
        ]  # fmt: skip
        offset = layout.log_file.stat().st_size if layout.log_file.exists() else 0
        began = time.monotonic()
        code, output = tools.run(
            "pg_ctl",
            [
                "start",
                "-D", str(layout.pgdata),
                "-l", str(layout.log_file),
                "-w", "-t", str(int(tools.timeout)),
                "-s",
                "-o", shlex.join(options),
            ],
            as_server=True,
        )  # fmt: skip
        info = read_pidfile(layout.pgdata)
        if code == 0 and info is not None and info.status == "ready":
            logger.debug("pg_ctl start took %.2fs", time.monotonic() - began)
            if not tcp_accepts(port):
                raise EmbeddedPostgresError(
                    f"PostgreSQL started but does not accept connections on {HOST}:{port}"
                )
            return port
        log = read_from(layout.log_file, offset)
        last_error = (
            f"pg_ctl start failed (exit {code}, attempt {attempt}, port {port}):\n"
            f"{tail(output, 10)}\n--- server log tail ({layout.log_file}) ---\n{tail(log)}"
        )
        if re.search(r"could not bind|Address already in use|could not create any TCP", log):
            if fixed:
                last_error = f"port {HOST}:{port} is taken by another process\n{last_error}"
                break
            logger.warning("port %d was taken; retrying on another port", port)
            taken.add(port)
            port = choose_port(layout.port_file, taken)
            continue
        if re.search(r"pre-existing shared memory block|lock file .* already exists", log):
            # Children of a kill -9'ed postmaster may still be exiting. (A restart's
            # supervisor reports the outcome itself: one line per state change.)
            (logger.debug if fixed else logger.warning)(
                "previous server still shutting down; retrying in 1s"
            )
            time.sleep(1.0)
            continue
        break
    raise EmbeddedPostgresError(last_error)


def stop_server(tools: Binaries) -> None:
    """pg_ctl stop -m fast (then immediate); quiet if already stopped."""
    layout = tools.layout
    if live_postmaster(layout.pgdata, tools.run_as, tools.timeout) is None:
        return
    began = time.monotonic()
    for mode in ("fast", "immediate"):
        code, output = tools.run(
            "pg_ctl",
            [
                "stop",
                "-D", str(layout.pgdata),
                "-m", mode,
                "-w", "-t", str(int(tools.timeout)),
                "-s",
            ],
            as_server=True,
        )  # fmt: skip
        if code == 0 or live_postmaster(layout.pgdata, tools.run_as, tools.timeout) is None:
            logger.info("embedded PostgreSQL stopped (%s) in %.2fs", mode, time.monotonic() - began)
            return
        logger.warning("pg_ctl stop -m %s failed (exit %d): %s", mode, code, tail(output, 5))
    raise EmbeddedPostgresError(
        f"could not stop PostgreSQL on {layout.pgdata}\n--- server log tail ---\n"
        f"{tail(read_from(layout.log_file))}"
    )
