"""Each v2 route runs the v3 route that does the same thing, inside this process.

The v3 route brings everything with it: the guard (``auth.policy`` per route and options,
membership checks, the handlers' own checks), the unit of work, the rules and Honcho's error
bodies. The caller's ``Authorization`` header travels with the call, so a key reaches through
``/v2`` exactly what it reaches through ``/v3`` (the MCP tools work the same way). A v3 error
comes back to the v2 caller unchanged: same status, same body, same ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Message

PASSED_HEADERS = ("authorization", "x-request-id", "idempotency-key")
RETURNED_HEADERS = ("retry-after", "www-authenticate")


class V3Error(Exception):
    """A v3 route refused the call; rendered as its response, unchanged."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def as_response(exc: V3Error) -> Response:
    headers = {k: v for k, v in exc.response.headers.items() if k.lower() in RETURNED_HEADERS}
    return Response(
        exc.response.content,
        status_code=exc.response.status_code,
        headers=headers,
        media_type=exc.response.headers.get("content-type"),
    )


def path(*segments: str) -> str:
    """A v3 path from ids, each quoted as one segment: ``path("workspaces", w, "peers")``."""
    return "/v3/" + "/".join(quote(s, safe="") for s in segments)


class V3:
    """The v3 API as the caller of one v2 request sees it."""

    def __init__(self, request: Request) -> None:
        self.app: FastAPI = request.app
        self.headers = {k: v for k, v in request.headers.items() if k.lower() in PASSED_HEADERS}

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        files: Any = None,
        data: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The v3 answer; a :class:`V3Error` for any status from 400 up."""
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        headers = dict(self.headers)
        if content is not None:
            headers["content-type"] = "application/json"
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://v2.local") as client:
            response = await client.request(
                method,
                url,
                params=query,
                json=json,
                content=content,
                files=files,
                data=data,
                headers=headers,
                timeout=None,
            )
        if response.status_code >= 400:
            raise V3Error(response)
        return response

    async def stream(self, url: str, body: Any) -> StreamingResponse:
        """POST ``body`` to a v3 route that streams (chat's server-sent events) and pass its
        chunks on as they come (``httpx.ASGITransport`` would buffer the whole answer). A
        refusal before the stream starts is a :class:`V3Error`, as with :meth:`send`."""
        content = jsonlib.dumps(body).encode()
        headers = [(k.encode(), v.encode()) for k, v in self.headers.items()]
        headers += [(b"content-type", b"application/json"), (b"host", b"v2.local")]
        headers.append((b"content-length", str(len(content)).encode()))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": url,
            "raw_path": url.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "server": ("v2.local", 80),
            "client": ("127.0.0.1", 0),
        }
        sent: asyncio.Queue[Message | None] = asyncio.Queue()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": content, "more_body": False}
            await asyncio.Event().wait()  # no disconnect: the outer response ends the call
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            await sent.put(message)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                await sent.put(None)

        task = asyncio.create_task(run())
        start = await sent.get()
        if start is None or start["type"] != "http.response.start":
            await task  # the app failed before answering: let its error surface
            raise RuntimeError("the v3 route answered nothing")
        status: int = start["status"]
        answer_headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
        chunks = _chunks(sent, task)
        if status >= 400:
            data = b"".join([chunk async for chunk in chunks])
            raise V3Error(httpx.Response(status, headers=answer_headers, content=data))
        media = answer_headers.get("content-type", "text/event-stream")
        return StreamingResponse(chunks, status_code=status, media_type=media)

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.send(method, url, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


async def _chunks(
    sent: asyncio.Queue[Message | None], task: asyncio.Task[None]
) -> AsyncIterator[bytes]:
    try:
        while (message := await sent.get()) is not None:
            if message["type"] == "http.response.body":
                if body := message.get("body", b""):
                    yield body
                if not message.get("more_body", False):
                    break
    finally:
        if not task.done():
            task.cancel()  # the caller went away: stop the v3 route too


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
