"""A fake OpenAI-compatible HTTP server for tests: real sockets, real ``openai`` client on top.

``FakeOpenAIServer`` runs a small FastAPI app under uvicorn on ``127.0.0.1`` (a free port) in a
background thread. It answers like the OpenAI API does (same JSON shapes, same error envelope)
and records every request, so tests can check what the client actually sent.

- ``POST /v1/embeddings``: deterministic unit vectors from a hash of each input
  (:func:`fake_embedding`), honouring ``dimensions`` and ``encoding_format`` (float/base64), with
  ``usage`` token counts (cl100k_base).
- ``POST /v1/chat/completions``: answers from a queue of scripted replies
  (:meth:`FakeOpenAI.queue_chat`); an empty queue is a loud 500. ``stream=true`` answers in
  server-sent events, chunk by chunk, as OpenAI does (with a last ``usage`` chunk when
  ``stream_options.include_usage``). ``response_format`` is checked like OpenAI checks it
  (``json_object`` needs the word "json" in the messages; a strict ``json_schema`` must close
  every object and require all its properties), and can be refused with a 400, as many local
  servers do (:meth:`FakeOpenAI.reject_response_format`). ``reject_max_tokens`` answers
  ``max_tokens`` the way OpenAI's reasoning models do.

Tool calling: a scripted reply can call tools (``ScriptedReply(tool_calls=[tool_call(...)])``),
answered as OpenAI does, whole or streamed (``tool_calls`` deltas, ``finish_reason:
"tool_calls"``). ``tools`` and the ``tool`` messages answering calls are checked the way OpenAI
checks them; :meth:`FakeOpenAI.refuse_tools` answers any request with ``tools`` with a 400, as
servers without tool support do.

Any endpoint can be made to fail next with :meth:`FakeOpenAI.fail_next`, or slow with
``latency_seconds`` (and ``chunk_delay_seconds`` between streamed chunks).

Soak and fault tests, which send more chat requests than anyone could script, opt in to
``FakeOpenAI.default_chat``: the answer given when no scripted reply is queued (a reply, or a
function of the request body; :func:`answer_anything` answers every request of the deriver,
summaries, cards and dreams with something valid for the schema it asked for). The server can
be started on a given port (``FakeOpenAIServer(port=...)``), so a test can point a client at a
closed port and later bring "the LLM" up there, or stop it and start it again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

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
class FakeToolCall:
    """A tool call the fake model makes: ``arguments`` are sent as JSON text (a ``str`` is
    sent as is, for malformed-arguments tests)."""

    name: str
    arguments: dict[str, Any] | str
    id: str = ""

    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


_call_ids = itertools.count(1)


def tool_call(name: str, arguments: dict[str, Any] | str | None = None) -> FakeToolCall:
    """A call of tool ``name`` with ``arguments`` (a fresh call id)."""
    return FakeToolCall(name, {} if arguments is None else arguments, f"call_{next(_call_ids)}")


@dataclass(frozen=True)
class ScriptedReply:
    """An assistant answer with more control than a plain string: how it is split when
    streamed (default: one piece per cl100k token), its finish reason, a refusal, tool calls
    (finish reason ``tool_calls`` unless given)."""

    content: str = ""
    pieces: list[str] | None = None
    finish_reason: str | None = None
    refusal: str | None = None
    tool_calls: list[FakeToolCall] | None = None

    @property
    def finish(self) -> str:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


def calls(*tool_calls: FakeToolCall, content: str = "") -> ScriptedReply:
    """A reply that calls ``tool_calls`` (with optional text beside them)."""
    return ScriptedReply(content, tool_calls=list(tool_calls))


ChatReply = str | ScriptedReply | dict[str, Any] | ScriptedError
#: What answers a chat request nobody scripted: a reply, or a function of the request body.
DefaultChat = ChatReply | Callable[[dict[str, Any]], ChatReply]


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
    #: Seconds every request waits before it is answered.
    latency_seconds: float = 0.0
    #: Answer 400 to an embeddings request any of whose inputs contains this text (content
    #: the provider refuses: one poison input fails the whole request it is in).
    reject_embedding_inputs_containing: str | None = None
    #: Seconds between streamed chunks.
    chunk_delay_seconds: float = 0.0
    #: Refuse ``max_tokens`` (asking for ``max_completion_tokens``), as OpenAI's o-series do.
    reject_max_tokens: bool = False
    #: Answer 400 to any request offering ``tools`` (a server without tool calling).
    reject_tools: bool = False
    #: The answer when no scripted reply is queued (None: a loud 500, the default), e.g.
    #: :func:`answer_anything`. Opt-in, for soak and fault tests.
    default_chat: DefaultChat | None = None
    _rejected_formats: set[str] = field(default_factory=set)
    _failures: dict[str, deque[ScriptedError]] = field(default_factory=dict)
    _chat_replies: deque[ChatReply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.reverse_embeddings = False
            self.latency_seconds = 0.0
            self.reject_embedding_inputs_containing = None
            self.chunk_delay_seconds = 0.0
            self.reject_max_tokens = False
            self.reject_tools = False
            self.default_chat = None
            self._rejected_formats.clear()
            self._failures.clear()
            self._chat_replies.clear()

    def reject_response_format(self, *types: str) -> None:
        """Answer 400 to chat requests whose ``response_format`` type is one of ``types``
        (e.g. ``"json_schema"``, as older llama.cpp builds do), or, with no types, to any
        request that has a ``response_format`` at all."""
        with self._lock:
            self._rejected_formats.update(types or ["*"])

    def refuse_tools(self) -> None:
        """Answer 400 to chat requests that offer ``tools``."""
        with self._lock:
            self.reject_tools = True

    def fail_next(
        self, path: str = EMBEDDINGS, times: int = 1, error: ScriptedError | None = None
    ) -> None:
        """Answer the next ``times`` requests to ``path`` with ``error`` (default: a 500)."""
        with self._lock:
            queue = self._failures.setdefault(path, deque())
            queue.extend([error or ScriptedError()] * times)

    def queue_chat(self, *replies: ChatReply) -> None:
        """Next chat answers: assistant text (or a :class:`ScriptedReply`), a whole response
        body (not streamable), or an error."""
        with self._lock:
            self._chat_replies.extend(replies)

    def chat_bodies(self) -> list[dict[str, Any]]:
        """The bodies of the chat requests received so far, oldest first."""
        return [r.body for r in self.requests_to(CHAT)]

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _record(self, request: RecordedRequest) -> ScriptedError | None:
        with self._lock:
            self.requests.append(request)
            queue = self._failures.get(request.path)
            return queue.popleft() if queue else None

    def _next_chat_reply(self) -> ChatReply | None:
        with self._lock:
            return self._chat_replies.popleft() if self._chat_replies else None

    def _default_reply(self, body: dict[str, Any]) -> ChatReply | None:
        default = self.default_chat
        if default is None or isinstance(default, str | ScriptedReply | dict | ScriptedError):
            return default
        return default(body)

    def _refuses(self, format_type: str) -> bool:
        with self._lock:
            return "*" in self._rejected_formats or format_type in self._rejected_formats


class FakeOpenAIServer:
    """Runs :func:`create_app` on a free local port until :meth:`stop` (or the ``with`` ends)."""

    def __init__(self, state: FakeOpenAI | None = None, *, port: int | None = None) -> None:
        """``port``: listen there (e.g. where a client was pointed while it was closed);
        default a free one."""
        self.state = state or FakeOpenAI()
        self._socket = socket.socket()
        if port is not None:  # a port just closed by an earlier fake may be in TIME_WAIT
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port or 0))
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
        await _pause(state)
        if failure is not None:
            return _error(failure)
        poison = state.reject_embedding_inputs_containing
        texts = _inputs(body.get("input")) if isinstance(body, dict) else None
        if poison is not None and texts is not None and any(poison in t for t in texts):
            return _invalid("fake server: this input is refused", "input")
        return _embeddings_answer(body, reverse=state.reverse_embeddings)

    @app.post(CHAT)
    async def chat_completions(request: Request) -> Response:
        body, failure = await _receive(state, request)
        if failure is not None:
            return _error(failure)
        invalid = _check_chat_request(state, body)
        if invalid is not None:
            return invalid
        reply = state._next_chat_reply()
        if reply is None:
            reply = state._default_reply(body)
        await _pause(state)
        if reply is None:
            return _error(ScriptedError(message="fake server: no chat reply was queued"))
        if isinstance(reply, ScriptedError):
            return _error(reply)
        if body.get("stream") is True and not isinstance(reply, dict):
            return _chat_stream(state, body, _scripted(reply))
        return JSONResponse(_chat_answer(body, reply))

    return app


async def _receive(state: FakeOpenAI, request: Request) -> tuple[Any, ScriptedError | None]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    recorded = RecordedRequest(request.method, request.url.path, dict(request.headers), body)
    return body, state._record(recorded)


async def _pause(state: FakeOpenAI) -> None:
    """The configured latency. Taken after the answer is chosen, so a request the client
    gave up on never takes a reply scripted for a later one."""
    if state.latency_seconds:
        await asyncio.sleep(state.latency_seconds)


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
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _tokens(text: str) -> int:
    return len(encoding("cl100k_base").encode_ordinary(text))


def _check_chat_request(state: FakeOpenAI, body: Any) -> JSONResponse | None:
    """The 400 OpenAI (or a stricter local server) would give this request, if any."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return _invalid("you must provide a model parameter", "model")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return _invalid("'messages' must be a non-empty array", "messages")
    if state.reject_max_tokens and "max_tokens" in body:
        return _invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
        )
    tools_problem = _tools_problem(state, body)
    if tools_problem is not None:
        return tools_problem
    fmt = body.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        return _invalid(f"Invalid value for 'response_format.type': {kind!r}", "response_format")
    if state._refuses(kind):
        return _invalid(
            f"response_format type '{kind}' is not supported by this server", "response_format"
        )
    if kind == "json_object" and "json" not in json.dumps(body["messages"]).lower():
        return _invalid(
            "'messages' must contain the word 'json' in some form, to use 'response_format' "
            "of type 'json_object'.",
            "messages",
        )
    if kind == "json_schema":
        problem = _json_schema_problem(fmt.get("json_schema"))
        if problem is not None:
            return _invalid(problem, "response_format")
    return None


