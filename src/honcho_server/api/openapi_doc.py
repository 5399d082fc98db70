"""The served ``/openapi.json``: FastAPI's document, made to say what the server answers.

Two additions to what the routes declare, both matching responses the server really sends:

- every ``422`` may also carry Honcho's own error body, ``{"detail": "<message>"}`` (the
  form upstream Honcho uses for rule violations found past parsing, which the SDKs read),
  beside FastAPI's ``HTTPValidationError`` for malformed requests;
- every operation may answer ``503`` with that body and a ``Retry-After`` header while the
  database (or, for chat, the LLM) is unavailable.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR = "HonchoError"
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR,
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
}
UNAVAILABLE: dict[str, Any] = {
    "description": "A dependency (the database; for chat, the LLM) is unavailable: retry later",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}},
}


def install(app: FastAPI) -> None:
    """Serve :func:`document` (built once) as the app's OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    doc.setdefault("components", {}).setdefault("schemas", {})[ERROR] = ERROR_SCHEMA
    for path, path_item in doc.get("paths", {}).items():
        for operation in path_item.values():
            declare_error_responses(operation.setdefault("responses", {}))
            if path not in OPEN_PATHS:
                declare_bearer(operation)
    doc["components"]["securitySchemes"] = {BEARER: {"type": "http", "scheme": "bearer"}}
    return doc


BEARER = "HTTPBearer"
OPEN_PATHS = frozenset({"/health"})
"""The documented routes that take no key (every other one is guarded, ``auth.guard``)."""


def declare_bearer(operation: dict[str, Any]) -> None:
    """The operation takes ``Authorization: Bearer <key>``, in the place FastAPI would put it
    for a security dependency (the guard reads the header itself, see ``auth.guard``)."""
    entries = list(operation.items())
    at = next(
        (i for i, (key, _) in enumerate(entries) if key not in _BEFORE_SECURITY), len(entries)
    )
    entries.insert(at, ("security", [{BEARER: []}]))
    operation.clear()
    operation.update(entries)


_BEFORE_SECURITY = frozenset({"tags", "summary", "description", "operationId", "deprecated"})


def declare_error_responses(responses: dict[str, Any]) -> None:
    """An operation's responses as the server really answers: a 422 may carry Honcho's
    ``{"detail": …}`` error, and any route may answer 503."""
    invalid = responses.get("422")
    if invalid is not None:
        content = invalid.setdefault("content", {}).setdefault("application/json", {})
        declared = content.get("schema")
        alternatives = [declared] if declared else []
        content["schema"] = {"anyOf": [*alternatives, {"$ref": f"#/components/schemas/{ERROR}"}]}
    responses.setdefault("503", UNAVAILABLE)
