"""``/v2/openapi.json``: the v2 routes' own document, each operation deprecated, with the
answers the v3 document adds (Honcho's string-detail 422, the 503 of an outage)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from ..openapi_doc import BEARER, ERROR, ERROR_SCHEMA, declare_error_responses

V2_API_VERSION = "2.5.1"
DESCRIPTION = (
    "Deprecated: Honcho's v2 API, served for apps written against honcho-ai 1.x and the v2 "
    "Stainless clients. New code should use /v3 (see /openapi.json)."
)


def document(app: FastAPI, router: APIRouter) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=V2_API_VERSION,
        summary=app.summary,
        description=DESCRIPTION,
        routes=router.routes,
    )
    doc.setdefault("components", {}).setdefault("schemas", {})[ERROR] = ERROR_SCHEMA
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            operation["deprecated"] = True
            declare_error_responses(operation.setdefault("responses", {}))  # as v3's document
            operation["security"] = [{BEARER: []}]  # every v2 route is guarded
    doc["components"]["securitySchemes"] = {BEARER: {"type": "http", "scheme": "bearer"}}
    return doc
