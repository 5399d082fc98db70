"""Response bodies built straight from a response model, without FastAPI's second pass.

A route that returns a model has FastAPI validate it against ``response_model`` again, turn it
into plain Python values and hand those to ``json.dumps``. The hot routes that already hold
their exact response model return :func:`rendered` instead: pydantic-core writes the JSON in
one pass (same fields, same formats), and the route keeps ``response_model`` for the OpenAPI
document.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def rendered(model: BaseModel, status: int = 200) -> Response:
    body = model.__pydantic_serializer__.to_json(model)
    return Response(body, status_code=status, media_type="application/json")
