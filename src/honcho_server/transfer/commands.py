"""``honcho-server export`` and ``honcho-server import``: the format on files, against the
database (``DATABASE_URL`` or the embedded one), with progress on stderr."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from ..db.engine import create_engine, create_session_factory
from ..db.session import unit_of_work
from ..embeddings import build_embedder
from ..errors import HonchoError
from ..services import embedding_space
from ..settings import Settings
from .export import export_lines
from .format import Embedder
from .importer import Outcome, Target, import_lines
from .lines import file_chunks, split_lines
from .progress import StderrProgress


def export_workspace(
    settings: Settings, url: str, workspace: str, out: str | None, embeddings: bool
) -> int:
    """Write the file (``out``: through ``FILE.partial``, renamed when complete; else
    stdout). Returns the exit code."""
    progress = StderrProgress("exported")
    try:
        asyncio.run(_export(settings, url, workspace, out, embeddings, progress))
    except HonchoError as exc:
        return _fail("export", exc.detail)
    except OSError as exc:
        return _fail("export", f"cannot write {out}: {exc.strerror or exc}")
    progress.done(f"exported workspace {workspace}" + (f" to {out}" if out else ""))
    return 0


async def _export(
    settings: Settings,
    url: str,
    workspace: str,
    out: str | None,
    embeddings: bool,
    progress: StderrProgress,
) -> None:
    engine = create_engine(settings, url)
    partial = Path(f"{out}.partial") if out else None
    lines = export_lines(
        create_session_factory(engine), workspace, embeddings=embeddings, progress=progress
    )
    try:
        if partial is None:
            async for line in lines:
                sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            return
        first = await anext(lines)  # a missing workspace fails before any file is made
        # 0600: the file holds the workspace's memory
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(first)
            async for line in lines:
                f.write(line)
        os.replace(partial, Path(out or ""))
    finally:
        await lines.aclose()  # ends the snapshot's transaction, also after a failure
        if partial is not None:
            partial.unlink(missing_ok=True)
        await engine.dispose()


def import_workspace(
    settings: Settings, url: str, file: str, workspace: str | None, replace: bool
) -> int:
    path = Path(file).expanduser()
    if file != "-" and not path.is_file():
        return _fail("import", f"no such file: {file}")
    progress = StderrProgress("imported")
    try:
        outcome = asyncio.run(
            _import(settings, url, path if file != "-" else None, workspace, replace, progress)
        )
    except HonchoError as exc:
        return _fail("import", exc.detail)
    except OSError as exc:
        return _fail("import", f"cannot read {file}: {exc.strerror or exc}")
    except embedding_space.EmbeddingSpaceMismatch as exc:  # this server's settings, not the file
        return _fail("import", str(exc))
    if outcome.vectors_kept:
        vectors = "embeddings kept"
    else:
        vectors = f"{outcome.embedding_jobs} embedding job(s) queued for a worker"
    progress.done(f"imported workspace {outcome.workspace} ({vectors})")
    return 0


async def _stdin_chunks() -> AsyncIterator[bytes]:
    while chunk := sys.stdin.buffer.read(1024 * 1024):
        yield chunk


async def _import(
    settings: Settings,
    url: str,
    path: Path | None,
    workspace: str | None,
    replace: bool,
    progress: StderrProgress,
) -> Outcome:
    engine = create_engine(settings, url)
    embedder = build_embedder(settings)  # its name and size only: the model is not loaded
    target = Target(
        embedder=Embedder(name=embedder.name, dimensions=embedder.dimensions),
        embed_messages=settings.embed_messages,
        workspace=workspace,
        replace=replace,
    )
    chunks = file_chunks(path) if path is not None else _stdin_chunks()
    try:
        async with unit_of_work(create_session_factory(engine)) as db:
            await embedding_space.verify(db, embedder.name, embedder.dimensions)
            return await import_lines(db, split_lines(chunks), target, progress)
    finally:
        await embedder.aclose()
        await engine.dispose()


def _fail(command: str, message: str) -> int:
    lines = message.strip().splitlines() or ["failed"]
    print(f"honcho-server {command}: {lines[0]}", file=sys.stderr)
    if len(lines) > 1:
        print(lines[1], file=sys.stderr)
    return 1
