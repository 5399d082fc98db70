"""The request layer: request id, HTTP metrics and the access log, outside everything else.

:class:`RequestObservability` is a pure ASGI middleware (a streamed answer — chat over SSE —
passes through piece by piece, never buffered). :class:`ObservedFastAPI` puts it outside even
Starlette's ``ServerErrorMiddleware``, so every answer carries ``X-Request-ID``: a 413 from the
body limit, a 422, a 503 while the database is down, a 500 from an unexpected error; and
whatever is logged meanwhile (a 503 warning, a 500's traceback) carries the same id.

* **Request id**: the client's ``X-Request-ID`` when it is 1-128 visible ASCII characters
  (no spaces), else a new one (32 hex digits).
* **Server version**: ``X-Honcho-Server-Version`` (this package's version) on every answer.
* **Metrics**: by method, route *template* (``/v3/workspaces/{workspace_id}/peers``, never the
  raw path) and status; requests that match no route are counted under ``unmatched``.
* **Requests in flight**: counted in :class:`~.concurrency.Concurrency` from arrival until
  the answer starts, once each (the in-process worker paces its bulk work while the API is
  busy: ``worker.pacing``).
* **Access log**: one INFO line per request on ``honcho_server.access`` (``ACCESS_LOG=false``
  turns it off): method, route template, status, duration, client (and the request id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence

from fastapi import FastAPI, routing
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from . import metrics
from .concurrency import Concurrency, counting
from .logs import request_id

access_log = logging.getLogger("honcho_server.access")

HEADER = b"x-request-id"
VERSION_HEADER = (b"x-honcho-server-version", __version__.encode("ascii"))
MAX_REQUEST_ID = 128
UNMATCHED = "unmatched"
CLIENT_CLOSED = 499  # nginx's "client closed request": it went away before any answer
_VALID_ID = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_REQUEST_ID)


def incoming_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The client's ``X-Request-ID`` if it is acceptable, else None."""
    for name, value in headers:
        if name == HEADER:
            return value.decode("ascii") if _VALID_ID.fullmatch(value) else None
    return None


class RouteTemplates:
    """The full template (``/v3/...``) of the route that handled a request.

    Routing leaves the matched route object in ``scope["route"]``; with routers included
    under a prefix (``/v3``) that object may only know its own part of the path, so the full
    templates are resolved once, here, by route object. A request answered before routing ran
    (a 413 from the body limit, a 422 for a lone surrogate) or that matched nothing is
    matched against the templates (``unmatched`` when none fits).
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.by_route: dict[int, str] = {}  # by id(): routes define __eq__, not __hash__
        self.patterns: list[tuple[re.Pattern[str], frozenset[str], str]] = []
        for route, template, methods in _flatten(routes):
            self.by_route.setdefault(id(route), template)
            regex, _, _ = compile_path(template)
            self.patterns.append((regex, frozenset(methods or ()), template))

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            template = self.by_route.get(id(route))
            if template is not None:
                return template
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        partial = None
        for regex, methods, template in self.patterns:
            if regex.match(path):
                if not methods or scope["method"] in methods:
                    return template
                partial = partial or template  # a 405: the path is a route's
        return partial or UNMATCHED


def _flatten(routes: Sequence[BaseRoute]) -> Iterable[tuple[object, str, Iterable[str] | None]]:
    """(route object, full template, methods) of every route, through included routers."""
    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI with lazy inclusion
    if contexts is not None:
        for context in contexts(routes):
            if context.path:
                yield context.original_route, context.path, context.methods
        return
    for route in routes:  # FastAPI that copies included routes with their full path
        path = getattr(route, "path", None)
        if isinstance(path, str):
            yield route, path, getattr(route, "methods", None)


class RequestObservability:
    """Pure ASGI middleware: request id (context and response header), metrics, access log."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        access: bool = True,
        concurrency: Concurrency | None = None,
    ) -> None:
        self.app = app
        self.routes = RouteTemplates(routes)
        self.access = access
        self.concurrency = concurrency or Concurrency()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = incoming_request_id(scope["headers"]) or os.urandom(16).hex()  # 4x faster than uuid4
        header = (HEADER, rid.encode("ascii"))
        status = 0
        # counted until its answer starts (a stream then mostly waits on others), and only
        # once: a v2 or MCP call runs the v3 route through this app again, inside this one
        counted = not counting.get()

        async def send_with_id(message: Message) -> None:
            nonlocal status, counted
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header, VERSION_HEADER]
                if counted:
                    counted = False
                    self.concurrency.left()
            await send(message)

        token = request_id.set(rid)
        outer = counting.set(True) if counted else None
        if counted:
            self.concurrency.entered()
        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            status = status or CLIENT_CLOSED
            raise
        except BaseException:
            status = status or 500
            raise
        finally:
            if counted:
                self.concurrency.left()
            if outer is not None:
                counting.reset(outer)
            self._done(scope, status or CLIENT_CLOSED, time.perf_counter() - started)
            request_id.reset(token)

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        method: str = scope["method"]
        route = self.routes.of(scope)
        metrics.http_request(method, route, status, seconds)
        if self.access and access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            host = client[0] if client else "-"
            ms = round(seconds * 1000, 1)
            access_log.info(
                "%s %s %d %.1fms client=%s",
                method,
                route,
                status,
                ms,
                host,
                extra={
                    "access": {
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": ms,
                        "client": host,
                    }
                },
            )


class ObservedFastAPI(FastAPI):
    """FastAPI with :class:`RequestObservability` as its outermost layer (outside the error
    middleware too). ``access_log``: whether to write the access log; ``concurrency``: where
    requests in flight are counted (read by the in-process worker's pacing)."""

    access_log: bool = True
    concurrency: Concurrency | None = None

    def build_middleware_stack(self) -> ASGIApp:
        return RequestObservability(
            super().build_middleware_stack(),
            routes=self.routes,
            access=self.access_log,
            concurrency=self.concurrency,
        )
