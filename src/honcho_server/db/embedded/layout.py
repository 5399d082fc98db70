"""Where things live under an embedded server's ``data_dir``.

::

    pgdata/                  the cluster (owned by the server user, mode 0700)
    run/                     unix socket directory (owned by the server user)
    log/postgres.log         server log (pg_ctl -l)
    runtime/<version>/       private copy (hard links when possible) of the
                             package's binaries, usable by the server user
    port                     the TCP port, reused on the next start when free
    .users.lock              flock: shared by every live user of the server
    .start.lock              flock: serialises initdb / start / createdb
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """The paths of one embedded server, all under ``data_dir`` (an absolute path)."""

    data_dir: pathlib.Path

    @property
    def pgdata(self) -> pathlib.Path:
        return self.data_dir / "pgdata"

    @property
    def initdb_staging(self) -> pathlib.Path:
        """Where initdb builds a new cluster before it is renamed to :attr:`pgdata`."""
        return self.data_dir / "pgdata.initdb"

    @property
    def run_dir(self) -> pathlib.Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> pathlib.Path:
        return self.data_dir / "log"

    @property
    def log_file(self) -> pathlib.Path:
        return self.log_dir / "postgres.log"

    @property
    def runtime_dir(self) -> pathlib.Path:
        return self.data_dir / "runtime"

    @property
    def port_file(self) -> pathlib.Path:
        return self.data_dir / "port"

    @property
    def users_lock(self) -> pathlib.Path:
        return self.data_dir / ".users.lock"

    @property
    def start_lock(self) -> pathlib.Path:
        return self.data_dir / ".start.lock"
