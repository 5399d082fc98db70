"""Each v2 route runs the v3 route that does the same thing, inside this process.

The v3 route brings everything with it: the guard (``auth.policy`` per route and options,
membership checks, the handlers' own checks), the unit of work, the rules and Honcho's error
bodies. The caller's ``Authorization`` header travels with the call, so a key reaches through
``/v2`` exactly what it reaches through ``/v3`` (the MCP tools work the same way). A v3 error
comes back to the v2 caller unchanged: same status, same body, same ``Retry-After``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from .. import inprocess
from ..inprocess import Reply

RETURNED_HEADERS = ("retry-after", "www-authenticate")


class V3Error(Exception):
    """A v3 route refused the call; rendered as its response, unchanged."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def as_response(exc: V3Error) -> Response:
    headers = {k: v for k, v in exc.reply.headers.items() if k in RETURNED_HEADERS}
    return Response(
        exc.reply.body,
        status_code=exc.reply.status,
        headers=headers,
        media_type=exc.reply.headers.get("content-type"),
    )


def path(*segments: str) -> str:
    """A v3 path from ids, each quoted as one segment: ``path("workspaces", w, "peers")``."""
    return "/v3/" + "/".join(quote(s, safe="") for s in segments)


class V3:
    """The v3 API as the caller of one v2 request sees it."""

    def __init__(self, request: Request) -> None:
        self.app: FastAPI = request.app
        self.headers = inprocess.passed_on(request.headers)

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
    ) -> Reply:
        """The v3 answer; a :class:`V3Error` for any status from 400 up."""
        headers = dict(self.headers)
        if content is not None:
            headers["content-type"] = "application/json"
        request = self._request(
            method,
            url,
            params={k: _query_value(v) for k, v in (params or {}).items() if v is not None},
            json=json,
            content=content,
            files=files,
            data=data,
            headers=headers,
        )
        reply = await inprocess.collect(self.app, request, raise_app_exceptions=False)
        if not reply.ok:
            raise V3Error(reply)
        return reply

    async def stream(self, url: str, body: Any) -> StreamingResponse:
        """POST ``body`` to a v3 route that streams (chat's server-sent events) and pass its
        chunks on as they come. A refusal before the stream starts is a :class:`V3Error`, as
        with :meth:`send`."""
        answer = await inprocess.stream(self.app, self._request("POST", url, json=body))
        if answer.status >= 400:
            raise V3Error(Reply(answer.status, await answer.read(), answer.headers))
        media = answer.headers.get("content-type", "text/event-stream")
        return StreamingResponse(answer.body, status_code=answer.status, media_type=media)

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        return (await self.send(method, url, **kwargs)).json()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        kwargs.setdefault("headers", self.headers)
        return httpx.Request(method, "http://v2.local" + url, **kwargs)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
