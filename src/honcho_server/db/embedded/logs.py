"""The package logger, the server log file, and tails of output for error messages."""

from __future__ import annotations

import contextlib
import logging
import pathlib
from typing import Final

logger = logging.getLogger(__package__)
"""Shared by every module of the package: ``honcho_server.db.embedded``."""

_LOG_ROTATE_BYTES: Final = 10 * 1024 * 1024
_LOG_TAIL_LINES: Final = 40


def tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def read_from(path: pathlib.Path, offset: int = 0) -> str:
    """The text of ``path`` from byte ``offset`` on; '' when it cannot be read."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def rotate_log(log_file: pathlib.Path) -> None:
    """Move a large ``log_file`` aside to ``*.log.1`` (replacing the previous one)."""
    with contextlib.suppress(FileNotFoundError):
        if log_file.stat().st_size > _LOG_ROTATE_BYTES:
            log_file.replace(log_file.with_suffix(".log.1"))
