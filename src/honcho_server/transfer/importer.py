"""Import a workspace from the lines of an export file, in the caller's transaction.

Records are checked line by line (shape, section order, names they refer to), buffered into
batches of :data:`BATCH` and written one statement per batch; the trailer's digest and counts
are checked before the caller commits, so a truncated or edited file leaves nothing behind.
Memory holds one batch plus the names of the peers and sessions (never the messages).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.errors import sqlstate
from ..errors import Conflict, Invalid
from ..ids import is_valid_name
from .format import (
    COUNTED,
    FORMAT,
    HEADER,
    LINE,
    SECTIONS,
    VERSION,
    Body,
    Counts,
    Embedder,
    Header,
    Trailer,
    WorkspaceRecord,
)
from .writer import Writer

Progress = Callable[[str, int, int], None]
"""Called with a section's name, how many of its records have been read so far, and how many
the header announced."""

BATCH = 1000
UNIQUE_VIOLATION = "23505"
#: SQLSTATE classes of rows refused for what they hold: data exceptions, integrity violations
REFUSED_CLASSES = ("22", "23")


@dataclass(frozen=True)
class Target:
    """This server's side of an import."""

    embedder: Embedder  # vectors made by another one are dropped and made again
    embed_messages: bool  # whether messages are embedded here at all
    workspace: str | None = None  # import under this name instead of the file's
    replace: bool = False  # overwrite a workspace of that name


@dataclass
class Outcome:
    workspace: str
    counts: Counts
    vectors_kept: bool
    embedding_jobs: int


@dataclass
class _State:
    line: int = 0
    section: int = -1
    seen: dict[str, int] = field(default_factory=dict)
    pending: list[Body] = field(default_factory=list)
    header: Header | None = None
    writer: Writer | None = None
    trailer: Trailer | None = None


async def import_lines(
    db: AsyncSession,
    lines: AsyncIterator[bytes],
    target: Target,
    progress: Progress | None = None,
) -> Outcome:
    """Write the file's workspace; raise :class:`Invalid` (or :class:`Conflict`) on any
    problem, which the caller's rollback turns into "nothing imported"."""
    state = _State()
    try:
        await _read(db, lines, target, progress, state)
    except DBAPIError as exc:  # rows the database refuses: a file that does not fit together
        if not sqlstate(exc).startswith(REFUSED_CLASSES):
            raise
        raise _refusal(exc, state.line) from None
    if state.header is None:
        raise Invalid("the file is empty: not a honcho-server export")
    if state.trailer is None:
        raise Invalid(
            f"the file ends at line {state.line} without its trailer: it is truncated "
            "(export it again)"
        )
    assert state.writer is not None
    await state.writer.finish()
    if progress is not None:
        for name, count in state.seen.items():
            progress(name, count, count)
    return Outcome(
        workspace=state.writer.workspace,
        counts=state.trailer.counts,
        vectors_kept=state.writer.keep_vectors,
        embedding_jobs=state.writer.embedding_jobs,
    )


async def _read(
    db: AsyncSession,
    lines: AsyncIterator[bytes],
    target: Target,
    progress: Progress | None,
    state: _State,
) -> None:
    digest = hashlib.sha256()
    async for line in lines:
        state.line += 1
        if state.trailer is not None:
            raise Invalid(f"line {state.line}: data after the trailer (the file's last line)")
        if state.header is None:
            state.header = _header(line)
            digest.update(line)
            continue
        record = _parse(line, state.line)
        if isinstance(record, Trailer):
            state.trailer = record
            await _flush(state)
            _verify(state, record, digest.hexdigest())
            continue
        digest.update(line)
        await _take(db, state, record, target)
        if (
            progress is not None
            and record.type == "message"
            and state.seen["messages"] % BATCH == 0
        ):
            assert state.header is not None
            progress("messages", state.seen["messages"], state.header.counts.messages)


