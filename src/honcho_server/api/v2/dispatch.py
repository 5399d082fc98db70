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
from fastapi.responses import Response

PASSED_HEADERS = ("authorization", "x-request-id")
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
        transport = httpx.ASGITransport(app=self.app)
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

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.send(method, url, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def raw_body(request: Request) -> bytes | None:
    """The request's JSON body as sent (``None`` when empty), for a v3 route that reads the
    same shape: it parses it exactly as a v3 caller's."""
    body = await request.body()
    return body or None