def _tools_problem(state: FakeOpenAI, body: dict[str, Any]) -> JSONResponse | None:
    """OpenAI's checks of ``tools``, ``tool_choice`` and the ``tool`` messages."""
    tools = body.get("tools")
    if tools is not None:
        if state.reject_tools:
            return _invalid("tools are not supported by this model", "tools")
        if not isinstance(tools, list) or not tools:
            return _invalid("'tools' must be a non-empty array", "tools")
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                return _invalid("each tool needs a function with a name", "tools")
            if not isinstance(function.get("parameters", {}), dict):
                return _invalid("function parameters must be a JSON Schema object", "tools")
    if "tool_choice" in body and tools is None:
        return _invalid("'tool_choice' is only allowed when 'tools' are specified", "tool_choice")
    called: set[str] = set()
    for message in body["messages"]:
        if not isinstance(message, dict):
            return _invalid("each message must be an object", "messages")
        for call in message.get("tool_calls") or []:
            called.add(call.get("id"))
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            return _invalid(
                "Invalid parameter: messages with role 'tool' must be a response to a preceding "
                "message with 'tool_calls'.",
                "messages",
            )
    return None


def _json_schema_problem(spec: Any) -> str | None:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        return "Missing required parameter: 'response_format.json_schema.name'."
    if not _SCHEMA_NAME.fullmatch(spec["name"]):
        return "Invalid 'response_format.json_schema.name': must match ^[a-zA-Z0-9_-]{1,64}$"
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        return "Missing required parameter: 'response_format.json_schema.schema'."
    if spec.get("strict") is not True:
        return None
    for path, node in _subschemas(schema, ()):
        problem = _strict_problem(node)
        if problem is not None:
            return (
                f"Invalid schema for response_format '{spec['name']}': In context={path}, {problem}"
            )
    return None


