"""No request waits on the thread pool: every route's endpoint and dependencies are async.

FastAPI runs a plain ``def`` endpoint or dependency (a class, too) in a worker thread: a hop
to the pool and back on every request, and the event loop then waits for the GIL behind that
thread. A message search paid it for a one-line dependency (issue 17, item 3).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from honcho_server.app import create_app
from honcho_server.settings import Settings


def _is_async(call: Callable[..., Any]) -> bool:
    if inspect.isclass(call):
        return False  # FastAPI builds a class dependency in the thread pool
    dunder = getattr(call, "__call__", None)  # noqa: B004 - an instance with async __call__
    return any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (call, dunder)
    )


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _routes(app: Any) -> list[APIRoute]:
    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI with lazy inclusion
    routes = [c.original_route for c in contexts(app.routes)] if contexts else app.routes
    return [r for r in routes if isinstance(r, APIRoute)]


def test_every_endpoint_and_dependency_runs_on_the_event_loop() -> None:
    settings = Settings(metrics_enabled=True)
    app = create_app(settings, "postgresql+asyncpg://u:p@127.0.0.1:1/never-connected")
    routes = _routes(app)
    assert len(routes) > 100  # v3, v2, the pages, status and metrics: all of them looked at
    sync = {
        f"{sorted(route.methods)[0]} {route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in (route.endpoint, *_calls(route.dependant))
        if not _is_async(call)
    }
    assert sorted(sync) == []
