"""Where things live for an embedded server: ``data_dir`` and its ``server_dir``.

``data_dir`` belongs to the user running honcho-server; ``server_dir`` holds what the
server user needs to reach. They are the same directory except as root when the server
user (``honcho-pg``) cannot traverse the ancestors of ``data_dir`` (e.g. ``/root`` is
0700): then ``server_dir`` is a directory that user owns elsewhere, named by the
``server`` symlink (see :mod:`.placement`).

::

    data_dir/
      password               the superuser's password (0600, owned by the caller)
      port                   the TCP port, reused on the next start when free
      .users.lock            flock: shared by every live user of the server
      .start.lock            flock: serialises initdb / start / createdb
      server -> SERVER_DIR   only when the server files live elsewhere (root)
    server_dir/              (= data_dir unless relocated)
      pgdata/                the cluster (owned by the server user, mode 0700)
      run/                   unix socket directory (owned by the server user, 0700)
      log/postgres.log       server log (pg_ctl -l)
      runtime/<version>/     private copy (hard links when possible) of the
                             package's binaries, usable by the server user
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """The paths of one embedded server (absolute paths)."""

    data_dir: pathlib.Path
    server_dir: pathlib.Path
    """Where the server user's files live: ``data_dir`` unless relocated."""

    @property
    def relocated(self) -> bool:
        return self.server_dir != self.data_dir

    @property
    def pgdata(self) -> pathlib.Path:
        return self.server_dir / "pgdata"

    @property
    def initdb_staging(self) -> pathlib.Path:
        """Where initdb builds a new cluster before it is renamed to :attr:`pgdata`."""
        return self.server_dir / "pgdata.initdb"

    @property
    def run_dir(self) -> pathlib.Path:
        return self.server_dir / "run"

    @property
    def log_dir(self) -> pathlib.Path:
        return self.server_dir / "log"

    @property
    def log_file(self) -> pathlib.Path:
        return self.log_dir / "postgres.log"

    @property
    def runtime_dir(self) -> pathlib.Path:
        return self.server_dir / "runtime"

    @property
    def password_file(self) -> pathlib.Path:
        return self.data_dir / "password"

    @property
    def server_link(self) -> pathlib.Path:
        """Symlink to :attr:`server_dir` when it is not ``data_dir``."""
        return self.data_dir / "server"

    @property
    def port_file(self) -> pathlib.Path:
        return self.data_dir / "port"

    @property
    def users_lock(self) -> pathlib.Path:
        return self.data_dir / ".users.lock"

    @property
    def start_lock(self) -> pathlib.Path:
        return self.data_dir / ".start.lock"