def _strict_problem(node: dict[str, Any]) -> str | None:
    if "$ref" in node and len(node) > 1:
        return f"$ref cannot have keywords {sorted(set(node) - {'$ref'})}."
    if node.get("type") != "object":
        return None
    if node.get("additionalProperties") is not False:
        return "'additionalProperties' is required to be supplied and to be false."
    if sorted(node.get("required", [])) != sorted(node.get("properties", {})):
        return "'required' must be an array including every key in properties."
    return None


def _subschemas(
    node: dict[str, Any], path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    found = [(path, node)]
    for key, value in node.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            for name, child in value.items():
                if isinstance(child, dict):
                    found += _subschemas(child, (*path, key, name))
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            found += _subschemas(value, (*path, key))
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            for index, child in enumerate(value):
                if isinstance(child, dict):
                    found += _subschemas(child, (*path, key, str(index)))
    return found


def _scripted(reply: str | ScriptedReply) -> ScriptedReply:
    return ScriptedReply(reply) if isinstance(reply, str) else reply


def _usage(body: dict[str, Any], content: str) -> dict[str, int]:
    prompt = sum(
        _tokens(m["content"]) for m in body["messages"] if isinstance(m.get("content"), str)
    )
    completion = _tokens(content)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chat_answer(
    body: dict[str, Any], reply: str | ScriptedReply | dict[str, Any]
) -> dict[str, Any]:
    if isinstance(reply, dict):
        return reply
    scripted = _scripted(reply)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": scripted.content,
        "refusal": scripted.refusal,
    }
    if scripted.refusal is not None:
        message["content"] = None
    if scripted.tool_calls:
        message["content"] = scripted.content or None
        message["tool_calls"] = [
            {
                "id": call.id or f"call_{next(_call_ids)}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_text()},
            }
            for call in scripted.tool_calls
        ]
    return {
        "id": f"chatcmpl-fake{next(_chat_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": scripted.finish,
            }
        ],
        "usage": _usage(body, scripted.content),
    }


