"""The error raised by the embedded PostgreSQL server."""

from __future__ import annotations


class EmbeddedPostgresError(RuntimeError):
    """Raised when the embedded server cannot be initialised, started or stopped."""


class DataDirInUse(EmbeddedPostgresError):
    """Raised by an exclusive start while another process uses the same data directory."""
