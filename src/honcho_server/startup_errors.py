"""What went wrong at start-up, said the way an operator can act on it.

The CLI prints ``honcho-server: <what is wrong>; <what to do>`` and exits non-zero for every
mistake of configuration or environment — a setting that does not parse (named by its
variable), a database that is unreachable or refuses us, no pgvector, a port in use, a data
directory that cannot be written — instead of a traceback with the useful line at its bottom.
``--debug`` shows the traceback as well. Anything not recognised here is a bug, and keeps its
traceback.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from pydantic import ValidationError

from .db.embedded.dump import Target
from .settings import Settings

#: Settings whose values are never echoed back.
_SECRET_WORDS = ("key", "secret", "password", "token")
MAX_VALUE_CHARS = 60


class PortInUse(RuntimeError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use (another honcho-server?); "
            "stop it, or choose another port with --port"
        )


def ensure_port_free(host: str, port: int) -> None:
    """Refuse to start when ``host:port`` cannot be bound (before anything is started, so
    no log line claims the server is serving)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(host, port) from None
            raise


def settings_errors(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named by its environment variable."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ()))
        message = error["msg"].removeprefix("Value error, ")
        if not field:
            lines.append(message)
            continue
        name = field.upper()
        value = error.get("input")
        shown = ""
        if isinstance(value, str) and not any(w in field for w in _SECRET_WORDS):
            cut = value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"
            shown = f" (got {cut!r})"
        lines.append(f"{name}: {message}{shown}")
    return lines


def explain(exc: BaseException, settings: Settings) -> str | None:
    """One or two lines for a mistake of configuration or environment, or None (a bug)."""
    for link in _chain(exc):
        message = _explain_one(link, settings)
        if message is not None:
            return message
    return None


def _explain_one(exc: BaseException, settings: Settings) -> str | None:
    from .db.embedded.errors import EmbeddedPostgresError
    from .db.migrate import MigrationError

    if isinstance(exc, PortInUse | MigrationError | EmbeddedPostgresError):
        return str(exc)
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return "; ".join(settings_errors(exc))
    where = _database(settings)
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return f"{where} refused the user name or password; check {_url_setting(settings)}"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"{where} refused the connection: {exc}; check the user in {_url_setting(settings)}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"{where}: {exc}; create it (createdb) or fix {_url_setting(settings)}"
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return f"{where} is starting up or shutting down ({exc}); try again in a moment"
    if isinstance(exc, socket.gaierror):
        return f"{where}: unknown host; check the host name in {_url_setting(settings)}"
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, FileNotFoundError) and _from_driver(exc)  # no socket in ?host=/dir
    ):
        return (
            f"{where} refused the connection (nothing listens there); start PostgreSQL or fix "
            f"{_url_setting(settings)}"
        )
    if isinstance(exc, TimeoutError) and _from_driver(exc):
        return f"{where} did not answer in time; check that it runs and is reachable"
    if isinstance(exc, PermissionError | NotADirectoryError | FileNotFoundError) and _in_data_dir(
        exc, settings
    ):
        return (
            f"HONCHO_DATA_DIR={settings.data_dir} cannot be used ({exc.strerror}: "
            f"{exc.filename}); fix its permissions or choose another directory"
        )
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.ENOSPC):
        return f"cannot write {exc.filename}: {exc.strerror}; free space or choose HONCHO_DATA_DIR"
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        link = todo.pop(0)
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        todo += [link.__cause__, link.__context__, getattr(link, "orig", None)]


def _database(settings: Settings) -> str:
    if settings.database_url is None:
        return "the embedded database"
    return f"the {Target.from_url(settings.database_url).label}"


def _url_setting(settings: Settings) -> str:
    return "DATABASE_URL" if settings.database_url is not None else "HONCHO_DATA_DIR"


def _from_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "asyncpg" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def _in_data_dir(exc: OSError, settings: Settings) -> bool:
    if settings.database_url is not None or not exc.filename:
        return False
    path, data_dir = Path(str(exc.filename)), settings.data_dir
    return path == data_dir or data_dir in path.parents or path in data_dir.parents
