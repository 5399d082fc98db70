"""The v2 contract (``tests/data/honcho-v2-openapi.json``, a byte-for-byte copy of the
reference): its operations, and a check that an answer is one it documents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "honcho-v2-openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)


def operations() -> list[Operation]:
    return [
        Operation(method.upper(), path, item["operationId"])
        for path, methods in spec()["paths"].items()
        for method, item in methods.items()
        if method in METHODS
    ]


def check(operation: Operation, response: httpx.Response) -> Any:
    """The answer's JSON after checking its status is one the operation documents and its body
    validates against the documented schema."""
    item = spec()["paths"][operation.path][operation.method.lower()]
    documented = item["responses"]
    status = str(response.status_code)
    assert status in documented, (
        f"{operation.method} {operation.path}: {status} is not documented ({list(documented)}); "
        f"body {response.text[:500]}"
    )
    schema = documented[status].get("content", {}).get("application/json", {}).get("schema")
    if not schema:  # documented without a body schema (e.g. ``{}``, or not JSON: /metrics)
        return None
    body = response.json()
    root = {**schema, "components": spec()["components"]}
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=str)
    assert not errors, f"{operation.method} {operation.path}: {errors[0]}\nbody: {body}"
    return body
