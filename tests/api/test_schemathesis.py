"""Property-based fuzzing of every operation in the served ``/openapi.json`` against a live
server (the real ``serve``, over HTTP): no 5xx, and every response matches the schema the
document declares for it.

Bounded for CI: a few derandomized examples per operation, no shrinking; about a minute for
the whole document. By hand, with more: ``FUZZ_EXAMPLES=100 pytest tests/api/test_schemathesis.py``.

Every fourth generated JSON body is also sent with a lone surrogate (``"\\ud800"``, valid
JSON but not Unicode) in its first string, which no generator produces and which used to crash
the 422 handler: every operation must answer it with a 4xx.

Application 422s carry a string ``detail`` (BEHAVIOUR "422(str)", as upstream Honcho
answers); the served document says so (``api/openapi_doc.py``), so they are checked like any
other response. One documented exception, checked precisely rather than skipped: the chat
routes answer 503 "Dialectic chat needs an LLM" on a server with no LLM configured (this one
has none) — a dependency that is missing, not a server error.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from honcho_server.app import create_app
from honcho_server.services.dialectic.service import NO_LLM
from honcho_server.settings import Settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))

# The document the server serves, built without a database (collection needs it up front).
DOCUMENT = create_app(Settings(_env_file=None, database_url="postgresql://collect/x")).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
CALLS: dict[int, int] = {}
_SEEN = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    print(f"\nschemathesis: {sum(CALLS.values())} requests, statuses {dict(sorted(CALLS.items()))}")


def test_the_fuzzed_document_is_the_served_one(live_server: str) -> None:
    assert httpx.get(f"{live_server}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case: schemathesis.Case, live_server: str) -> None:
    response = case.call_and_validate(
        base_url=live_server, checks=[no_server_error, response_schema_conformance], timeout=30
    )
    CALLS[response.status_code] = CALLS.get(response.status_code, 0) + 1
    if next(_SEEN) % 4 == 3 and isinstance(case.body, dict | list) and case.body:
        _send_with_lone_surrogate(case, live_server)


def _send_with_lone_surrogate(case: schemathesis.Case, base_url: str) -> None:
    """The same request, its body's first string ending in a lone surrogate (sent by hand:
    schemathesis itself cannot encode one)."""
    request = case.as_transport_kwargs(base_url=base_url)
    body = json.dumps(_with_lone_surrogate(case.body))  # ensure_ascii: "\\ud800" escapes
    r = httpx.request(
        request["method"],
        request["url"],
        params=request.get("params"),
        headers={"Content-Type": "application/json"},  # auth is off: no other header matters
        content=body.encode(),
        timeout=30,
    )
    CALLS[r.status_code] = CALLS.get(r.status_code, 0) + 1
    assert 400 <= r.status_code < 500, (case.operation.label, r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, str) or all({"type", "loc", "msg"} <= set(e) for e in detail)


def no_server_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    if response.status_code == 503 and str(_detail(response)).startswith(NO_LLM):
        assert case.operation.path.endswith("/chat"), case.operation.path
        return None
    return not_a_server_error(ctx, response, case)


def _with_lone_surrogate(body: Any) -> Any:
    """``body`` with ``\\ud800`` appended to its first string (a value, else a key)."""
    changed, new = _mark_first_string(body)
    if not changed and isinstance(body, dict) and body:
        key = next(iter(body))
        return {key + "\ud800": body[key], **{k: v for k, v in body.items() if k != key}}
    return new if changed else [*body, "\ud800"] if isinstance(body, list) else body


def _mark_first_string(value: Any) -> tuple[bool, Any]:
    if isinstance(value, str):
        return True, value + "\ud800"
    items = list(value.items()) if isinstance(value, dict) else None
    if items is None and not isinstance(value, list):
        return False, value
    for i, (key, sub) in enumerate(items if items is not None else enumerate(value)):
        changed, new = _mark_first_string(sub)
        if changed:
            if items is not None:
                return True, {**value, key: new}
            return True, [*value[:i], new, *value[i + 1 :]]
    return False, value


def _detail(response: schemathesis.Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("detail") if isinstance(body, dict) else None
