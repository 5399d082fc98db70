"""The unprivileged system user that runs the server when we are root, and its access.

PostgreSQL refuses to run as root, so a root caller runs the server as a system
user (``honcho-pg`` by default, created on demand) and hands it the files it needs.
Nothing outside the data directory changes mode: where the user cannot reach the data
directory, its files live in a directory it owns instead (see :mod:`.placement`).
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from .errors import EmbeddedPostgresError
from .logs import logger, tail

DEFAULT_SYSTEM_USER: Final = "honcho-pg"
"""Unprivileged OS user that runs the server when the caller is root."""


@dataclass(frozen=True)
class RunAs:
    """OS identity the server processes run under."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def ensure_system_user(name: str) -> RunAs:
    """The identity of system user ``name``, creating the user if it does not exist."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        entry = _create_system_user(name)
    if entry.pw_uid == 0:
        raise EmbeddedPostgresError(f"system user {name!r} has uid 0; PostgreSQL needs non-root")
    groups = tuple(sorted(set(os.getgrouplist(name, entry.pw_gid))))
    return RunAs(name, entry.pw_uid, entry.pw_gid, groups)


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
            f"{proc.returncode}): {tail(proc.stdout + proc.stderr)}"
        ) from None


def untraversable(path: pathlib.Path, run_as: RunAs) -> pathlib.Path | None:
    """The top-most directory of ``path`` and its ancestors that ``run_as`` may not traverse.

    Only the mode bits are read (nothing is changed); None when every directory lets it through.
    """
    for directory in reversed((path, *path.parents)):
        st = directory.stat()
        if st.st_uid == run_as.uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in run_as.groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return directory
    return None


def give_to_server_user(path: pathlib.Path, run_as: RunAs | None, *, recursive: bool) -> None:
    """chown ``path`` (and its tree) to the server user; nothing when not root."""
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
