"""Request limits at the ASGI edge, before anything parses a body.

* **Body size.** A declared ``Content-Length`` over the limit is answered 413 at once; bodies
  are counted as they stream in, so a client that declares nothing (chunked) is stopped at the
  limit too. No more than ``limit`` bytes of a body are ever held.
* **Uploads** (``…/messages/upload``, multipart) have their own limit and stream through
  (Starlette spools the file to disk); the upload service answers its own 413 for a file over
  5 MiB, so this limit only stops bodies far beyond any legal upload.
* **Imports** (``/v3/workspaces/import``, admin only) pass through unbuffered: the import
  streams the body line by line and bounds each line itself.
* **Lone surrogates.** ``"\\ud800"`` is a valid JSON escape but not Unicode: Python decodes
  it into a ``str`` that cannot be encoded again (for Postgres, or in a 422 echoing it). A JSON
  body containing one is answered with a 422 naming the field, before any route sees it.

Everything answers with Honcho's error body (``{"detail": …}``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..services.uploads import MAX_FILE_SIZE
from .excerpts import validation_errors

MIB = 1024 * 1024
UPLOAD_PATH_SUFFIX = "/messages/upload"
# ``POST /v3/workspaces/import`` reads its body as a stream of lines, each bounded by the
# import itself (transfer.format.MAX_LINE_BYTES), so a workspace of any size can come in.
IMPORT_PATH_SUFFIX = "/workspaces/import"
# The largest legal upload is a 5 MiB file (MAX_FILE_SIZE) plus its form fields: peer_id and
# created_at (bytes), metadata and configuration (each ≤ 64 KiB of JSON, at most 6 times that on the
# wire if every character is \u-escaped: 0.75 MiB together) and the multipart framing (bytes):
# under 6 MiB. 8 MiB stops only what no legal upload can be, and lets the upload service
# report a file that is too large with its size.
MAX_UPLOAD_BODY_BYTES = MAX_FILE_SIZE + 3 * MIB

# Where a lone surrogate may hide in a UTF-8 JSON body: a \uD800-\uDFFF escape, or the
# (invalid, but accepted by json.loads) UTF-8 bytes of one. A hit is only a candidate:
# escaped pairs (emoji written as \ud83d\ude00) also match and are fine.
_SURROGATE_CANDIDATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit (FastAPI re-raises
    ``HTTPException`` from body parsing, so it arrives here or at the HTTP error handler)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"Request body too large (the limit is {limit} bytes)"


class RequestLimits:
    """Pure ASGI middleware: body size limits and the lone-surrogate check."""

    def __init__(
        self, app: ASGIApp, *, max_body: int, max_upload_body: int = MAX_UPLOAD_BODY_BYTES
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload_body = max_upload_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).endswith(IMPORT_PATH_SUFFIX):
            await self.app(scope, receive, send)  # streamed line by line, any size (admin)
            return
        headers = Headers(scope=scope)
        upload = str(scope.get("path", "")).endswith(UPLOAD_PATH_SUFFIX)
        limit = self.max_upload_body if upload else self.max_body
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
        elif headers.get("content-type", "").lower().startswith("multipart/"):
            await self._streamed(scope, receive, send, limit)
        else:
            await self._buffered(scope, receive, send, limit)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)

    async def _buffered(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Read the whole (JSON) body first: the route would too, and the surrogate check
        needs all of it."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        if (error := lone_surrogate_error(body)) is not None:
            response = JSONResponse({"detail": validation_errors([error])}, status_code=422)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the real channel (disconnect notices)."""
    pending: list[bytes] = [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replayed


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": too_large_detail(limit)}, status_code=413)


def lone_surrogate_error(body: bytes) -> dict[str, Any] | None:
    """A pydantic-style error for the first string (or key) of a JSON body that holds a lone
    surrogate, or ``None``. Cheap for ordinary bodies: parsed only when a candidate is seen."""
    if not body or (
        json.detect_encoding(body[:4]) == "utf-8" and not _SURROGATE_CANDIDATE.search(body)
    ):
        return None
    try:
        data = json.loads(body)  # exactly as the route will parse it
    except (ValueError, RecursionError):
        return None  # not JSON: the route answers that
    found = _find_surrogate(data)
    if found is None:
        return None
    loc, text = found
    return {
        "type": "string_unicode",
        "loc": ["body", *loc],
        "msg": "Input should be valid Unicode text: it contains a lone surrogate "
        "(an unpaired \\ud800-\\udfff escape)",
        "input": text,
    }


def _find_surrogate(data: Any) -> tuple[list[str | int], str] | None:
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return loc, value
        elif isinstance(value, dict):
            for key in value:
                if _has_surrogate(key):
                    return [*loc, key], key
            stack.extend((sub, [*loc, key]) for key, sub in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((sub, [*loc, i]) for i, sub in reversed(list(enumerate(value))))
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
