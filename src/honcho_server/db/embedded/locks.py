"""``flock`` helpers with a timeout, for the lock files in ``data_dir``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import time
from collections.abc import Iterator

from .errors import EmbeddedPostgresError


@contextlib.contextmanager
def flocked(path: pathlib.Path, operation: int, timeout: float, what: str) -> Iterator[int]:
    """Hold ``flock(operation)`` on ``path`` for the duration of the block."""
    fd = acquire_flock(path, operation, timeout, what)
    try:
        yield fd
    finally:
        os.close(fd)


def acquire_flock(path: pathlib.Path, operation: int, timeout: float, what: str) -> int:
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
