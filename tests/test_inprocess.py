"""api.inprocess: a route run inside this process as the caller asked for it, its answer collected
whole or relayed as it is sent (the MCP tools, the v2 adapter and the explorer all call /v3 so)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from honcho_server.api import inprocess
from honcho_server.api.inprocess import Reply


async def echo(request: Request) -> Response:
    return JSONResponse(
        {
            "method": request.method,
            "id": request.path_params["id"],
            "query": dict(request.query_params),
            "authorization": request.headers.get("authorization"),
            "body": await request.json(),
        },
        status_code=201,
        headers={"Retry-After": "3"},
    )


async def broken(request: Request) -> Response:
    raise RuntimeError("the route failed")


def app_with(*routes: Route) -> Starlette:
    return Starlette(routes=[Route("/things/{id}", echo, methods=["POST"]), *routes])


async def test_collect_runs_the_request_and_returns_the_whole_answer() -> None:
    request = httpx.Request(
        "POST",
        "http://test.local/things/a%20b",
        params={"page": 2, "flag": True},
        json={"x": 1},
        headers={"Authorization": "Bearer k"},
    )
    reply = await inprocess.collect(app_with(), request)
    assert reply.ok and reply.status == 201
    assert reply.headers["retry-after"] == "3"
    assert reply.json() == {
        "method": "POST",
        "id": "a b",
        "query": {"page": "2", "flag": "true"},
        "authorization": "Bearer k",
        "body": {"x": 1},
    }


async def test_a_route_that_raises_raises_unless_asked_for_its_500() -> None:
    app = app_with(Route("/broken", broken))
    request = httpx.Request("GET", "http://test.local/broken")
    with pytest.raises(RuntimeError, match="the route failed"):
        await inprocess.collect(app, request)
    reply = await inprocess.collect(app, request, raise_app_exceptions=False)
    assert reply.status == 500 and not reply.ok


def test_passed_on_keeps_only_the_callers_credentials_and_request_ids() -> None:
    headers = {
        "Authorization": "Bearer k",
        "x-request-id": "r1",
        "idempotency-key": "i1",
        "cookie": "c",
        "content-type": "text/plain",
    }
    assert inprocess.passed_on(headers) == {
        "Authorization": "Bearer k",
        "x-request-id": "r1",
        "idempotency-key": "i1",
    }


def test_a_reply_detail_is_honchos_message_else_the_status() -> None:
    assert Reply(404, b'{"detail": "Peer p not found"}').detail() == "Peer p not found"
    assert Reply(422, b'{"detail": [{"loc": ["body"]}]}').detail() == '[{"loc": ["body"]}]'
    assert Reply(502, b"Bad Gateway").detail() == "HTTP 502"
    assert Reply(500).detail() == "HTTP 500"


async def test_a_stream_relays_each_chunk_when_the_route_sends_it() -> None:
    release = asyncio.Event()

    async def events() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"
        await release.wait()
        yield b"data: two\n\n"

    async def chat(request: Request) -> Response:
        return StreamingResponse(events(), media_type="text/event-stream")

    app = app_with(Route("/chat", chat, methods=["POST"]))
    request = httpx.Request("POST", "http://test.local/chat", json={"query": "hi"})
    answer = await asyncio.wait_for(inprocess.stream(app, request), 5)
    assert answer.status == 200  # before the route has finished
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert await asyncio.wait_for(anext(answer.body), 5) == b"data: one\n\n"
    release.set()
    assert await asyncio.wait_for(answer.read(), 5) == b"data: two\n\n"


async def test_closing_a_stream_early_tells_the_route_its_client_went() -> None:
    stopped = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: more\n\n"
                await asyncio.sleep(0.01)
        finally:
            stopped.set()

    async def chat(request: Request) -> Response:
        return StreamingResponse(endless(), media_type="text/event-stream")

    app = app_with(Route("/chat", chat, methods=["POST"]))
    answer = await inprocess.stream(app, httpx.Request("POST", "http://test.local/chat"))
    assert await anext(answer.body) == b"data: more\n\n"
    await asyncio.wait_for(answer.body.aclose(), 5)  # the route ended before this returned
    assert stopped.is_set()


async def test_a_refused_stream_has_its_status_and_whole_body() -> None:
    async def refuse(request: Request) -> Response:
        return JSONResponse({"detail": "no"}, status_code=403)

    app = app_with(Route("/chat", refuse, methods=["POST"]))
    answer = await inprocess.stream(app, httpx.Request("POST", "http://test.local/chat"))
    assert answer.status == 403
    assert Reply(answer.status, await answer.read()).detail() == "no"


async def test_an_app_that_fails_before_answering_raises_from_stream() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("the app failed")

    with pytest.raises(RuntimeError, match="the app failed"):
        await inprocess.stream(failing, httpx.Request("GET", "http://test.local/"))
