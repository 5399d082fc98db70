"""Running this server's own routes inside this process (no socket), as one caller.

The MCP tools, the ``/v2`` adapter and the explorer's pages each answer by running the guarded
``/v3`` route that does the same thing, with the caller's own headers (``Authorization``,
``X-Request-ID``, ``Idempotency-Key``: :func:`passed_on`). The route brings its guard, unit of
work and errors with it, so a key reaches through them exactly what it reaches through REST.

A call is an ``httpx.Request`` (which encodes the query, a JSON or multipart body and the
headers). :func:`collect` runs it and returns the whole answer; :func:`stream` returns the
status and headers as soon as the route starts answering and its body as it is sent (chat's
server-sent events), where ``httpx.ASGITransport`` would buffer the whole answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Scope

PASSED_HEADERS = ("authorization", "x-request-id", "idempotency-key")


def passed_on(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's headers that travel with its calls to the routes."""
    return {k: v for k, v in headers.items() if k.lower() in PASSED_HEADERS}


@dataclass
class Reply:
    """A route's whole answer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

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


@dataclass
class Stream:
    """A route's answer as it is sent: status and headers, then ``body`` chunk by chunk."""

    status: int
    headers: dict[str, str]
    body: AsyncGenerator[bytes]

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.body])


async def collect(
    app: ASGIApp, request: httpx.Request, *, raise_app_exceptions: bool = True
) -> Reply:
    """The route's whole answer. A route that raises raises here too, unless
    ``raise_app_exceptions`` is false: then the answer is what it sent (else a bare 500), as
    with ``httpx.ASGITransport``."""
    exchange = _Exchange(request)
    reply = Reply(status=500)
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = _headers(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                exchange.done.set()

    try:
        await app(exchange.scope, exchange.receive, send)
    except Exception:
        if raise_app_exceptions:
            raise
    reply.body = b"".join(chunks)
    return reply


async def stream(app: ASGIApp, request: httpx.Request) -> Stream:
    """Start the route; its answer once it has sent the status and headers. Closing ``body``
    before its end (the caller went away) tells the route its client has gone; a route that
    fails before answering raises here."""
    exchange = _Exchange(request)
    sent: asyncio.Queue[Message | None] = asyncio.Queue()

    async def run() -> None:
        try:
            await app(exchange.scope, exchange.receive, sent.put)
        finally:
            await sent.put(None)

    task = asyncio.create_task(run())
    start = await sent.get()
    if start is None or start["type"] != "http.response.start":
        exchange.done.set()
        await task  # the app failed before answering: let its error surface
        raise RuntimeError("the route answered nothing")
    headers = _headers(start.get("headers", []))
    return Stream(start["status"], headers, _body(sent, task, exchange.done))


async def _body(
    sent: asyncio.Queue[Message | None], task: asyncio.Task[None], done: asyncio.Event
) -> AsyncGenerator[bytes]:
    try:
        while (message := await sent.get()) is not None:
            if message["type"] == "http.response.body":
                if chunk := message.get("body", b""):
                    yield chunk
                if not message.get("more_body", False):
                    break
    finally:
        done.set()  # the route sees its client go if the caller stopped early
        await task


class _Exchange:
    """One request's ASGI scope and ``receive``: the body, then (once ``done``) a disconnect."""

    def __init__(self, request: httpx.Request) -> None:
        url = request.url
        self.done = asyncio.Event()
        self.scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "root_path": "",
            "query_string": url.query,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": (url.host, url.port or 80),
            "client": ("127.0.0.1", 0),
            "state": {},
        }
        self._body: bytes | None = request.read()

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.done.wait()
        return {"type": "http.disconnect"}


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