def _chat_stream(
    state: FakeOpenAI, body: dict[str, Any], reply: ScriptedReply
) -> StreamingResponse:
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    base = {
        "id": f"chatcmpl-fake{next(_chat_ids)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": None,
    }
    pieces = reply.pieces
    if pieces is None:
        enc = encoding("cl100k_base")
        pieces = [enc.decode([token]) for token in enc.encode_ordinary(reply.content)]
    call_deltas: list[dict[str, Any]] = []
    for index, call in enumerate(reply.tool_calls or []):
        text = call.arguments_text()
        half = len(text) // 2  # arguments arrive in pieces, as OpenAI sends them
        call_deltas.append(
            {
                "index": index,
                "id": call.id or f"call_{next(_call_ids)}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        )
        for part in (text[:half], text[half:]):
            call_deltas.append({"index": index, "function": {"arguments": part}})

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        extra = {"usage": None} if include_usage else {}
        return {**base, "choices": [choice], **extra}

    async def events() -> AsyncIterator[str]:
        chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
        chunks += [chunk({"content": piece}) for piece in pieces]
        chunks += [chunk({"tool_calls": [delta]}) for delta in call_deltas]
        chunks.append(chunk({}, reply.finish))
        if include_usage:
            chunks.append({**base, "choices": [], "usage": _usage(body, "".join(pieces))})
        for item in chunks:
            yield f"data: {json.dumps(item)}\n\n"
            if state.chunk_delay_seconds:
                await asyncio.sleep(state.chunk_delay_seconds)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


# ---- answers for soak and fault tests (``FakeOpenAI.default_chat``) -------------------------

_SCHEMA_MARK = "conforms to this JSON Schema:\n"
_OBSERVED = re.compile(r"about a person called (.+?)[.:]")
_NEW_MESSAGES = "New messages to learn from:\n"


def answer_anything(body: dict[str, Any]) -> ChatReply:
    """A valid answer to any chat request the server's jobs send: the deriver's extraction
    (an explicit fact echoing each new message), a peer card, a dream's answers (empty), a
    summary (text); any other schema gets its smallest valid instance. Echoes only what it was
    sent, so it is deterministic."""
    messages = body.get("messages") or []
    system = str(messages[0].get("content") or "") if messages else ""
    user = str(messages[-1].get("content") or "") if messages else ""
    schema = asked_schema(body)
    if schema is None:  # a summary or a chat answer: text
        return "The participants talked about their plans, in order, and agreed on them."
    observed_match = _OBSERVED.search(system)
    observed = observed_match.group(1) if observed_match else "the user"
    properties = schema.get("properties") or {}
    if "explicit" in properties and "deductive" in properties:
        new = user.split(_NEW_MESSAGES, 1)[-1].strip().splitlines() if _NEW_MESSAGES in user else []
        said = [line.split(": ", 1)[-1][:120] for line in new if line.strip()]
        return json.dumps(
            {"explicit": [f"{observed} said: {text}" for text in said], "deductive": []}
        )
    if "entries" in properties:
        return json.dumps({"entries": [f"IDENTITY: {observed} is a participant"]})
    return json.dumps(minimal_instance(schema, schema.get("$defs") or {}))


def asked_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema the request asks its answer to follow (``response_format`` json_schema,
    or the one the client put in the system prompt), or None for a text answer."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return schema if isinstance(schema, dict) else {}
    messages = body.get("messages") or []
    system = str(messages[0].get("content") or "") if messages else ""
    if _SCHEMA_MARK in system:
        try:
            found = json.loads(system.split(_SCHEMA_MARK, 1)[1].strip())
        except ValueError:
            found = None
        if isinstance(found, dict):
            return found
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return {}
    return None


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The smallest value ``schema`` accepts: every property of an object, empty lists."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return minimal_instance(defs.get(ref.removeprefix("#/$defs/"), {}), defs)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
            return minimal_instance((usable or options)[0], defs)
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: minimal_instance(sub, defs) for name, sub in properties.items()}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}.get(str(kind))
