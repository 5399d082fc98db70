"""Pure unit tests for the filter language compiler (no database).

Valid filters are compiled with the Postgres dialect and literal binds; invalid ones must raise
``Invalid`` (HTTP 422 with a string detail). Semantic tests against Postgres live elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import ColumnElement
from sqlalchemy.dialects import postgresql

from honcho_server.db.filters import (
    CONCLUSION_FILTERS,
    MESSAGE_FILTERS,
    PEER_FILTERS,
    SESSION_FILTERS,
    WORKSPACE_FILTERS,
    FilterSpec,
    InvalidFilter,
    build_filter,
)
from honcho_server.errors import Invalid

SPECS = {
    "workspace": WORKSPACE_FILTERS,
    "peer": PEER_FILTERS,
    "session": SESSION_FILTERS,
    "message": MESSAGE_FILTERS,
    "conclusion": CONCLUSION_FILTERS,
}


def render(expr: ColumnElement[Any]) -> str:
    compiled = expr.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return str(compiled)


def sql(filters: Any, spec: FilterSpec = MESSAGE_FILTERS) -> str:
    expr = build_filter(filters, spec)
    assert expr is not None, f"expected a condition for {filters!r}"
    return render(expr)


def rejected(filters: Any, spec: FilterSpec = MESSAGE_FILTERS) -> str:
    with pytest.raises(Invalid) as info:
        build_filter(filters, spec)
    assert info.value.status == 422
    assert isinstance(info.value.detail, str) and info.value.detail
    return info.value.detail


def nested(depth: int, leaf: dict[str, Any], op: str = "AND") -> dict[str, Any]:
    filters = leaf
    for _ in range(depth):
        filters = {op: [filters]}
    return filters


# --- no condition -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        None,
        {},
        {"peer_id": "*"},
        {"metadata": "*"},
        {"metadata": {}},
        {"metadata": {"k": "*"}},
        {"metadata": {"k": {"gt": "*"}}},
        {"metadata": {"k": {"in": ["a", "*"]}}},
        {"metadata": {"contains": "*"}},
        {"token_count": {"gt": "*", "lt": "*"}},
        {"peer_id": ["alice", "*"]},
        {"peer_id": {"in": ["*"]}},
        {"AND": []},
        {"OR": []},
        {"NOT": []},
        {"AND": [{}, {"session_id": "*"}]},
        {"OR": [{"peer_id": "a"}, {"peer_id": "*"}]},
    ],
)
def test_no_condition(filters: Any) -> None:
    assert build_filter(filters, MESSAGE_FILTERS) is None


# --- key validation (BEHAVIOUR 10.1) --------------------------------------------------------

ALLOWED = {
    "workspace": ["id", "created_at", "metadata"],
    "peer": ["id", "created_at", "workspace_id", "metadata"],
    "session": ["id", "created_at", "is_active", "workspace_id", "metadata"],
    "message": ["workspace_id", "session_id", "peer_id", "token_count", "created_at", "metadata"],
    "conclusion": [
        "id",
        "content",
        "level",
        "observer_id",
        "observed_id",
        "observer",
        "observed",
        "session_id",
        "session_name",
        "workspace_id",
        "created_at",
        "times_derived",
        "metadata",
    ],
}


@pytest.mark.parametrize(("resource", "key"), [(r, k) for r, keys in ALLOWED.items() for k in keys])
def test_allowed_keys_accept_wildcard(resource: str, key: str) -> None:
    assert build_filter({key: "*"}, SPECS[resource]) is None


@pytest.mark.parametrize(
    ("resource", "key"),
    [
        ("workspace", "workspace_id"),
        ("workspace", "peer_id"),
        ("peer", "peer_id"),
        ("peer", "session_id"),
        ("session", "peer_id"),
        ("session", "session_id"),
        ("message", "id"),
        ("message", "content"),
        ("message", "is_active"),
        ("message", "observer_id"),
        ("conclusion", "token_count"),
        ("conclusion", "peer_id"),
    ],
)
def test_key_known_elsewhere_does_not_exist(resource: str, key: str) -> None:
    # The key check happens before wildcard handling.
    for value in ("*", "x"):
        detail = rejected({key: value}, SPECS[resource])
        assert "does not exist" in detail
        assert key in detail


@pytest.mark.parametrize("key", ["name", "foo", "and", "Metadata", "peer_perspective", ""])
def test_unknown_key_not_allowed(key: str) -> None:
    for spec in SPECS.values():
        assert "not allowed" in rejected({key: "*"}, spec)


@pytest.mark.parametrize("key", ["embedding", "premises", "source_message_ids", "deleted_at"])
def test_conclusion_unfilterable_columns(key: str) -> None:
    assert "not filterable" in rejected({key: "x"}, CONCLUSION_FILTERS)


def test_conclusion_source_ids_is_an_array_of_ids() -> None:
    """Membership (what ``derived()`` sends), all of a list, any of ``in``, none at all."""
    assert sql({"source_ids": {"contains": "a"}}, CONCLUSION_FILTERS) == (
        "conclusions.source_ids @> ARRAY['a']"
    )
    assert sql({"source_ids": "a"}, CONCLUSION_FILTERS) == "conclusions.source_ids @> ARRAY['a']"
    assert sql({"source_ids": ["a", "b"]}, CONCLUSION_FILTERS) == (
        "conclusions.source_ids @> ARRAY['a', 'b']"
    )
    assert sql({"source_ids": {"in": ["a", "b"]}}, CONCLUSION_FILTERS) == (
        "conclusions.source_ids && ARRAY['a', 'b']"
    )
    assert sql({"source_ids": {"in": []}}, CONCLUSION_FILTERS) == "false"
    assert sql({"source_ids": None}, CONCLUSION_FILTERS) == (
        "cardinality(conclusions.source_ids) = 0"
    )
    for match_all in ("*", ["a", "*"], {"contains": "*"}, {"in": ["*"]}):
        assert build_filter({"source_ids": match_all}, CONCLUSION_FILTERS) is None
    assert "not supported" in rejected({"source_ids": {"ne": "a"}}, CONCLUSION_FILTERS)
    assert "non-empty string" in rejected({"source_ids": {"contains": ""}}, CONCLUSION_FILTERS)
    assert "takes an array" in rejected({"source_ids": {"in": "a"}}, CONCLUSION_FILTERS)
    assert "without an operator" in rejected({"source_ids": {}}, CONCLUSION_FILTERS)
    assert "NUL" in rejected({"source_ids": "a\x00"}, CONCLUSION_FILTERS)


def test_key_check_inside_logical_operators() -> None:
    assert "does not exist" in rejected({"OR": [{"peer_id": "a"}, {"id": "x"}]})
    assert "not allowed" in rejected({"NOT": [{"nope": "*"}]})


def test_invalid_key_rejected_even_alongside_match_all_branch() -> None:
    rejected({"OR": [{}, {"bogus": 1}]})


# --- structure ------------------------------------------------------------------------------


@pytest.mark.parametrize("filters", ["x", 1, ["a"], True])
def test_filter_must_be_object(filters: Any) -> None:
    assert "object" in rejected(filters)


@pytest.mark.parametrize("op", ["AND", "OR", "NOT"])
@pytest.mark.parametrize("value", [None, {}, {"peer_id": "a"}, "x", 1])
def test_logical_value_must_be_array(op: str, value: Any) -> None:
    assert "array" in rejected({op: value})


@pytest.mark.parametrize("op", ["AND", "OR", "NOT"])
@pytest.mark.parametrize("element", ["x", 1, None, ["a"]])
def test_logical_elements_must_be_objects(op: str, element: Any) -> None:
    rejected({op: [element]})


def test_entries_are_anded() -> None:
    out = sql({"peer_id": "alice", "session_id": "s1"})
    assert out == "messages.peer_name = 'alice' AND messages.session_name = 's1'"


def test_and_or() -> None:
    out = sql({"AND": [{"session_id": "chat-1"}, {"created_at": {"gte": "2024-01-01"}}]})
    assert "messages.session_name = 'chat-1' AND messages.created_at >=" in out
    assert sql({"OR": [{"peer_id": "alice"}, {"peer_id": "bob"}]}) == (
        "messages.peer_name = 'alice' OR messages.peer_name = 'bob'"
    )


def test_logical_keys_combine_with_fields() -> None:
    out = sql({"peer_id": "a", "OR": [{"session_id": "s1"}, {"session_id": "s2"}]})
    assert out.startswith("messages.peer_name = 'a' AND (")
    assert " OR " in out


def test_not_is_null_safe_and_of_negations() -> None:
    out = sql({"NOT": [{"session_id": "s-123"}, {"level": "explicit"}]}, CONCLUSION_FILTERS)
    assert out == (
        "NOT coalesce(conclusions.session_name = 's-123', false) "
        "AND NOT coalesce(conclusions.level = 'explicit', false)"
    )


def test_not_of_match_all_matches_nothing() -> None:
    assert sql({"NOT": [{}]}) == "false"
    assert sql({"NOT": [{"peer_id": "*"}]}) == "false"


def test_depth_limit() -> None:
    for op in ("AND", "OR", "NOT"):
        assert build_filter(nested(5, {"peer_id": "x"}, op), MESSAGE_FILTERS) is not None
        detail = rejected(nested(6, {"peer_id": "x"}, op))
        assert detail == "Filter nesting exceeds maximum depth of 5"
    assert "maximum depth" in rejected(nested(5, {"AND": []}))
    mixed = {"AND": [{"OR": [{"NOT": [{"AND": [{"OR": [{"NOT": [{"peer_id": "x"}]}]}]}]}]}]}
    assert "maximum depth" in rejected(mixed)


# --- plain field values (BEHAVIOUR 10.3) ----------------------------------------------------


def test_scalar_equality_and_null() -> None:
    assert sql({"peer_id": "alice"}) == "messages.peer_name = 'alice'"
    assert sql({"token_count": 5}) == "messages.token_count = 5"
    assert sql({"session_id": None}, CONCLUSION_FILTERS) == "conclusions.session_name IS NULL"
    assert sql({"is_active": False}, SESSION_FILTERS) == "sessions.is_active = false"


def test_public_keys_map_to_columns() -> None:
    assert sql({"id": "w"}, WORKSPACE_FILTERS) == "workspaces.name = 'w'"
    assert sql({"id": "p"}, PEER_FILTERS) == "peers.name = 'p'"
    assert sql({"workspace_id": "w"}, PEER_FILTERS) == "peers.workspace_name = 'w'"
    assert sql({"id": "s"}, SESSION_FILTERS) == "sessions.name = 's'"
    assert sql({"observer_id": "a"}, CONCLUSION_FILTERS) == "conclusions.observer = 'a'"
    assert sql({"observed": "b"}, CONCLUSION_FILTERS) == "conclusions.observed = 'b'"
    assert sql({"session_name": "s"}, CONCLUSION_FILTERS) == "conclusions.session_name = 's'"
    assert sql({"metadata": {"a": 1}}, CONCLUSION_FILTERS).startswith(
        "conclusions.internal_metadata @> "
    )


def test_bare_array_is_in() -> None:
    assert sql({"peer_id": ["alice", "bob"]}) == "messages.peer_name IN ('alice', 'bob')"
    assert sql({"peer_id": {"in": ["alice", "bob"]}}) == sql({"peer_id": ["alice", "bob"]})
    assert sql({"peer_id": []}) == "false"
    assert sql({"peer_id": {"in": []}}) == "false"
    assert sql({"token_count": [1, "2"]}) == "messages.token_count IN (1, 2)"


def test_operators() -> None:
    out = sql({"token_count": {"gt": 1, "gte": "2", "lt": 10.5, "lte": 9}})
    assert out == (
        "messages.token_count > 1 AND messages.token_count >= 2 "
        "AND messages.token_count < 10.5 AND messages.token_count <= 9"
    )
    assert sql({"peer_id": {"gt": "b"}}) == "messages.peer_name > 'b'"


def test_big_integers_are_exact() -> None:
    out = sql({"token_count": {"lt": "123456789012345678901234567890"}})
    assert out == "messages.token_count < 123456789012345678901234567890"


def test_ne_is_null_safe() -> None:
    assert sql({"session_id": {"ne": "s"}}, CONCLUSION_FILTERS) == (
        "conclusions.session_name IS DISTINCT FROM 's'"
    )
    assert sql({"session_id": {"ne": None}}, CONCLUSION_FILTERS) == (
        "conclusions.session_name IS NOT NULL"
    )


@pytest.mark.parametrize("op", ["contains", "icontains"])
def test_contains_is_case_insensitive_and_escaped(op: str) -> None:
    out = sql({"content": {op: "50%_a\\b"}}, CONCLUSION_FILTERS)
    assert out.startswith("conclusions.content ILIKE ")
    assert "50\\%%\\_a\\\\b" in out  # % and _ and \ escaped (%% is the compiler's quoting)
    assert out.endswith("ESCAPE '\\'")


def test_datetime_forms() -> None:
    cases = {
        "2024-01-01": "2024-01-01 00:00:00+00:00",
        "2024-01-01T10:20:30": "2024-01-01 10:20:30+00:00",
        "2024-01-01 10:20:30.123456": "2024-01-01 10:20:30.123456+00:00",
        "2024-01-01T10:20:30Z": "2024-01-01 10:20:30+00:00",
        "2024-01-01T10:20:30+02:00": "2024-01-01 08:20:30+00:00",
    }
    for text, rendered in cases.items():
        assert sql({"created_at": {"gte": text}}) == f"messages.created_at >= '{rendered}'"


def test_enum_and_bool() -> None:
    assert sql({"level": {"in": ["deductive", "inductive"]}}, CONCLUSION_FILTERS) == (
        "conclusions.level IN ('deductive', 'inductive')"
    )
    assert sql({"is_active": {"ne": True}}, SESSION_FILTERS) == (
        "sessions.is_active IS DISTINCT FROM true"
    )


@pytest.mark.parametrize(
    ("spec", "filters", "needle"),
    [
        # object without operator keys / unknown operators
        (MESSAGE_FILTERS, {"peer_id": {}}, "without an operator"),
        (MESSAGE_FILTERS, {"peer_id": {"equals": "a"}}, "without an operator"),
        (MESSAGE_FILTERS, {"peer_id": {"in": ["a"], "eq": "a"}}, "Unknown operator 'eq'"),
        (MESSAGE_FILTERS, {"peer_id": {"gt": "a", "$gt": "a"}}, "Unknown operator"),
        # null only with ne
        (MESSAGE_FILTERS, {"peer_id": {"gt": None}}, "null"),
        (MESSAGE_FILTERS, {"peer_id": {"in": None}}, "null"),
        (MESSAGE_FILTERS, {"peer_id": {"contains": None}}, "null"),
        (MESSAGE_FILTERS, {"peer_id": {"in": ["a", None]}}, "null"),
        (MESSAGE_FILTERS, {"peer_id": ["a", None]}, "null"),
        # in needs an array
        (MESSAGE_FILTERS, {"peer_id": {"in": "a"}}, "array"),
        # substring operators only on text
        (MESSAGE_FILTERS, {"token_count": {"contains": "1"}}, "not supported"),
        (MESSAGE_FILTERS, {"created_at": {"icontains": "2024"}}, "not supported"),
        (SESSION_FILTERS, {"is_active": {"contains": "t"}}, "not supported"),
        (CONCLUSION_FILTERS, {"level": {"contains": "exp"}}, "not supported"),
        (SESSION_FILTERS, {"is_active": {"gt": False}}, "not supported"),
        (MESSAGE_FILTERS, {"peer_id": {"contains": 5}}, "string"),
        # text columns need strings
        (MESSAGE_FILTERS, {"peer_id": 5}, "expected a string"),
        (MESSAGE_FILTERS, {"peer_id": True}, "expected a string"),
        (MESSAGE_FILTERS, {"peer_id": ["a", 1]}, "expected a string"),
        (MESSAGE_FILTERS, {"peer_id": {"ne": 1}}, "expected a string"),
        (MESSAGE_FILTERS, {"peer_id": "a\x00b"}, "NUL"),
        (MESSAGE_FILTERS, {"peer_id": "\ud800"}, "Unicode"),
        # bool columns need JSON booleans
        (SESSION_FILTERS, {"is_active": "true"}, "true or false"),
        (SESSION_FILTERS, {"is_active": 1}, "true or false"),
        (SESSION_FILTERS, {"is_active": [True, "false"]}, "true or false"),
        # numeric columns take numbers or numeric strings, never booleans
        (MESSAGE_FILTERS, {"token_count": True}, "numeric"),
        (MESSAGE_FILTERS, {"token_count": "abc"}, "numeric"),
        (MESSAGE_FILTERS, {"token_count": "NaN"}, "numeric"),
        (MESSAGE_FILTERS, {"token_count": float("inf")}, "numeric"),
        (MESSAGE_FILTERS, {"token_count": {"gt": "1e99999"}}, "numeric"),
        (MESSAGE_FILTERS, {"token_count": {"gt": [1]}}, "numeric"),
        (MESSAGE_FILTERS, {"token_count": {"gt": {"a": 1}}}, "numeric"),
        # datetimes
        (MESSAGE_FILTERS, {"created_at": "yesterday"}, "Invalid datetime value"),
        (MESSAGE_FILTERS, {"created_at": {"gte": "2024-13-01"}}, "Invalid datetime value"),
        (MESSAGE_FILTERS, {"created_at": {"gte": 1700000000}}, "Invalid datetime value"),
        (MESSAGE_FILTERS, {"created_at": ["2024-01-01", "nope"]}, "Invalid datetime value"),
        (MESSAGE_FILTERS, {"created_at": "2024-01-01T00:00:00+25:00"}, "Invalid datetime value"),
        # enums
        (CONCLUSION_FILTERS, {"level": "opinion"}, "expected one of"),
        (CONCLUSION_FILTERS, {"level": {"in": ["explicit", "EXPLICIT"]}}, "expected one of"),
        (CONCLUSION_FILTERS, {"level": {"gt": "explicit"}}, "not supported"),
    ],
)
def test_invalid_field_values(spec: FilterSpec, filters: Any, needle: str) -> None:
    assert needle in rejected(filters, spec)


def test_operator_check_happens_even_for_wildcard_operand() -> None:
    assert "Unknown operator" in rejected({"peer_id": {"in": "*", "bogus": "*"}})
    assert "not supported" in rejected({"token_count": {"contains": "*"}})


# --- metadata (BEHAVIOUR 10.4) ---------------------------------------------------------------


def test_metadata_containment() -> None:
    out = sql({"peer_id": "alice", "metadata": {"type": "user"}})
    assert out == (
        "messages.peer_name = 'alice' AND "
        '(messages.metadata @> CAST(\'{"type": "user"}\' AS JSONB))'
    )
    out = sql({"metadata": {"tags": ["a", "b"], "nested": {"x": None}}})
    assert '@> CAST(\'{"tags": ["a", "b"]}\' AS JSONB)' in out
    assert '@> CAST(\'{"nested": {"x": null}}\' AS JSONB)' in out


def test_metadata_whole_object_contains_and_bare_array() -> None:
    assert sql({"metadata": {"contains": {"a": {"b": 1}}}}) == (
        'messages.metadata @> CAST(\'{"a": {"b": 1}}\' AS JSONB)'
    )
    assert sql({"metadata": ["a"]}) == "messages.metadata @> CAST('[\"a\"]' AS JSONB)"


def test_metadata_quotes_are_escaped_in_literals() -> None:
    assert "'{\"k\": \"it''s\"}'" in sql({"metadata": {"k": "it's"}})


def test_metadata_numeric_comparison_is_guarded() -> None:
    out = sql({"metadata": {"score": {"gte": 4, "lte": "5.5"}}})
    assert out.count("CASE WHEN") == 2
    assert "(messages.metadata ->> 'score') ~ '^[-+]?" in out
    assert "THEN CAST(messages.metadata ->> 'score' AS NUMERIC) END >= 4" in out
    assert "END <= 5.5" in out


def test_metadata_text_and_boolean_comparison() -> None:
    assert sql({"metadata": {"name": {"gt": "m"}}}) == "(messages.metadata ->> 'name') > 'm'"
    assert sql({"metadata": {"flag": {"ne": True}}}) == (
        "(messages.metadata ->> 'flag') IS DISTINCT FROM 'true'"
    )
    assert sql({"metadata": {"k": {"ne": None}}}) == "(messages.metadata ->> 'k') IS NOT NULL"


def test_metadata_in_compares_json_values() -> None:
    out = sql({"metadata": {"flag": {"in": [True, 1, "x", None]}}})
    assert out == (
        "(messages.metadata -> 'flag') IN (CAST('true' AS JSONB), CAST('1' AS JSONB), "
        "CAST('\"x\"' AS JSONB), CAST('null' AS JSONB))"
    )
    assert sql({"metadata": {"flag": {"in": []}}}) == "false"


def test_metadata_substring() -> None:
    out = sql({"metadata": {"note": {"contains": "A_b"}}})
    assert out.startswith("(messages.metadata ->> 'note') ILIKE '%%A\\_b%%'")


@pytest.mark.parametrize(
    ("filters", "needle"),
    [
        ({"metadata": "x"}, "must be an object"),
        ({"metadata": 5}, "must be an object"),
        ({"metadata": None}, "must be an object"),
        ({"metadata": True}, "must be an object"),
        ({"metadata": {"ne": {"a": 1}}}, "whole 'metadata' object"),
        ({"metadata": {"gt": 1}}, "whole 'metadata' object"),
        ({"metadata": {"in": [{"a": 1}]}}, "whole 'metadata' object"),
        ({"metadata": {"icontains": {"a": 1}}}, "whole 'metadata' object"),
        ({"metadata": {"contains": {"a": 1}, "b": 1}}, "mixes the operator form"),
        ({"metadata": {"contains": "a"}}, "object or an array"),
        ({"metadata": {"contains": 1}}, "object or an array"),
        ({"metadata": {"k": {"gt": 1, "foo": 2}}}, "Unknown operator 'foo'"),
        ({"metadata": {"k": {"gt": None}}}, "null"),
        ({"metadata": {"k": {"gt": [1]}}}, "string, number or boolean"),
        ({"metadata": {"k": {"lt": {"a": 1}}}}, "string, number or boolean"),
        ({"metadata": {"k": {"in": "a"}}}, "array"),
        ({"metadata": {"k": {"contains": 1}}}, "string"),
        ({"metadata": {"k": "a\x00"}}, "NUL"),
        ({"metadata": {"a\x00": 1}}, "NUL"),
        ({"metadata": {"k": float("nan")}}, "finite"),
        ({"metadata": {"k": {"in": [float("inf")]}}}, "finite"),
        ({"metadata": {"contains": {"k": [1, float("nan")]}}}, "finite"),
    ],
)
def test_invalid_metadata(filters: Any, needle: str) -> None:
    assert needle in rejected(filters)


def test_metadata_operator_names_cannot_be_keys() -> None:
    # {"in": ...} at the top of metadata is the operator form, not a key named "in".
    rejected({"metadata": {"in": ["x"]}})


# --- everything valid compiles ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "filters"),
    [
        (MESSAGE_FILTERS, {"peer_id": "alice", "metadata": {"type": "user"}}),
        (MESSAGE_FILTERS, {"OR": [{"peer_id": "alice"}, {"NOT": [{"session_id": "s"}]}]}),
        (MESSAGE_FILTERS, {"metadata": {"score": {"gte": 4, "lte": 5}, "status": "active"}}),
        (MESSAGE_FILTERS, {"created_at": {"gte": "2024-01-01", "lt": "2024-02-01T00:00:00Z"}}),
        (MESSAGE_FILTERS, {"token_count": {"ne": "7", "in": [1, 2.5, "3"]}}),
        (SESSION_FILTERS, {"is_active": True, "id": {"icontains": "chat"}}),
        (PEER_FILTERS, {"NOT": [{"id": ["a", "b"]}, {"metadata": {"role": {"ne": "bot"}}}]}),
        (WORKSPACE_FILTERS, {"id": {"gte": "a", "lt": "n"}, "created_at": None}),
        (CONCLUSION_FILTERS, {"observer": "a", "observed_id": "b", "level": "explicit"}),
        (CONCLUSION_FILTERS, {"times_derived": {"gte": 2}, "content": {"contains": "x"}}),
        (CONCLUSION_FILTERS, {"metadata": {"message_ids": ["m1"]}}),
        (CONCLUSION_FILTERS, nested(4, {"NOT": [{"id": "x"}]})),
    ],
)
def test_valid_filters_compile(spec: FilterSpec, filters: dict[str, Any]) -> None:
    sql(filters, spec)


def test_invalid_filter_is_invalid() -> None:
    assert issubclass(InvalidFilter, Invalid)
    with pytest.raises(InvalidFilter):
        build_filter({"nope": 1}, MESSAGE_FILTERS)
