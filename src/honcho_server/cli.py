"""``honcho-server serve|worker|migrate|status|reembed|retry|key|backup|restore``."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from .observability.logs import configure_logging
from .settings import Settings, load_settings
from .startup_errors import ensure_port_free, explain, settings_errors

log = logging.getLogger("honcho_server")


class Stopped(Exception):
    """SIGINT/SIGTERM arrived: unwind so the embedded database is stopped on the way out."""


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def _install_stop_handlers() -> None:
    # uvicorn captures these signals while serving and re-raises them once it has shut
    # down; with these handlers in place that ends in a clean unwind instead of a kill.
    signal.signal(signal.SIGINT, _raise_stopped)
    signal.signal(signal.SIGTERM, _raise_stopped)


@contextmanager
def database(
    settings: Settings, *, supervise: bool = False, exclusive: bool = False
) -> Iterator[str]:
    """The database URL to use: ``DATABASE_URL``, or the embedded server (stopped on exit).

    ``supervise`` (long-running commands): restart the embedded server if it dies.
    ``exclusive``: no other process may use the embedded server meanwhile (``DataDirInUse``).
    """
    if settings.database_url is not None:
        yield settings.database_url
        return
    from .db.embedded import EmbeddedPostgres, Supervisor

    server = EmbeddedPostgres(settings.data_dir / "postgres")
    url = server.start(exclusive=exclusive)
    log.info("embedded PostgreSQL running in %s", settings.data_dir / "postgres")
    supervisor = Supervisor(server) if supervise else None
    try:
        if supervisor is not None:
            supervisor.start()
        yield url
    finally:
        if supervisor is not None:
            supervisor.stop()  # first: never restart a database that is being stopped
        server.stop()
        log.info("embedded PostgreSQL stopped")


def upgrade_schema(url: str, settings: Settings) -> None:
    from .db.migrate import upgrade

    upgrade(url, embedding_dimensions=settings.embedding_dimensions)


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import uvicorn

    from .app import create_serving_app
    from .llm.registry import log_llm_configuration
    from .observability.metrics import share_between_processes

    ensure_port_free(host, port)  # before anything starts, so nothing claims to be serving
    with database(settings, supervise=True) as url:
        upgrade_schema(url, settings)
        log_llm_configuration(settings, log)
        log.info("starting the Honcho v3 API on http://%s:%d (%d worker(s))", host, port, workers)
        level = settings.log_level.lower()
        if workers == 1:
            app = create_serving_app(settings, database_url=url)
            # log_config=None: uvicorn's own lines go through our handler (format, request ids);
            # its access log stays off: honcho_server.access writes one (ACCESS_LOG)
            uvicorn.run(
                app, host=host, port=port, log_level=level, access_log=False, log_config=None
            )
        else:
            os.environ["DATABASE_URL"] = url  # the worker processes build their own app
            share_between_processes()  # one /metrics for all of them
            uvicorn.run(
                "honcho_server.app:create_app_from_env",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_level=level,
                access_log=False,
                log_config=None,
            )
    return 0


def _migrate(settings: Settings) -> int:
    with database(settings) as url:
        upgrade_schema(url, settings)
    log.info("database schema is up to date")
    return 0


def _worker(settings: Settings) -> int:
    import asyncio

    from .db.engine import create_engine, create_session_factory
    from .db.session import unit_of_work
    from .embeddings import build_embedder
    from .heap import freeze_startup_objects
    from .llm import LLMRegistry
    from .observability.metrics import serve_worker_metrics
    from .services import embedding_space
    from .worker.context import WorkerServices
    from .worker.runner import run_forever

    async def work(url: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        engine = create_engine(settings, url)
        embedder = build_embedder(settings)
        registry = LLMRegistry(settings)
        await registry.load()
        try:
            factory = create_session_factory(engine)
            async with unit_of_work(factory) as db:
                await embedding_space.verify(db, embedder.name, embedder.dimensions)
            services = WorkerServices(settings=settings, embedder=embedder, llm=registry)
            freeze_startup_objects()
            await run_forever(
                factory,
                stop,
                database_url=url,
                services=services,
                embedder_name=embedder.name,
                concurrency=settings.worker_concurrency,
            )
        finally:
            await registry.aclose()
            await embedder.aclose()
            await engine.dispose()

    serve_worker_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    with database(settings, supervise=True) as url:
        asyncio.run(work(url))
    return 0


STATUS_OK, STATUS_DEGRADED, STATUS_DOWN = 0, 1, 2


def _status(settings: Settings, as_json: bool) -> int:
    """Print the status; exit 0 when ok, 1 when degraded, 2 when the database is down."""
    import asyncio
    from datetime import timedelta

    from .db.connectivity import outage_reason
    from .db.engine import create_engine, create_session_factory
    from .db.session import unit_of_work
    from .services.status import describe_embedder, describe_llm, status

    async def read(url: str) -> tuple[str, int]:
        engine = create_engine(settings, url)
        try:
            async with unit_of_work(create_session_factory(engine)) as db:
                report = await status(
                    db,
                    embedder=describe_embedder(settings),
                    llm=describe_llm(settings),
                    stale_after=timedelta(seconds=settings.job_stale_after_seconds),
                )
        except Exception as exc:
            reason = outage_reason(exc)
            if reason is None:
                raise
            where = "the embedded database" if settings.uses_embedded_database else "DATABASE_URL"
            down = {"status": "down", "problems": [f"database unreachable ({where}): {reason}"]}
            text = json.dumps(down, indent=2) if as_json else f"honcho-server: DOWN\n  ! {reason}"
            return text, STATUS_DOWN
        finally:
            await engine.dispose()
        code = STATUS_OK if report.status == "ok" else STATUS_DEGRADED
        return (report.model_dump_json(indent=2) if as_json else render_status(report)), code

    with database(settings) as url:
        text, code = asyncio.run(read(url))
    print(text)
    return code


def _retry(settings: Settings, job_ids: list[int] | None) -> int:
    import asyncio
    from datetime import timedelta

    from .db.engine import create_engine, create_session_factory
    from .db.session import unit_of_work
    from .queue import retry_jobs

    async def retry(url: str) -> dict[str, int]:
        engine = create_engine(settings, url)
        try:
            async with unit_of_work(create_session_factory(engine)) as db:
                return await retry_jobs(
                    db, job_ids, stale_after=timedelta(seconds=settings.job_stale_after_seconds)
                )
        finally:
            await engine.dispose()

    with database(settings) as url:
        outcome = asyncio.run(retry(url))
    print(f"{outcome.get('todo', 0)} job(s) queued again", end="")
    if outcome.get("superseded"):
        print(f"; {outcome['superseded']} left to the twin already waiting for the same work")
    else:
        print()
    return 0


def _reembed(settings: Settings) -> int:
    import asyncio

    from .db.engine import create_engine, create_session_factory
    from .db.session import unit_of_work
    from .embeddings import build_embedder
    from .services.reembed import reembed

    async def run(url: str) -> tuple[int, int]:
        engine = create_engine(settings, url)
        embedder = build_embedder(settings)
        try:
            async with unit_of_work(create_session_factory(engine)) as db:
                return await reembed(db, embedder.name, embedder.dimensions)
        finally:
            await embedder.aclose()
            await engine.dispose()

    with database(settings) as url:
        upgrade_schema(url, settings)
        messages, conclusions = asyncio.run(run(url))
    log.info(
        "embeddings reset for %s (%d dimensions); %d message and %d conclusion embedding jobs "
        "queued: a running worker rebuilds them (see `honcho-server status`)",
        settings.embedding_model if settings.embedding_provider == "openai" else "local model",
        settings.embedding_dimensions,
        messages,
        conclusions,
    )
    return 0


def _backup(settings: Settings, file: str) -> int:
    """``pg_dump`` (custom format) of the database into ``file``."""
    from pathlib import Path

    from .db.embedded.dump import Target, backup, backup_path
    from .db.embedded.runtime import package_bin_dir

    with _short_errors("backup"):
        path = backup_path(Path(file))  # a bad name fails before any start
        if settings.database_url is None:
            from .db.embedded import EmbeddedPostgres, EmbeddedPostgresError

            data_dir = settings.data_dir / "postgres"
            if not EmbeddedPostgres(data_dir).has_cluster():
                raise EmbeddedPostgresError(
                    f"no embedded database in {data_dir}: nothing to back up\n"
                    "Set HONCHO_DATA_DIR to the server's data directory (or DATABASE_URL)."
                )
        with database(settings) as url:
            backup(Target.from_url(url), path, package_bin_dir(), _progress)
        return 0
    return 1


def _restore(settings: Settings, file: str) -> int:
    """Replace the database's data by the backup in ``file``.

    The embedded database must not be in use: a running ``serve`` or ``worker`` is not
    stopped behind its users' back (stop it, restore, start it again).
    """
    from pathlib import Path

    from .db.embedded.dump import Target, describe_archive, restore
    from .db.embedded.runtime import package_bin_dir

    with _short_errors("restore"):
        bin_dir = package_bin_dir()
        describe_archive(Path(file).expanduser(), bin_dir)  # a bad file fails before any start
        with database(settings, exclusive=True) as url:
            restore(Target.from_url(url), Path(file), bin_dir, _progress)
        print(
            "start the server as usual: `honcho-server serve` (it migrates an older backup)",
            file=sys.stderr,
        )
        return 0
    return 1


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from .transfer.commands import export_workspace

    with database(settings) as url:
        upgrade_schema(url, settings)
        return export_workspace(settings, url, args.workspace, args.out, args.embeddings)


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from .transfer.commands import import_workspace

    with database(settings) as url:
        upgrade_schema(url, settings)
        return import_workspace(settings, url, args.file, args.workspace, args.replace)


def _mcp(settings: Settings, args: argparse.Namespace) -> int:
    from .mcp.stdio import Unreachable, serve_stdio, serve_stdio_remote

    if args.url:  # a running server: no database here
        try:
            return serve_stdio_remote(args.url, args.api_key)
        except Unreachable as exc:
            print(f"honcho-server mcp: {exc}", file=sys.stderr)
            print("Start it (`honcho-server serve`) or correct --url.", file=sys.stderr)
            return 1
    with database(settings, supervise=True) as url:
        upgrade_schema(url, settings)
        return serve_stdio(settings, url)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _short_errors(command: str) -> Iterator[None]:
    """Print a backup/restore failure in one or two lines (no traceback); the caller returns 1."""
    from .db.embedded import DataDirInUse, EmbeddedPostgresError
    from .db.embedded.dump import DumpError

    try:
        yield
    except DataDirInUse as exc:
        print(f"honcho-server {command}: {exc}.", file=sys.stderr)
        print("Stop it (Ctrl-C or SIGTERM), then run this again.", file=sys.stderr)
    except (DumpError, EmbeddedPostgresError) as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        print(f"honcho-server {command}: {lines[0]}", file=sys.stderr)
        if len(lines) > 1:
            print(lines[1], file=sys.stderr)


_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` → a positive timedelta."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"not a duration like 30d, 12h or 15m: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _key(settings: Settings, args: argparse.Namespace) -> int:
    """Print an API key signed with AUTH_JWT_SECRET (no server or database needed)."""
    from .auth.keys import mint

    if settings.auth_jwt_secret is None or not settings.auth_jwt_secret.get_secret_value():
        print(
            "honcho-server key: set AUTH_JWT_SECRET (the server's signing secret)", file=sys.stderr
        )
        return 2
    if not args.admin and not args.workspace:
        print("honcho-server key: give --admin or --workspace", file=sys.stderr)
        return 2
    if not settings.auth_use_auth:
        log.warning("AUTH_USE_AUTH is off: the server accepts any request until it is turned on")
    expires = datetime.now(UTC) + args.expires_in if args.expires_in else None
    print(
        mint(
            settings.auth_jwt_secret.get_secret_value(),
            admin=args.admin,
            workspace=args.workspace,
            peer=args.peer,
            session=args.session,
            expires_at=expires,
        )
    )
    return 0


def render_status(report: Any) -> str:
    """The status report as a person reads it in a terminal."""
    q = report.queue
    lines = [
        f"honcho-server {report.version}: {report.status.upper()}",
        *(f"  ! {p}" for p in report.problems),
        f"database   ok ({report.database['latency_ms']} ms)",
        f"embedder   {report.embedder}",
        *(f"llm        {line}" for line in report.llm),
        *(
            ["           (this shell's settings: no worker reports its own)"]
            if report.llm_source != "workers"
            else []
        ),
        f"workers    {sum(w.alive for w in report.workers)} alive of {len(report.workers)}",
    ]
    for w in report.workers:
        lines.append(
            f"  {w.id}  last heartbeat {w.heartbeat_at:%H:%M:%S}{'' if w.alive else '  (stale)'}"
        )
        lines += [f"    {_endpoint_line(e)}" for e in w.endpoints if w.alive]
    lines.append(
        f"queue      {q.pending} pending ({q.due} due), {q.running} running "
        f"({q.orphaned} orphaned), {q.failed} failed, {q.succeeded} done, "
        f"{q.superseded} superseded"
    )
    if q.oldest_pending_age_seconds is not None:
        lines.append(f"  oldest pending job waited {q.oldest_pending_age_seconds:.0f} s")
    for job in report.failed_jobs:
        lines.append(f"failed job {job.id} ({job.kind}, {job.attempts} attempts): {job.last_error}")
        if job.raw_output:
            lines.append(f"  the model answered: {job.raw_output[:300]!r}")
    return "\n".join(lines)


def _endpoint_line(endpoint: dict[str, Any]) -> str:
    """``LLM m at url (deriver, summary): up, last answer 12:03:04`` or down since …"""
    needs = ", ".join(endpoint.get("needs") or [])
    state = endpoint.get("state")
    if state == "down":
        detail = f"DOWN since {endpoint.get('down_since')}: {endpoint.get('last_error')}"
    elif endpoint.get("last_ok"):
        detail = f"up, last answer {endpoint['last_ok']}"
    else:
        detail = str(state)
    return f"{endpoint.get('endpoint')} ({needs}): {detail}"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of a start-up error",
    )
    parser = argparse.ArgumentParser(prog="honcho-server", description=__doc__, parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser = functools.partial(commands.add_parser, parents=[common])  # type: ignore[method-assign]
    serve = commands.add_parser(
        "serve", help="run the API (embedded PostgreSQL if no DATABASE_URL)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="API processes (one per core under heavy load)"
    )
    commands.add_parser("worker", help="run only the background worker (scale-out)")
    commands.add_parser("migrate", help="apply database migrations and exit")
    status = commands.add_parser("status", help="database, workers, queue and failed jobs")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser(
        "reembed", help="rebuild every embedding for the configured embedder (model or size change)"
    )
    retry = commands.add_parser(
        "retry", help="queue failed, superseded and orphaned jobs again (all, or the given ids)"
    )
    retry.add_argument("job_ids", nargs="*", type=int)
    key = commands.add_parser(
        "key", help="print an API key signed with AUTH_JWT_SECRET (admin, workspace, peer, session)"
    )
    scope = key.add_mutually_exclusive_group(required=True)
    scope.add_argument("--admin", action="store_true", help="a key that may do everything")
    scope.add_argument("--workspace", metavar="W", help="a key for one workspace")
    narrow = key.add_mutually_exclusive_group()
    narrow.add_argument("--peer", metavar="P", help="narrow a --workspace key to one peer")
    narrow.add_argument("--session", metavar="S", help="narrow a --workspace key to one session")
    key.add_argument(
        "--expires-in", type=parse_duration, metavar="DURATION", help="e.g. 30d, 12h, 15m"
    )
    backup = commands.add_parser(
        "backup", help="write the database to FILE (pg_dump custom format; the server may run)"
    )
    backup.add_argument("file", metavar="FILE")
    restore = commands.add_parser(
        "restore",
        help="replace the database's data by the backup in FILE (stop the server first)",
    )
    restore.add_argument("file", metavar="FILE")
    mcp = commands.add_parser(
        "mcp", help="serve the MCP tools over stdio (key: HONCHO_API_KEY when auth is on)"
    )
    mcp.add_argument(
        "--url", metavar="URL", help="forward to a running server (e.g. http://host:8000)"
    )
    mcp.add_argument("--api-key", metavar="KEY", help="the key to send (default: HONCHO_API_KEY)")
    export = commands.add_parser(
        "export", help="write one workspace to a JSON Lines file (README: Export and import)"
    )
    export.add_argument("--workspace", required=True, metavar="W")
    export.add_argument("--out", metavar="FILE", help="the file to write (default: stdout)")
    export.add_argument(
        "--embeddings", action="store_true", help="include the stored vectors (larger file)"
    )
    load = commands.add_parser(
        "import", help="create a workspace from an export file (all or nothing)"
    )
    load.add_argument("file", metavar="FILE", help="an export file, or - for stdin")
    load.add_argument("--workspace", metavar="NEW_ID", help="import under another name")
    load.add_argument(
        "--replace", action="store_true", help="overwrite a workspace of the same name"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "key" and (args.peer or args.session) and not args.workspace:
        parser.error("--peer and --session need --workspace")
    try:
        settings = load_settings()
    except ValidationError as exc:  # e.g. AUTH_USE_AUTH=ture, or auth without a strong secret
        for line in settings_errors(exc):
            print(f"honcho-server: configuration error: {line}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # import-time noise
    _install_stop_handlers()
    try:
        if args.command == "serve":
            return _serve(settings, args.host, args.port, args.workers)
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "status":
            return _status(settings, args.json)
        if args.command == "reembed":
            return _reembed(settings)
        if args.command == "retry":
            return _retry(settings, args.job_ids or None)
        if args.command == "key":
            return _key(settings, args)
        if args.command == "backup":
            return _backup(settings, args.file)
        if args.command == "restore":
            return _restore(settings, args.file)
        if args.command == "mcp":
            return _mcp(settings, args)
        if args.command == "export":
            return _export(settings, args)
        if args.command == "import":
            return _import(settings, args)
        return _worker(settings)
    except Stopped as stop:
        log.info("stopped by %s", stop)
        return 0
    except Exception as exc:  # a mistake of configuration or environment: say it in a line
        message = explain(exc, settings)
        if message is None or getattr(args, "debug", False):
            raise
        print(f"honcho-server: {message}", file=sys.stderr)
        print("  (run with --debug for the traceback)", file=sys.stderr)
        return 1
