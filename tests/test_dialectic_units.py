"""Pure parts of dialectic chat: the response_format subset, conformance, levels, SSE."""

from __future__ import annotations

from typing import Any

import pytest

from honcho_server.errors import Invalid
from honcho_server.services.dialectic import sse
from honcho_server.services.dialectic.levels import plan_for
from honcho_server.services.dialectic.response_format import check_response_format, problems

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Full name", "maxLength": 5},
        "age": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        "tags": {"type": "array", "items": {"type": "string"}},
        "mood": {"enum": ["happy", "sad", None]},
        "home": {"$ref": "#/$defs/Place"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
    "$defs": {"Place": {"type": "object", "properties": {"city": {"type": ["string", "null"]}}}},
}


def test_the_supported_subset_is_accepted() -> None:
    check_response_format(PERSON)


@pytest.mark.parametrize(
    ("schema", "detail"),
    [
        ({"type": "array"}, "root schema must have type 'object'"),
        ({"type": "object", "allOf": [{}]}, "'allOf' is not supported"),
        ({"type": "object", "not": {}}, "'not' is not supported"),
        ({"type": "object", "if": {}}, "'if' is not supported"),
        ({"type": "object", "patternProperties": {}}, "'patternProperties' is not supported"),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "schema-valued"),
        ({"type": "object", "properties": {"a": {"type": "date"}}}, "unsupported type"),
        ({"type": "object", "properties": {"a": {"enum": [1.5]}}}, "enum values"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}}, "does not point"),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/N"}},
                "$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}},
            },
            "recursive $ref",
        ),
    ],
)
def test_what_is_outside_the_subset_is_refused(schema: dict[str, Any], detail: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_response_format(schema)
    assert caught.value.detail.startswith("Invalid response_format: ")
    assert detail in caught.value.detail


def test_size_limits() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(21):
        deep = {"type": "object", "properties": {"x": deep}}
    with pytest.raises(Invalid, match="deeper than 20"):
        check_response_format(deep)
    wide = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(500)}}
    with pytest.raises(Invalid, match="more than 500 nodes"):
        check_response_format(wide)


def test_conformance_is_structural() -> None:
    assert problems(PERSON, {"name": "a very long name", "age": None, "home": {"city": None}}) == []
    assert problems(PERSON, {"name": "Al"}) == []  # a nullable property may be left out
    assert problems(PERSON, {"age": 3}) == ["$: missing required property 'name'"]
    assert problems(PERSON, {"name": 1, "age": True}) == [
        "$.name: must be of type string",
        "$.age: matches none of the anyOf alternatives",
    ]
    assert problems(PERSON, {"name": "A", "age": 1, "tags": ["x", 2], "mood": "meh"}) == [
        "$.tags[1]: must be of type string",
        "$.mood: must be one of ['happy', 'sad', None]",
    ]
    assert problems(PERSON, {"name": "A", "age": 1, "home": {"city": 3}}) == [
        "$.home.city: must be of type string or null"
    ]
    assert problems(PERSON, []) == ["$: must be of type object"]


def test_level_table() -> None:
    rows = {
        level: (
            p.max_tool_iterations,
            p.max_output_tokens,
            p.tool_choice,
            p.minimal_tools,
            p.prefetch,
        )
        for level in ("minimal", "low", "medium", "high", "max")
        for p in [plan_for(level, 100_000)]  # type: ignore[arg-type]
    }
    assert rows == {
        "minimal": (1, 250, "auto", True, 10),
        "low": (5, 8192, "auto", False, 25),
        "medium": (2, 8192, None, False, 25),
        "high": (4, 8192, None, False, 25),
        "max": (10, 8192, None, False, 25),
    }
    assert plan_for("high", 1000).max_output_tokens == 1000  # LLM_MAX_OUTPUT_TOKENS caps
    assert plan_for("minimal", 100).max_output_tokens == 100


def test_sse_framing() -> None:
    assert (
        sse.delta('say "hé"')
        == b'data: {"delta": {"content": "say \\"h\\u00e9\\""}, "done": false}\n\n'
    )
    assert sse.done() == b'data: {"done": true}\n\n'
    assert (
        sse.done({"conclusions": []})
        == b'data: {"done": true, "evidence": {"conclusions": []}}\n\n'
    )
    assert sse.error("x") == b'data: {"error": "x", "done": false}\n\n'
