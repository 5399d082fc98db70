"""Calls from the explorer's pages to the REST API, inside this process (no socket).

A page never reads memory by itself: it asks the guarded ``/v3`` route that answers the same
question, with the browser session's key as the ``Authorization`` header. So the page shows
exactly what that key may see — the same guard (``auth.policy``, membership checks, the
handlers' own checks), the same services, the same errors — enforced by the server.

:meth:`Api.call` collects a whole answer; :meth:`Api.stream` relays one as it is sent (chat),
both through :mod:`honcho_server.api.inprocess`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from starlette.types import ASGIApp

from ..api import inprocess
from ..api.inprocess import Reply


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
        return await inprocess.collect(self.app, self._request(method, path, body, params))

    async def stream(self, method: str, path: str, body: Any) -> AsyncIterator[bytes]:
        """The route's body as it is sent; a refusal comes as one error event (SSE)."""
        answer = await inprocess.stream(self.app, self._request(method, path, body, None))
        async with aclosing(answer.body) as chunks:
            if answer.status < 400:
                async for chunk in chunks:
                    yield chunk
                return
            detail = Reply(answer.status, await answer.read()).detail()
        yield f"data: {json.dumps({'error': detail, 'done': False})}\n\n".encode()

    def _request(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None
    ) -> httpx.Request:
        headers = {"content-type": "application/json"}
        if self.key:
            headers["authorization"] = f"Bearer {self.key}"
        return httpx.Request(
            method,
            "http://explorer.local" + quote(path),
            params={k: v for k, v in (params or {}).items() if v is not None},
            content=b"" if body is None else json.dumps(body).encode(),
            headers=headers,
        )
