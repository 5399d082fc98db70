"""Structured output for a JSON Schema given as data (not a pydantic model).

:meth:`~honcho_server.llm.LLMClient.structured` takes a pydantic model; :func:`schema_model`
wraps a plain JSON Schema and a checker into one, so the same machinery (``json_schema`` /
``json_object`` / ``text`` modes, tolerant reading, one corrective retry showing the model
what was wrong) serves schemas supplied at run time, e.g. a chat's ``response_format``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import RootModel, model_validator

#: Returns what is wrong with a value (empty: it conforms).
Checker = Callable[[Any], list[str]]


class SchemaAnswer(RootModel[Any]):
    """Any JSON value; subclasses made by :func:`schema_model` check it against a schema."""

    answer_schema: ClassVar[dict[str, Any]] = {}
    answer_check: ClassVar[Checker | None] = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.answer_schema)

    @model_validator(mode="after")
    def _conforms(self) -> SchemaAnswer:
        check = type(self).answer_check
        problems = check(self.root) if check is not None else []
        if problems:
            raise ValueError("; ".join(problems[:5]))
        return self


def schema_model(name: str, schema: dict[str, Any], check: Checker) -> type[SchemaAnswer]:
    """A model whose JSON Schema is ``schema`` and whose values must pass ``check``."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)[:64] or "Answer"
    namespace = {"answer_schema": copy.deepcopy(schema), "answer_check": staticmethod(check)}
    return type(safe, (SchemaAnswer,), namespace)