def _header(line: bytes) -> Header:
    try:
        raw = json.loads(line)
    except ValueError:
        raw = None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise Invalid(f"line 1: not a {FORMAT} export (its first line is not the header)")
    if raw.get("version") != VERSION:
        raise Invalid(
            f"line 1: format version {raw.get('version')!r} is not one this server reads "
            f"({VERSION}); export it again with this server's version"
        )
    try:
        return HEADER.validate_python(raw)
    except ValidationError as exc:
        raise Invalid(f"line 1: invalid header: {_first_error(exc)}") from None


def _parse(line: bytes, number: int) -> Body | Trailer:
    if b"\\u0000" in line:
        raise Invalid(f"line {number}: holds a NUL character (\\u0000), which cannot be stored")
    try:
        return LINE.validate_json(line)
    except ValidationError as exc:
        if not line.endswith(b"\n"):
            raise Invalid(
                f"line {number} is cut short: the file is truncated (export it again)"
            ) from None
        raise Invalid(f"line {number}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error['msg']}" if where else str(error["msg"])


async def _take(db: AsyncSession, state: _State, record: Body, target: Target) -> None:
    """Check ``record``'s place in the file and queue it for its batch."""
    rank = SECTIONS[record.type]
    if rank < state.section or (rank == 0 and state.section == 0):
        raise Invalid(f"line {state.line}: a {record.type} record out of order")
    if rank != state.section:
        await _flush(state)
        state.section = rank
    if isinstance(record, WorkspaceRecord):
        assert state.header is not None
        state.writer = await _open(db, state.header, record, target, state.line)
        return
    if state.writer is None:
        raise Invalid(f"line {state.line}: records before the workspace record")
    state.writer.check(record, state.line)
    counted = COUNTED[record.type]
    state.seen[counted] = state.seen.get(counted, 0) + 1
    state.pending.append(record)
    if len(state.pending) >= BATCH:
        await _flush(state)


async def _open(
    db: AsyncSession, header: Header, record: WorkspaceRecord, target: Target, line: int
) -> Writer:
    if record.id != header.workspace:
        raise Invalid(
            f"line {line}: workspace {record.id!r} but the header says {header.workspace!r}"
        )
    name = target.workspace or record.id
    if not is_valid_name(name):
        raise Invalid(f"Invalid workspace id {name[:80]!r}")
    keep = header.embeddings and header.embedder == target.embedder
    writer = Writer(db, name, renamed=name != record.id, keep_vectors=keep, target=target)
    await writer.open(record)
    return writer


async def _flush(state: _State) -> None:
    if not state.pending:
        return
    assert state.writer is not None
    batch, state.pending = state.pending, []
    await state.writer.write(batch)


def _refusal(exc: DBAPIError, line: int) -> Exception:
    detail = str(getattr(exc.orig, "__cause__", None) or exc.orig).strip().splitlines()[0]
    where = f"the records up to line {line}"
    if sqlstate(exc) == UNIQUE_VIOLATION:
        return Conflict(
            f"{where}: {detail} (ids are unique across the server: import under another "
            "name to give the copy new ids)"
        )
    return Invalid(f"{where} do not fit together: {detail}")


def _verify(state: _State, trailer: Trailer, digest: str) -> None:
    assert state.header is not None
    if state.writer is None:
        raise Invalid(f"line {state.line}: the file holds no workspace record")
    if trailer.sha256 != digest:
        raise Invalid(
            f"line {state.line}: the file's checksum does not match its contents: it was "
            "changed after export (export it again)"
        )
    seen = Counts(**state.seen, embeddings=trailer.counts.embeddings)
    for declared, where in ((trailer.counts, "trailer"), (state.header.counts, "header")):
        if _comparable(declared) != _comparable(seen):
            raise Invalid(
                f"line {state.line}: the {where} counts {_comparable(declared)} records but the "
                f"file holds {_comparable(seen)}"
            )


def _comparable(counts: Counts) -> dict[str, Any]:
    return counts.model_dump(exclude={"embeddings"})
