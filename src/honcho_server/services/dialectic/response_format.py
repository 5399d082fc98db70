"""The chat ``response_format``: a conservative JSON Schema subset (BEHAVIOUR §18.3). Pure.

Accepted: root ``type: object``; primitive types; objects with ``properties``/``required``;
arrays with ``items``; ``enum`` of strings, integers, booleans and null; ``anyOf``/``oneOf``
(a ``null`` member makes a property optional); ``type`` lists; ``default``,
``description``; non-recursive ``$ref`` into the root's ``$defs``/``definitions``. Boolean
``additionalProperties`` is ignored; constraint keywords (``minItems``, ``maxLength``, …)
are hints for the model, not checked. Refused: ``allOf``, ``not``, ``if``/``then``/``else``,
``patternProperties``, a schema-valued ``additionalProperties``, recursive references,
more than 20 levels of nesting or 500 schema nodes.

:func:`check_response_format` refuses what is outside the subset (422); :func:`problems`
lists how a value departs from an accepted schema (structure only).
"""

from __future__ import annotations

from typing import Any

from ...errors import Invalid

MAX_DEPTH = 20
MAX_NODES = 500
TYPES = ("string", "number", "integer", "boolean", "null", "object", "array")
_REFUSED = ("allOf", "not", "if", "then", "else", "patternProperties")
_REF_PREFIXES = ("#/$defs/", "#/definitions/")

Schema = dict[str, Any]


class UnsupportedSchema(ValueError):
    pass


def check_response_format(schema: Schema) -> None:
    """422 ``Invalid response_format: …`` unless ``schema`` is in the supported subset."""
    try:
        _Checker(schema).check()
    except UnsupportedSchema as exc:
        raise Invalid(f"Invalid response_format: {exc}") from exc


class _Checker:
    def __init__(self, root: Schema) -> None:
        self.root = root
        self.nodes = 0

    def check(self) -> None:
        if self.root.get("type") != "object":
            raise UnsupportedSchema("the root schema must have type 'object'")
        self.node(self.root, "#", depth=1, refs=())

    def node(self, node: Any, path: str, *, depth: int, refs: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            raise UnsupportedSchema(f"{path} must be a schema object")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise UnsupportedSchema(f"the schema has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise UnsupportedSchema(f"the schema nests deeper than {MAX_DEPTH} levels")
        for keyword in _REFUSED:
            if keyword in node:
                raise UnsupportedSchema(f"{path}: '{keyword}' is not supported")
        extra = node.get("additionalProperties")
        if extra is not None and not isinstance(extra, bool):
            raise UnsupportedSchema(
                f"{path}: a schema-valued additionalProperties is not supported"
            )
        if "$ref" in node:
            self.ref(node["$ref"], path, depth=depth, refs=refs)
        self.types(node, path)
        if "enum" in node:
            _check_enum(node["enum"], path)
        properties = node.get("properties")
        if properties is not None:
            if not isinstance(properties, dict):
                raise UnsupportedSchema(f"{path}.properties must be an object")
            for name, child in properties.items():
                self.node(child, f"{path}.properties.{name}", depth=depth + 1, refs=refs)
        required = node.get("required")
        if required is not None and not (
            isinstance(required, list) and all(isinstance(r, str) for r in required)
        ):
            raise UnsupportedSchema(f"{path}.required must be a list of property names")
        if "items" in node:
            self.node(node["items"], f"{path}.items", depth=depth + 1, refs=refs)
        for keyword in ("anyOf", "oneOf"):
            if keyword in node:
                members = node[keyword]
                if not isinstance(members, list) or not members:
                    raise UnsupportedSchema(f"{path}.{keyword} must be a non-empty list")
                for index, child in enumerate(members):
                    self.node(child, f"{path}.{keyword}[{index}]", depth=depth + 1, refs=refs)

    def types(self, node: Schema, path: str) -> None:
        if "type" not in node:
            return
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not kinds or any(kind not in TYPES for kind in kinds):
            raise UnsupportedSchema(f"{path}: unsupported type {node['type']!r}")

    def ref(self, ref: Any, path: str, *, depth: int, refs: tuple[str, ...]) -> None:
        if ref in refs:
            raise UnsupportedSchema(f"{path}: recursive $ref {ref!r} is not supported")
        target = resolve_ref(self.root, ref)
        if target is None:
            raise UnsupportedSchema(f"{path}: $ref {ref!r} does not point into $defs")
        self.node(target, ref, depth=depth + 1, refs=(*refs, ref))


def _check_enum(values: Any, path: str) -> None:
    if not isinstance(values, list) or not values:
        raise UnsupportedSchema(f"{path}.enum must be a non-empty list")
    for value in values:
        if isinstance(value, float) or not isinstance(value, str | int | bool | type(None)):
            raise UnsupportedSchema(
                f"{path}.enum values must be strings, integers, booleans or null"
            )


def resolve_ref(root: Schema, ref: Any) -> Schema | None:
    if not isinstance(ref, str):
        return None
    for prefix in _REF_PREFIXES:
        if ref.startswith(prefix):
            table = root.get(prefix[2:-1])
            target = table.get(ref[len(prefix) :]) if isinstance(table, dict) else None
            return target if isinstance(target, dict) else None
    return None


# ---- conformance ----------------------------------------------------------------------------


def problems(schema: Schema, value: Any) -> list[str]:
    """How ``value`` departs from ``schema`` (an accepted one): empty when it conforms."""
    found: list[str] = []
    _conform(schema, schema, value, "$", found)
    return found


def _conform(root: Schema, node: Schema, value: Any, path: str, found: list[str]) -> None:
    if "$ref" in node:
        target = resolve_ref(root, node["$ref"])
        if target is not None:
            _conform(root, target, value, path, found)
    for keyword in ("anyOf", "oneOf"):
        members = node.get(keyword)
        fitting = isinstance(members, list) and any(
            _fits(root, m, value, path) for m in members if isinstance(m, dict)
        )
        if isinstance(members, list) and members and not fitting:
            found.append(f"{path}: matches none of the {keyword} alternatives")
            return
    if "enum" in node and not any(_same(value, option) for option in node["enum"]):
        found.append(f"{path}: must be one of {node['enum']!r}")
        return
    if "type" in node:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not any(_is_type(value, kind) for kind in kinds):
            found.append(f"{path}: must be of type {' or '.join(kinds)}")
            return
    if isinstance(value, dict):
        properties = node.get("properties") or {}
        for name in node.get("required") or []:
            if name not in value and not _accepts_null(root, properties.get(name)):
                found.append(f"{path}: missing required property {name!r}")
        for name, child in properties.items():
            if name in value and isinstance(child, dict):
                _conform(root, child, value[name], f"{path}.{name}", found)
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            _conform(root, node["items"], item, f"{path}[{index}]", found)


def _fits(root: Schema, node: Schema, value: Any, path: str) -> bool:
    trial: list[str] = []
    _conform(root, node, value, path, trial)
    return not trial


def _accepts_null(root: Schema, node: Any) -> bool:
    return isinstance(node, dict) and _fits(root, node, None, "$")


def _same(value: Any, option: Any) -> bool:
    if _is_type(value, "integer") and _is_type(option, "integer"):
        return bool(value == option)
    return type(value) is type(option) and bool(value == option)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return False
