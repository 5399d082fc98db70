"""Property-based fuzzing of every operation of the v2 *contract* (``tests/data``'s copy, not
the document we serve) against the live v2 server, over HTTP with an admin key: no 5xx, and
every response with a status the contract documents matches its schema there.

The contract documents a 422 only as FastAPI's ``HTTPValidationError``; application 422s carry
Honcho's string ``detail`` (as on v3), so that alternative is added to the contract exactly as
``api/openapi_doc.py`` adds it to the served v3 document. Bounded like the v3 fuzz test
(``FUZZ_EXAMPLES``, default 4 per operation)."""

from __future__ import annotations

import copy
import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from spec_v2 import spec
from v2_support import SECRET

from fakes.openai_server import FakeOpenAIServer
from honcho_server.api.openapi_doc import ERROR, ERROR_SCHEMA, declare_error_responses
from honcho_server.auth.keys import mint

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
HEADERS = {"Authorization": f"Bearer {mint(SECRET, admin=True)}"}


def contract() -> dict[str, Any]:
    doc = copy.deepcopy(spec())
    doc["components"]["schemas"][ERROR] = ERROR_SCHEMA
    for path, item in doc["paths"].items():
        for operation in item.values():
            if path.startswith("/v2/"):
                declare_error_responses(operation["responses"])
    return doc


schema = schemathesis.openapi.from_dict(contract())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_contract_operation_holds(
    case: schemathesis.Case, v2_server: str, chat_llm: FakeOpenAIServer
) -> None:
    case.call_and_validate(
        base_url=v2_server,
        headers=HEADERS,
        checks=[not_a_server_error, response_schema_conformance],
        timeout=60,
    )
