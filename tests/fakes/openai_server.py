"""A fake OpenAI-compatible HTTP server for tests: real sockets, real ``openai`` client on top.

``FakeOpenAIServer`` runs a small FastAPI app under uvicorn on ``127.0.0.1`` (a free port) in a
background thread. It answers like the OpenAI API does (same JSON shapes, same error envelope)
and records every request, so tests can check what the client actually sent.

- ``POST /v1/embeddings``: deterministic unit vectors from a hash of each input
  (:func:`fake_embedding`), honouring ``dimensions`` and ``encoding_format`` (float/base64), with
  ``usage`` token counts (cl100k_base).
- ``POST /v1/chat/completions``: answers from a queue of scripted replies
  (:meth:`FakeOpenAI.queue_chat`); an empty queue is a loud 500.

Any endpoint can be made to fail next with :meth:`FakeOpenAI.fail_next`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from honcho_server.tokens import encoding

EMBEDDINGS = "/v1/embeddings"
CHAT = "/v1/chat/completions"
MAX_INPUTS = 2048
# Native sizes of OpenAI's embedding models; other model names get DEFAULT_DIMENSIONS.
NATIVE_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_DIMENSIONS = 1536
FIXED_SIZE_MODELS = {"text-embedding-ada-002"}  # reject `dimensions`, as OpenAI does


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """The unit vector the fake server returns for ``text`` (deterministic, hash-derived)."""
    raw = hashlib.shake_256(text.encode()).digest(4 * dimensions)
    values = [v / 2**31 - 1.0 for v in struct.unpack(f"<{dimensions}I", raw)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


@dataclass(frozen=True)
class ScriptedError:
    """An OpenAI-style error answer. ``retry_after_ms`` keeps client retries fast."""

    status: int = 500
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    retry_after_ms: int | None = 1


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeOpenAI:
    """What the server has seen and will answer; shared by the server thread and the test."""

    requests: list[RecordedRequest] = field(default_factory=list)
    #: List embeddings last-to-first (each still carries its ``index``), as servers may.
    reverse_embeddings: bool = False
    _failures: dict[str, deque[ScriptedError]] = field(default_factory=dict)
    _chat_replies: deque[str | dict[str, Any] | ScriptedError] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.reverse_embeddings = False
            self._failures.clear()
            self._chat_replies.clear()

    def fail_next(
        self, path: str = EMBEDDINGS, times: int = 1, error: ScriptedError | None = None
    ) -> None:
        """Answer the next ``times`` requests to ``path`` with ``error`` (default: a 500)."""
        with self._lock:
            queue = self._failures.setdefault(path, deque())
            queue.extend([error or ScriptedError()] * times)

    def queue_chat(self, *replies: str | dict[str, Any] | ScriptedError) -> None:
        """Next chat answers: assistant text, a whole response body, or an error."""
        with self._lock:
            self._chat_replies.extend(replies)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _record(self, request: RecordedRequest) -> ScriptedError | None:
        with self._lock:
            self.requests.append(request)
            queue = self._failures.get(request.path)
            return queue.popleft() if queue else None

    def _next_chat_reply(self) -> str | dict[str, Any] | ScriptedError | None:
        with self._lock:
            return self._chat_replies.popleft() if self._chat_replies else None


class FakeOpenAIServer:
    """Runs :func:`create_app` on a free local port until :meth:`stop` (or the ``with`` ends)."""

    def __init__(self, state: FakeOpenAI | None = None) -> None:
        self.state = state or FakeOpenAI()
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(create_app(self.state), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """What to pass as the ``openai`` client's ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ---- the app --------------------------------------------------------------------------------


def create_app(state: FakeOpenAI) -> FastAPI:
    app = FastAPI()

    @app.post(EMBEDDINGS)
    async def embeddings(request: Request) -> JSONResponse:
        body, failure = await _receive(state, request)
        if failure is not None:
            return _error(failure)
        return _embeddings_answer(body, reverse=state.reverse_embeddings)

    @app.post(CHAT)
    async def chat_completions(request: Request) -> JSONResponse:
        body, failure = await _receive(state, request)
        reply = failure or state._next_chat_reply()
        if reply is None:
            return _error(ScriptedError(message="fake server: no chat reply was queued"))
        if isinstance(reply, ScriptedError):
            return _error(reply)
        return JSONResponse(_chat_answer(body, reply))

    return app


async def _receive(state: FakeOpenAI, request: Request) -> tuple[Any, ScriptedError | None]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    recorded = RecordedRequest(request.method, request.url.path, dict(request.headers), body)
    return body, state._record(recorded)


def _error(error: ScriptedError, param: str | None = None) -> JSONResponse:
    headers = {} if error.retry_after_ms is None else {"retry-after-ms": str(error.retry_after_ms)}
    envelope = {"message": error.message, "type": error.type, "param": param, "code": None}
    return JSONResponse({"error": envelope}, status_code=error.status, headers=headers)


def _invalid(message: str, param: str) -> JSONResponse:
    return _error(ScriptedError(400, message, "invalid_request_error", None), param)


def _embeddings_answer(body: Any, *, reverse: bool) -> JSONResponse:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return _invalid("you must provide a model parameter", "model")
    model: str = body["model"]
    texts = _inputs(body.get("input"))
    if texts is None:
        return _invalid("'$.input' is invalid. Please check the API reference.", "input")
    if len(texts) > MAX_INPUTS:
        return _invalid(f"'$.input' must have at most {MAX_INPUTS} items", "input")
    dimensions = body.get("dimensions", NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS))
    if "dimensions" in body and model in FIXED_SIZE_MODELS:
        return _invalid("This model does not support specifying dimensions.", "dimensions")
    if not isinstance(dimensions, int) or dimensions < 1:
        return _invalid("dimensions must be a positive integer", "dimensions")
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        return _invalid("encoding_format must be 'float' or 'base64'", "encoding_format")
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _encode(fake_embedding(t, dimensions), fmt),
        }
        for i, t in enumerate(texts)
    ]
    tokens = sum(len(encoding("cl100k_base").encode_ordinary(t)) for t in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": model, "usage": usage})


def _inputs(value: Any) -> list[str] | None:
    """The inputs as texts (token arrays become their repr), or None when invalid."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, int) for v in value):
        return [repr(value)]
    texts = [v if isinstance(v, str) else repr(v) for v in value if isinstance(v, str | list)]
    if len(texts) != len(value) or any(not t for t in texts):
        return None
    return texts


def _encode(vector: list[float], fmt: str) -> list[float] | str:
    if fmt == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


_chat_ids = itertools.count(1)


def _chat_answer(body: Any, reply: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(reply, dict):
        return reply
    model = body.get("model", "") if isinstance(body, dict) else ""
    completion_tokens = len(encoding("cl100k_base").encode_ordinary(reply))
    return {
        "id": f"chatcmpl-fake{next(_chat_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 0,
            "completion_tokens": completion_tokens,
            "total_tokens": completion_tokens,
        },
    }
