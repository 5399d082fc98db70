"""Where the server user's files go when we are root, without loosening anyone's permissions.

A process reaches a path only if it may traverse every directory above it, so the server
user (``honcho-pg``) can use files under ``data_dir`` only when ``data_dir``'s ancestors
already let it through. Nothing above ``data_dir`` is ever changed. Instead:

- the ancestors let it through (``/var/lib/honcho-server``, ``/srv/...``, ``/tmp/...``): the
  files stay in ``data_dir``; if ``data_dir`` itself is closed (e.g. a 0700 ``mkdtemp``),
  it gets ``o+x`` (traverse only: no listing; everything in it is 0600 or owned by the
  server user with mode 0700) — the one permission change, on the data directory itself;
- they do not (the default ``/root/.local/share/honcho-server``, ``/root`` being 0700): the
  files live in a new directory the server user owns, ``/var/lib/honcho-pg/cluster-XXXX``
  (mode 0700), named by the symlink ``data_dir/server``. Later starts follow the link.

A cluster already in ``data_dir`` is never moved: if its ancestors no longer let the user
through, starting fails and says which directory blocks it.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import stat
import tempfile
from typing import Final

from .accounts import RunAs, untraversable
from .errors import EmbeddedPostgresError
from .layout import Layout
from .logs import logger

SERVER_HOME: Final = pathlib.Path("/var/lib/honcho-pg")
"""Where relocated server directories are created (owned by the server user, mode 0700)."""


def place(data_dir: pathlib.Path, run_as: RunAs | None, home: pathlib.Path = SERVER_HOME) -> Layout:
    """The layout of the server in ``data_dir`` (an existing absolute directory).

    The caller holds the start lock. Creates the relocated directory when needed.
    """
    link = data_dir / "server"
    if link.is_symlink():
        return Layout(data_dir, _linked(link, run_as))
    if run_as is None:
        return Layout(data_dir, data_dir)
    blocker = untraversable(data_dir.parent, run_as)
    if blocker is None:
        _open_for(data_dir, run_as)
        return Layout(data_dir, data_dir)
    if (data_dir / "pgdata").exists():
        raise EmbeddedPostgresError(
            f"the {run_as.name!r} user that runs PostgreSQL cannot reach the cluster in "
            f"{data_dir}: {blocker} (mode {_mode(blocker)}) does not let it through.\n"
            f"Let it traverse {blocker} (chmod o+x) or move {data_dir} somewhere it can reach."
        )
    return Layout(data_dir, _relocate(data_dir, run_as, blocker, home))


def _linked(link: pathlib.Path, run_as: RunAs | None) -> pathlib.Path:
    """The directory ``link`` names, checked: absolute, a real directory, the server user's."""
    target = pathlib.Path(os.readlink(link))
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        raise EmbeddedPostgresError(
            f"{link} points to {target}, which does not exist (the embedded database's "
            f"files were there); restore it, or remove the link to start an empty database"
        ) from None
    owner = os.geteuid() if run_as is None else run_as.uid
    if not target.is_absolute() or not stat.S_ISDIR(st.st_mode) or st.st_uid != owner:
        raise EmbeddedPostgresError(
            f"{link} must point to a directory (not a link) owned by uid {owner}; "
            f"it points to {target}"
        )
    return target


def _open_for(data_dir: pathlib.Path, run_as: RunAs) -> None:
    """Let ``run_as`` traverse ``data_dir`` itself (o+x), if it cannot yet."""
    if untraversable(data_dir, run_as) is None:
        return
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    logger.info(
        "adding o+x (traverse only) to the data directory %s so the %r user can reach "
        "the database files in it",
        data_dir,
        run_as.name,
    )
    data_dir.chmod(mode | stat.S_IXOTH)


def _relocate(
    data_dir: pathlib.Path, run_as: RunAs, blocker: pathlib.Path, home: pathlib.Path
) -> pathlib.Path:
    """A new directory owned by ``run_as`` under ``home``, linked from ``data_dir/server``."""
    if untraversable(home.parent, run_as) is not None:
        raise EmbeddedPostgresError(
            f"the {run_as.name!r} user that runs PostgreSQL can reach neither {data_dir} "
            f"({blocker} is mode {_mode(blocker)}) nor {home.parent}; set HONCHO_DATA_DIR "
            f"to a directory it can reach"
        )
    with contextlib.suppress(FileExistsError):
        home.mkdir(mode=0o700)
        os.chown(home, run_as.uid, run_as.gid)
    st = os.lstat(home)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (0, run_as.uid):
        raise EmbeddedPostgresError(f"{home} must be a directory owned by root or {run_as.name}")
    target = pathlib.Path(tempfile.mkdtemp(prefix="cluster-", dir=home))
    os.chown(target, run_as.uid, run_as.gid)
    (target / "DATA_DIR").write_text(f"{data_dir}\n")  # for whoever finds this directory
    staging = data_dir / f".server.{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(target, target_is_directory=True)
    staging.replace(data_dir / "server")
    logger.warning(
        "the %r user that runs PostgreSQL cannot traverse %s (mode %s), and no permission "
        "above the data directory is changed: the database files live in %s (linked from %s)",
        run_as.name,
        blocker,
        _mode(blocker),
        target,
        data_dir / "server",
    )
    return target


def _mode(path: pathlib.Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"
