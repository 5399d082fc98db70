"""Calls from the explorer's pages to the REST API, inside this process (no socket).

A page never reads memory by itself: it asks the guarded ``/v3`` route that answers the same
question, with the browser session's key as the ``Authorization`` header. So the page shows
exactly what that key may see — the same guard (``auth.policy``, membership checks, the
handlers' own checks), the same services, the same errors — enforced by the server.

:func:`call` collects a whole answer; :func:`stream` relays one as it is sent (chat).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from starlette.types import ASGIApp, Message


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def detail(self) -> str:
        """Honcho's ``{"detail": …}`` message, else the status."""
        try:
            detail = self.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if detail is None:
            return f"HTTP {self.status}"
        return detail if isinstance(detail, str) else json.dumps(detail)


class ApiError(Exception):
    """A refused or failed API call, with its status and Honcho's message."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.detail())
        self.status = reply.status
        self.detail = reply.detail()

    @classmethod
    def of(cls, status: int, detail: str) -> ApiError:
        return cls(Reply(status, json.dumps({"detail": detail}).encode()))


@dataclass(frozen=True)
class Api:
    """The API as one browser session's key reaches it (paths in full: ``/v3/…``)."""

    app: ASGIApp
    key: str | None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.ok("GET", path, params=params)

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return await self.ok("POST", path, body=body, params=params)

    async def ok(
        self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """The route's JSON answer; :class:`ApiError` if it refused or failed."""
        reply = await self.call(method, path, body=body, params=params)
        if not reply.ok:
            raise ApiError(reply)
        return reply.json()

    async def call(
        self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None
    ) -> Reply:
        reply = Reply(status=500)
        chunks: list[bytes] = []
        done = asyncio.Event()

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                reply.status = message["status"]
                reply.headers = _headers(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        scope, receive = self._request(method, path, body, params, done)
        await self.app(scope, receive, send)
        reply.body = b"".join(chunks)
        return reply

    async def stream(self, method: str, path: str, body: Any) -> AsyncIterator[bytes]:
        """The route's body as it is sent; a refusal comes as one error event (SSE)."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        done = asyncio.Event()
        status: list[int] = []

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                await queue.put(message.get("body", b""))
                if not message.get("more_body", False):
                    await queue.put(None)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                await queue.put(None)

        scope, receive = self._request(method, path, body, None, done)
        task = asyncio.create_task(run())
        try:
            collected = b""
            while (chunk := await queue.get()) is not None:
                if status and status[0] >= 400:
                    collected += chunk
                    continue
                yield chunk
            if status and status[0] >= 400:
                detail = Reply(status[0], collected).detail()
                yield f"data: {json.dumps({'error': detail, 'done': False})}\n\n".encode()
        finally:
            done.set()  # the route sees the client go if we stop early
            await task

    def _request(
        self,
        method: str,
        path: str,
        body: Any,
        params: dict[str, Any] | None,
        done: asyncio.Event,
    ) -> tuple[dict[str, Any], Any]:
        data = b"" if body is None else json.dumps(body).encode()
        headers = [(b"host", b"explorer.local"), (b"content-type", b"application/json")]
        if self.key:
            headers.append((b"authorization", f"Bearer {self.key}".encode()))
        full = path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": full,
            "raw_path": quote(full).encode(),
            "root_path": "",
            "query_string": urlencode(query, doseq=True).encode(),
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("explorer.local", 80),
            "state": {},
        }
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        return scope, receive


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


def segment(value: str) -> str:
    """An id as one path segment."""
    return quote(value, safe="")
