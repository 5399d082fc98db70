"""Split a byte stream into lines (newline kept), holding at most one line at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from ..errors import Invalid
from .format import MAX_LINE_BYTES

READ_BYTES = 1024 * 1024


async def split_lines(
    chunks: AsyncIterator[bytes], limit: int = MAX_LINE_BYTES
) -> AsyncIterator[bytes]:
    """Each line with its ``\\n``; a last line without one comes as it is."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            yield bytes(buffer[start : end + 1])
            start = end + 1
        del buffer[:start]
        if len(buffer) > limit:
            raise Invalid(f"a line of the file is longer than {limit} bytes: not an export file")
    if buffer:
        yield bytes(buffer)


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(READ_BYTES):
            yield chunk


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's bytes in 1 MiB pieces (blocking reads: for the CLI, which has no other work)."""
    for chunk in read_chunks(path):
        yield chunk
