"""TCP ports on the loopback address: free ones, listening ones, the remembered one."""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
from typing import Final

HOST: Final = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """Return a TCP port on ``host`` that is currently free (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when ``port`` can be bound now (SO_REUSEADDR, like the postmaster)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tcp_accepts(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def choose_port(port_file: pathlib.Path, avoid: set[int]) -> int:
    """The port remembered in ``port_file`` if free and not in ``avoid``, else a free one."""
    try:
        remembered = int(port_file.read_text().strip())
    except (OSError, ValueError):
        remembered = 0
    if 0 < remembered < 65536 and remembered not in avoid and port_is_free(remembered):
        return remembered
    while True:
        port = free_port()
        if port not in avoid:
            return port


def remember_port(port_file: pathlib.Path, port: int) -> None:
    """Write ``port`` to ``port_file`` (atomically; untouched if already there)."""
    with contextlib.suppress(OSError):
        if port_file.read_text().strip() == str(port):
            return
    tmp = port_file.with_name(f".port.{os.getpid()}")
    tmp.write_text(f"{port}\n")
    tmp.replace(port_file)
